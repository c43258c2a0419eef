"""Console area: returns (being built)."""

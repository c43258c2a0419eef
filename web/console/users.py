"""Console area: users (being built)."""

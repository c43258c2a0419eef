"""Console area: packing (being built)."""

"""Console area: stores (being built)."""

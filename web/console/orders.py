"""Console area: orders (being built)."""

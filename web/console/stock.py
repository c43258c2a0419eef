"""Console area: stock (being built)."""

"""Console area: exceptions (being built)."""

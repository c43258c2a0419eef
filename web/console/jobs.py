"""Console area: jobs (being built)."""

"""Console area: settings (being built)."""

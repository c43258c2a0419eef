"""Connectors: one folder per outside system (settings, HTTP client, pure mappers, status tables)."""

"""Contract tests every Storefront implementation passes (the real connectors and a test platform)."""

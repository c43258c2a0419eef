"""The write verbs of the test shop (filled by the write-back concern)."""

from __future__ import annotations


class TestShopWrites:
    """What Waybill writes back about an order."""

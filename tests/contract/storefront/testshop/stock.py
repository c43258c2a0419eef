"""The stock verbs of the test shop (filled by the stock concern)."""

from __future__ import annotations


class TestShopStock:
    """Stock levels read and written, stock events."""

"""Catalog and stock: the stock verbs of a storefront (see the package docstring)."""

from __future__ import annotations

from typing import Protocol


class StockVerbs(Protocol):
    """The catalog, stock levels read and written (written / observed / refused), and the
    stock a platform event reports."""

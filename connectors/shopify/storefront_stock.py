"""The stock verbs of the shopify storefront (see connectors/storefront/stock.py)."""

from __future__ import annotations

from connectors.storefront.access import StoreAccess


class ShopifyStockVerbs:
    access: StoreAccess

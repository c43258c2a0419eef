"""The stock verbs of the woocommerce storefront (see connectors/storefront/stock.py)."""

from __future__ import annotations

from connectors.storefront.access import StoreAccess


class WooStockVerbs:
    access: StoreAccess

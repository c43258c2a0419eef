"""The orders verbs of the shopify storefront (see connectors/storefront/orders.py)."""

from __future__ import annotations

from connectors.storefront.access import StoreAccess


class ShopifyOrdersVerbs:
    access: StoreAccess

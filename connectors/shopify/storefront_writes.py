"""The writes verbs of the shopify storefront (see connectors/storefront/writes.py)."""

from __future__ import annotations

from connectors.storefront.access import StoreAccess


class ShopifyWritesVerbs:
    access: StoreAccess

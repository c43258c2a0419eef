"""The orders verbs of the woocommerce storefront (see connectors/storefront/orders.py)."""

from __future__ import annotations

from connectors.storefront.access import StoreAccess


class WooOrdersVerbs:
    access: StoreAccess

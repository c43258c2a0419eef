"""The writes verbs of the woocommerce storefront (see connectors/storefront/writes.py)."""

from __future__ import annotations

from connectors.storefront.access import StoreAccess


class WooWritesVerbs:
    access: StoreAccess

"""The woocommerce storefront: every Storefront verb for woocommerce stores (see connectors/storefront)."""

from __future__ import annotations

from connectors.storefront import register
from connectors.storefront.access import StoreAccess
from connectors.woocommerce.storefront_orders import WooOrdersVerbs
from connectors.woocommerce.storefront_stock import WooStockVerbs
from connectors.woocommerce.storefront_writes import WooWritesVerbs

PLATFORM = "woocommerce"


class WooStorefront(WooOrdersVerbs, WooStockVerbs, WooWritesVerbs):
    platform = PLATFORM

    def __init__(self, access: StoreAccess) -> None:
        self.access = access


register(PLATFORM, WooStorefront)

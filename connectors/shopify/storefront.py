"""The shopify storefront: every Storefront verb for shopify stores (see connectors/storefront)."""

from __future__ import annotations

from connectors.shopify.storefront_orders import ShopifyOrdersVerbs
from connectors.shopify.storefront_stock import ShopifyStockVerbs
from connectors.shopify.storefront_writes import ShopifyWritesVerbs
from connectors.storefront import register
from connectors.storefront.access import StoreAccess

PLATFORM = "shopify"


class ShopifyStorefront(ShopifyOrdersVerbs, ShopifyStockVerbs, ShopifyWritesVerbs):
    platform = PLATFORM

    def __init__(self, access: StoreAccess) -> None:
        self.access = access


register(PLATFORM, ShopifyStorefront)

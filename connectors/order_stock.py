"""When a storefront took an order's units off its own stock level, per platform.

Shopify takes them when the order is created; WooCommerce only when it is paid (or put
on hold), and gives them back on cancel. The stock ledger needs that time to know
whether the level it last wrote or read already counted the order. Flows call
:func:`stock_taken` with the platform's name and never see how each platform says it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.shopify import inventory as shopify_stock
from connectors.woocommerce import inventory as woo_stock
from core.inventory import StockTaken
from core.orders import Order

Reader = Callable[[Mapping[str, Any], Order], StockTaken]

READERS: dict[str, Reader] = {
    "shopify": shopify_stock.stock_taken,
    "woocommerce": woo_stock.stock_taken,
}


def stock_taken(platform: str, payload: Mapping[str, Any] | None, order: Order) -> StockTaken | None:
    """What the order's payload says about the channel's own stock; ``None``: not known.

    Without a payload (an order trashed, whose body is only its id) or for a platform
    without a reader, nothing is known and the caller leaves the channel's level alone.
    """
    reader = READERS.get(str(platform))
    if payload is None or reader is None:
        return None
    return reader(payload, order)

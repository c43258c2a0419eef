"""When a storefront took an order's units off its own stock level.

Shopify takes them when the order is created; WooCommerce only when it is paid (or put
on hold), and gives them back on cancel. The stock ledger needs that time to know
whether the level it last wrote or read already counted the order. Each storefront reads
it from its order payload (``Storefront.stock_taken``); flows call :func:`stock_taken`
with the store's platform and never see how each platform says it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.storefront import StoreAccess, storefront_for
from core.inventory import StockTaken
from core.orders import Order


def stock_taken(platform: str, payload: Mapping[str, Any] | None, order: Order) -> StockTaken | None:
    """What the order's payload says about the channel's own stock; ``None``: not known.

    Without a payload (an order trashed, whose body is only its id) or for a platform
    without a storefront, nothing is known and the caller leaves the channel's level alone.
    Reading a payload needs no credentials: the storefront is built without any.
    """
    if payload is None:
        return None
    try:
        reader = storefront_for(StoreAccess(store_id=0, platform=str(platform), domain="", credentials={}))
    except LookupError:
        return None
    return reader.stock_taken(payload, order)

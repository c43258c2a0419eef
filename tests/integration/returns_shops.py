"""The merchants the returns interfaces (API, CLI, portal) are tested with: ``north`` with
order #1001 (two mugs, one tee) delivered two days ago, and ``south`` with an order of its
own (a cap), the other tenant whose returns must look unknown. The clock stands four days
after shipping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.test_shipping_api import add_order, canonical, merchant
from tests.integration.test_tracking_desk import T0, add_shipment

NORTH_LINES = [("MUG-12OZ", 2), ("TEE-BLK-M", 1)]


def delivered(rt: Any, account: int, store: int, order_id: int) -> int:
    """Ship ``order_id`` in one parcel delivered two days after T0: the parcel's id."""
    return add_shipment(
        rt, account, store, order_id, delivery_state="delivered", delivered_at=T0 + timedelta(days=2)
    )


def north_and_south(
    rt: Any, south_number: str = "2001", south_data: dict[str, Any] | None = None, ship_south: bool = True
) -> dict[str, Any]:
    """Both merchants and their orders: ``account``, ``order``, ``parcel`` and ``headers`` are
    north's; ``south_order`` and ``south_headers`` south's (its order is ``south_data`` when given,
    else one cap; shipped and delivered unless ``ship_south`` is false)."""
    north, north_store, headers = merchant(rt, "north")
    south, south_store, south_headers = merchant(rt, "south")
    order = add_order(rt, north, north_store, "1001", canonical("1001", NORTH_LINES), "fulfilled")
    south_order = add_order(
        rt,
        south,
        south_store,
        south_number,
        south_data or canonical(south_number, [("CAP-RED", 1)]),
        "fulfilled",
    )
    parcel = delivered(rt, north, north_store, order)
    if ship_south:
        delivered(rt, south, south_store, south_order)
    rt.now = lambda: T0 + timedelta(days=4)
    return {
        "account": north,
        "order": order,
        "parcel": parcel,
        "headers": headers,
        "south_order": south_order,
        "south_headers": south_headers,
    }

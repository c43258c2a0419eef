"""Webhook bodies for the returns topics."""

from __future__ import annotations

from typing import Any

from sandbox.shopify.ids import gid
from sandbox.shopify.store import Return, ShopData


def return_(shop: ShopData, ret: Return) -> dict[str, Any]:
    """returns/request and returns/approve body."""
    return {
        "id": ret.id,
        "admin_graphql_api_id": gid("Return", ret.id),
        "status": ret.status.lower(),
        "order": {"id": ret.order_id, "admin_graphql_api_id": gid("Order", ret.order_id)},
        "total_return_line_items": sum(line.quantity for line in ret.lines),
        "name": ret.name,
        "return_line_items": [
            {
                "id": line.id,
                "admin_graphql_api_id": gid("ReturnLineItem", line.id),
                "fulfillment_line_item": {
                    "id": line.fulfillment_line_id,
                    "admin_graphql_api_id": gid("FulfillmentLineItem", line.fulfillment_line_id),
                },
                "quantity": line.quantity,
                "return_reason": line.reason.lower(),
                "return_reason_note": line.reason_note,
                "customer_note": line.customer_note,
            }
            for line in ret.lines
        ],
        "return_shipping_fees": [],
        "exchange_line_items": [],
        "total_exchange_line_items": 0,
    }


def return_decline(shop: ShopData, ret: Return) -> dict[str, Any]:
    """returns/decline body."""
    return {
        "id": ret.id,
        "admin_graphql_api_id": gid("Return", ret.id),
        "status": "declined",
        "order": {"id": ret.order_id, "admin_graphql_api_id": gid("Order", ret.order_id)},
        "decline": dict(ret.decline or {"reason": "other", "note": None}),
    }


def return_close(shop: ShopData, ret: Return) -> dict[str, Any]:
    """returns/close body."""
    return {
        "id": ret.id,
        "admin_graphql_api_id": gid("Return", ret.id),
        "order_id": ret.order_id,
        "status": "closed",
    }

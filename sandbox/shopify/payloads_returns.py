"""Webhook bodies for the returns topics (``returns/request``, ``/approve``, ``/decline``,
``/cancel``, ``/close``), shaped like Shopify's samples (``../shared/reference/shopify/webhooks``).

request and approve carry the whole return (its line items by fulfilment line item, with the
order line each comes from, the reason in the webhook's lower-case words, the customer's
note); decline adds the decline; cancel and close carry only the ids and the status.
"""

from __future__ import annotations

from typing import Any

from sandbox.shopify.ids import gid
from sandbox.shopify.store import Return, ReturnLine, ShopData


def _line(shop: ShopData, line: ReturnLine) -> dict[str, Any]:
    found = shop.fulfillment_line(line.fulfillment_line_id)
    line_item_id = found[1].line_item_id if found is not None else None
    return {
        "id": line.id,
        "admin_graphql_api_id": gid("ReturnLineItem", line.id),
        "fulfillment_line_item": {
            "id": line.fulfillment_line_id,
            "admin_graphql_api_id": gid("FulfillmentLineItem", line.fulfillment_line_id),
            "line_item": {"id": line_item_id, "admin_graphql_api_id": gid("LineItem", line_item_id)}
            if line_item_id is not None
            else None,
        },
        "quantity": line.quantity,
        "return_reason": line.reason.lower(),
        "return_reason_note": line.reason_note,
        "customer_note": line.customer_note,
    }


def return_(shop: ShopData, ret: Return) -> dict[str, Any]:
    """returns/request and returns/approve body."""
    return {
        "id": ret.id,
        "admin_graphql_api_id": gid("Return", ret.id),
        "status": ret.status.lower(),
        "order": {"id": ret.order_id, "admin_graphql_api_id": gid("Order", ret.order_id)},
        "total_return_line_items": sum(line.quantity for line in ret.lines),
        "name": ret.name,
        "return_line_items": [_line(shop, line) for line in ret.lines],
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
        # Webhook bodies spell enums in lower case (the GraphQL ReturnDeclineReason in upper).
        "decline": {
            "reason": str((ret.decline or {}).get("reason") or "OTHER").lower(),
            "note": (ret.decline or {}).get("note"),
        },
    }


def _ids_and_status(ret: Return, status: str) -> dict[str, Any]:
    return {
        "id": ret.id,
        "admin_graphql_api_id": gid("Return", ret.id),
        "order_id": ret.order_id,
        "status": status,
    }


def return_close(shop: ShopData, ret: Return) -> dict[str, Any]:
    """returns/close body."""
    return _ids_and_status(ret, "closed")


def return_cancel(shop: ShopData, ret: Return) -> dict[str, Any]:
    """returns/cancel body."""
    return _ids_and_status(ret, "canceled")

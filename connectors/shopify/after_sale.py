"""Shopify after the parcel left: tracking events on a fulfilment, returns, refunds.

Each write has a lookup for the ledger's recovery after a lost answer: a tracking event is
found on its fulfilment by status and time, a return by the marker its line notes carry,
a refund by the marker in its note (``refundCreate`` also takes the ledger key as its
idempotency key). Nothing is restocked: Waybill's ledger owns stock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.errors import Rejected
from connectors.readers.ids import gid_tail
from connectors.shopify.client import ShopifyClient
from connectors.shopify.fulfillment import checked_payload, gid_of, nodes_of, numeric_id, order_gid
from connectors.storefront.writes import (
    RefundRequest,
    ReturnReason,
    ReturnRequest,
    TrackingStatus,
    TrackingUpdate,
    Written,
    marker,
)

EVENT_STATUS = {
    TrackingStatus.label_printed: "LABEL_PRINTED",
    TrackingStatus.confirmed: "CONFIRMED",
    TrackingStatus.picked_up: "CARRIER_PICKED_UP",
    TrackingStatus.in_transit: "IN_TRANSIT",
    TrackingStatus.out_for_delivery: "OUT_FOR_DELIVERY",
    TrackingStatus.attempted_delivery: "ATTEMPTED_DELIVERY",
    TrackingStatus.delayed: "DELAYED",
    TrackingStatus.ready_for_pickup: "READY_FOR_PICKUP",
    TrackingStatus.delivered: "DELIVERED",
    TrackingStatus.failure: "FAILURE",
}
RETURN_REASON = {
    ReturnReason.unwanted: "UNWANTED",
    ReturnReason.defective: "DEFECTIVE",
    ReturnReason.wrong_item: "WRONG_ITEM",
    ReturnReason.not_as_described: "NOT_AS_DESCRIBED",
    ReturnReason.size_too_small: "SIZE_TOO_SMALL",
    ReturnReason.size_too_large: "SIZE_TOO_LARGE",
    ReturnReason.other: "OTHER",
}
REFUNDABLE_KINDS = frozenset({"SALE", "CAPTURE"})


def _utc(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _same_time(text: object, when: datetime) -> bool:
    try:
        seen = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return False
    return seen == when


def post_event(client: ShopifyClient, update: TrackingUpdate) -> Written:
    """``fulfillmentEventCreate`` on the parcel's fulfilment."""
    event: dict[str, Any] = {
        "fulfillmentId": gid_of("Fulfillment", update.fulfilment_ref),
        "status": EVENT_STATUS[update.status],
        "happenedAt": _utc(update.happened_at),
    }
    if update.estimated_delivery_at is not None:
        event["estimatedDeliveryAt"] = _utc(update.estimated_delivery_at)
    if update.message:
        event["message"] = update.message
    place = update.place
    if place is not None:
        fields = {
            "city": place.city,
            "province": place.province,
            "country": place.country,
            "zip": place.postal_code,
        }
        event.update({k: v for k, v in fields.items() if v})
    data = client.execute("fulfillment_event_create", {"fulfillmentEvent": event})
    payload = checked_payload(data, "fulfillmentEventCreate", "userErrors")
    created = payload.get("fulfillmentEvent")
    if not isinstance(created, Mapping) or not created.get("id"):
        raise Rejected("shopify fulfillmentEventCreate: no event in the answer")
    return Written(str(created["id"]), {"status": event["status"]})


def find_event(client: ShopifyClient, update: TrackingUpdate) -> Written | None:
    """The fulfilment's event with this status and time, if it was posted already."""
    data = client.execute("fulfillment_events", {"id": gid_of("Fulfillment", update.fulfilment_ref)})
    fulfillment = data.get("fulfillment")
    if not isinstance(fulfillment, Mapping):
        raise Rejected(f"shopify tracking event: fulfilment {update.fulfilment_ref} does not exist")
    status = EVENT_STATUS[update.status]
    for node in nodes_of(fulfillment.get("events")):
        if node.get("status") == status and _same_time(node.get("happenedAt"), update.happened_at):
            return Written(str(node["id"]), {"status": status, "recovered": True})
    return None


def open_return(client: ShopifyClient, order_id: str, request: ReturnRequest) -> Written:
    """``returnCreate`` for the request's lines, each taken from the order's fulfilled line items."""
    order = _order(client, "order_returns", order_id)
    available = _fulfilled_items(order)
    tag = marker(request.key)
    rows: list[dict[str, Any]] = []
    for line in request.lines:
        wanted = line.quantity
        for item_id, quantity in available.get(numeric_id(line.line_id), []):
            take = min(wanted, quantity)
            if take <= 0:
                continue
            rows.append(
                {
                    "fulfillmentLineItemId": item_id,
                    "quantity": take,
                    "returnReason": RETURN_REASON[line.reason],
                    "returnReasonNote": f"{line.note} {tag}".strip()[:255],
                }
            )
            wanted -= take
        if wanted > 0:
            raise Rejected(f"shopify return: line {line.line_id} has not {line.quantity} unit(s) fulfilled")
    variables = {
        "returnInput": {
            "orderId": order_gid(order_id),
            "returnLineItems": rows,
            "notifyCustomer": request.notify,
        }
    }
    payload = checked_payload(client.execute("return_create", variables), "returnCreate", "userErrors")
    opened = payload.get("return")
    if not isinstance(opened, Mapping) or not opened.get("id"):
        raise Rejected("shopify returnCreate: no return in the answer")
    return Written(gid_tail(str(opened["id"])), {"name": opened.get("name"), "status": opened.get("status")})


def find_return(client: ShopifyClient, order_id: str, key: str) -> Written | None:
    """The order's return whose line notes carry the marker of ``key``."""
    tag = marker(key)
    order = _order(client, "order_returns", order_id)
    for node in nodes_of(order.get("returns")):
        if any(
            tag in str(item.get("returnReasonNote") or "") for item in nodes_of(node.get("returnLineItems"))
        ):
            return Written(
                gid_tail(str(node["id"])), {"name": node.get("name"), "status": node.get("status")}
            )
    return None


def refund(client: ShopifyClient, order_id: str, request: RefundRequest, notify: bool) -> Written:
    """``refundCreate`` (idempotent on the ledger key) without restocking; the money goes back
    through the order's first successful payment when ``money_back``."""
    total = request.total()
    refund_input: dict[str, Any] = {
        "orderId": order_gid(order_id),
        "note": f"{request.note} {marker(request.key)}".strip(),
        "notify": notify,
        "currency": total.currency,
        "refundLineItems": [
            {
                "lineItemId": gid_of("LineItem", line.line_id),
                "quantity": line.quantity,
                "restockType": "NO_RESTOCK",
            }
            for line in request.lines
        ],
    }
    if request.shipping is not None:
        refund_input["shipping"] = {"amount": str(request.shipping.amount)}
    if request.money_back:
        refund_input["transactions"] = [_refund_transaction(client, order_id, str(total.amount))]
    variables = {"input": refund_input, "idempotencyKey": request.key}
    payload = checked_payload(client.execute("refund_create", variables), "refundCreate", "userErrors")
    made = payload.get("refund")
    if not isinstance(made, Mapping) or not made.get("id"):
        raise Rejected("shopify refundCreate: no refund in the answer")
    return Written(str(made["id"]), {"amount": str(total.amount), "currency": total.currency})


def find_refund(client: ShopifyClient, order_id: str, key: str) -> Written | None:
    """The order's refund whose note carries the marker of ``key``."""
    tag = marker(key)
    for node in _order(client, "order_refunds", order_id).get("refunds") or []:
        if isinstance(node, Mapping) and tag in str(node.get("note") or ""):
            money = ((node.get("totalRefundedSet") or {}).get("shopMoney")) or {}
            detail = {"amount": money.get("amount"), "currency": money.get("currencyCode"), "recovered": True}
            return Written(str(node["id"]), detail)
    return None


def _refund_transaction(client: ShopifyClient, order_id: str, amount: str) -> dict[str, Any]:
    order = _order(client, "order_refunds", order_id)
    for tx in order.get("transactions") or []:
        if isinstance(tx, Mapping) and tx.get("kind") in REFUNDABLE_KINDS and tx.get("status") == "SUCCESS":
            return {
                "orderId": order_gid(order_id),
                "parentId": str(tx["id"]),
                "kind": "REFUND",
                "gateway": str(tx.get("gateway") or ""),
                "amount": amount,
            }
    raise Rejected(f"shopify refund: order {order_id} has no successful payment to refund")


def _order(client: ShopifyClient, document: str, order_id: str) -> Mapping[str, Any]:
    order = client.execute(document, {"id": order_gid(order_id)}).get("order")
    if not isinstance(order, Mapping):
        raise Rejected(f"shopify: order {order_id} does not exist")
    return order


def _fulfilled_items(order: Mapping[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """Line item number -> [(fulfilment line item gid, quantity)] over the live fulfilments."""
    found: dict[str, list[tuple[str, int]]] = {}
    for fulfillment in order.get("fulfillments") or []:
        if not isinstance(fulfillment, Mapping) or fulfillment.get("status") in (
            "CANCELLED",
            "ERROR",
            "FAILURE",
        ):
            continue
        for item in nodes_of(fulfillment.get("fulfillmentLineItems")):
            line = numeric_id(str((item.get("lineItem") or {}).get("id") or ""))
            found.setdefault(line, []).append((str(item["id"]), int(item.get("quantity") or 0)))
    return found

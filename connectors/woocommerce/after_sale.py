"""WooCommerce after the parcel left: tracking events, returns, refunds.

WooCommerce has neither fulfilment events nor a return object. A tracking event is kept on
the parcel's item in the Shipment Tracking meta (``waybill_status`` and when it happened)
with, when the buyer is told, a customer note; a return is an order note. A refund is
``POST orders/<id>/refunds`` with its lines and ``api_restock: false`` (Waybill's ledger
owns stock). Each carries the ledger key's marker (note text, refund reason) so that a
retry after a lost answer finds it instead of writing it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.errors import Rejected
from connectors.storefront.writes import RefundRequest, ReturnRequest, TrackingUpdate, Written, marker
from connectors.woocommerce.client import WooClient
from connectors.woocommerce.fulfillment import TRACKING_META, add_note, items_of, note_with, tracking_meta

STATUS_KEY = "waybill_status"
STATUS_AT_KEY = "waybill_status_at"
ESTIMATE_KEY = "waybill_estimated_delivery"


def _event_text(update: TrackingUpdate) -> str:
    words = str(update.status).replace("_", " ")
    text = f"Your parcel {update.tracking_number} is {words}"
    if update.place is not None and update.place.city:
        text += f" ({update.place.city})"
    return f"{text}. {update.message}" if update.message else f"{text}."


def _event_key(update: TrackingUpdate) -> str:
    return f"{update.tracking_number}:{update.status}:{int(update.happened_at.timestamp())}"


def post_event(client: WooClient, order_id: str, update: TrackingUpdate) -> Written:
    """Mark the parcel's tracking item with the event; add a customer note when ``notify``."""
    order = client.get(f"orders/{order_id}")
    entry = tracking_meta(order)
    items = items_of(entry)
    item = next((i for i in items if str(i.get("tracking_number")) == update.tracking_number), None)
    if item is None or entry is None:
        raise Rejected(f"woocommerce tracking event: order {order_id} has no parcel {update.tracking_number}")
    stamp = str(int(update.happened_at.timestamp()))
    if item.get(STATUS_KEY) != str(update.status) or item.get(STATUS_AT_KEY) != stamp:
        item[STATUS_KEY], item[STATUS_AT_KEY] = str(update.status), stamp
        if update.estimated_delivery_at is not None:
            item[ESTIMATE_KEY] = str(int(update.estimated_delivery_at.timestamp()))
        meta: dict[str, Any] = {"key": TRACKING_META, "value": items}
        if entry.get("id") is not None:
            meta["id"] = entry["id"]
        client.put(f"orders/{order_id}", {"meta_data": [meta]})
    ref = str(item.get("tracking_id") or update.tracking_number)
    if not update.notify:
        return Written(ref, {"status": str(update.status)})
    tag = marker(f"event:{_event_key(update)}")
    note = note_with(client, order_id, tag)
    if note is None:
        note = add_note(client, order_id, f"{_event_text(update)}\n{tag}", customer=True)
    return Written(ref, {"status": str(update.status), "note_id": note})


def find_event(client: WooClient, order_id: str, update: TrackingUpdate) -> Written | None:
    """The event when the parcel's item carries it (and its note, when the buyer is told)."""
    items = items_of(tracking_meta(client.get(f"orders/{order_id}")))
    stamp = str(int(update.happened_at.timestamp()))
    for item in items:
        if str(item.get("tracking_number")) != update.tracking_number:
            continue
        if item.get(STATUS_KEY) != str(update.status) or item.get(STATUS_AT_KEY) != stamp:
            return None
        detail: dict[str, Any] = {"status": str(update.status), "recovered": True}
        if update.notify:
            note = note_with(client, order_id, marker(f"event:{_event_key(update)}"))
            if note is None:
                return None
            detail["note_id"] = note
        return Written(str(item.get("tracking_id") or update.tracking_number), detail)
    return None


def open_return(client: WooClient, order_id: str, request: ReturnRequest) -> Written:
    """An order note listing what comes back and why (a customer note when ``notify``)."""
    if not request.lines:
        raise Rejected("woocommerce return: no lines")
    rows = [
        f"- line {line.line_id} x{line.quantity}: {str(line.reason).replace('_', ' ')}"
        + (f" ({line.note})" if line.note else "")
        for line in request.lines
    ]
    text = "\n".join(["Return requested:", *rows, marker(request.key)])
    note = add_note(client, order_id, text, customer=request.notify)
    return Written(str(note), {"note_id": note})


def find_return(client: WooClient, order_id: str, key: str) -> Written | None:
    note = note_with(client, order_id, marker(key))
    return None if note is None else Written(str(note), {"note_id": note, "recovered": True})


def refund(client: WooClient, order_id: str, request: RefundRequest) -> Written:
    """``POST orders/<id>/refunds``: the lines with their amounts, never restocked."""
    total = request.total()
    body = {
        "amount": str(total.amount),
        "reason": f"{request.note} {marker(request.key)}".strip(),
        "line_items": [
            {"id": int(line.line_id), "quantity": line.quantity, "refund_total": str(line.amount.amount)}
            for line in request.lines
        ],
        "api_refund": request.money_back,
        "api_restock": False,
    }
    made = client.post(f"orders/{order_id}/refunds", body)
    if not isinstance(made, Mapping) or not isinstance(made.get("id"), int):
        raise Rejected(f"woocommerce orders/{order_id}/refunds: answer has no id")
    return Written(
        str(made["id"]), {"amount": str(made.get("amount") or total.amount), "currency": total.currency}
    )


def find_refund(client: WooClient, order_id: str, key: str) -> Written | None:
    tag = marker(key)
    for made in client.get(f"orders/{order_id}/refunds") or []:
        if isinstance(made, Mapping) and tag in str(made.get("reason") or ""):
            return Written(str(made["id"]), {"amount": str(made.get("amount")), "recovered": True})
    return None

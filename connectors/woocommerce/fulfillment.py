"""WooCommerce write-back: tracking in the Shipment Tracking extension's order meta, a note, the status.

WooCommerce has no fulfilment object. The Shipment Tracking extension keeps the parcels
of an order in the meta ``_wc_shipment_tracking_items`` (a list of items), and the buyer
hears about a parcel through a customer note. Nothing here is idempotent on WooCommerce's
side, so :func:`complete_with_tracking` reads what the order already carries and writes
only what is missing: a retry after a lost answer never adds a second item or note.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.errors import Rejected
from connectors.woocommerce.client import WooClient

TRACKING_META = "_wc_shipment_tracking_items"
# The extension's provider slugs for the carriers EasyPost buys from; any other carrier is
# stored as a custom provider with our tracking link.
PROVIDER_SLUGS = {"usps": "usps", "ups": "ups", "fedex": "fedex", "dhlexpress": "dhl-us"}


def add_note(client: WooClient, order_id: str, text: str, customer: bool = False) -> int:
    """Add an order note; ``customer`` makes it a customer note, which WooCommerce e-mails to the buyer."""
    note = client.post(f"orders/{order_id}/notes", {"note": text, "customer_note": customer})
    return _id_of(note, f"orders/{order_id}/notes")


def set_status(client: WooClient, order_id: str, status: str) -> None:
    """Move the order to ``status`` ("on-hold", "cancelled", "completed", ...)."""
    client.put(f"orders/{order_id}", {"status": status})


def tracking_note(company: str, number: str, url: str | None) -> str:
    """The customer note for one parcel; it carries the number, which is how a retry finds it."""
    text = f"Your order has shipped with {company}. Tracking number: {number}."
    return f"{text} Track it at {url}" if url else text


def tracking_item(company: str, number: str, url: str | None, shipped: datetime) -> dict[str, str]:
    """One item of the extension's list, in the shape it stores (dates as Unix-time strings)."""
    slug = PROVIDER_SLUGS.get(company.lower().replace(" ", ""), "")
    return {
        "tracking_provider": slug,
        "custom_tracking_provider": "" if slug else company,
        "custom_tracking_link": url or "",
        "tracking_number": number,
        "date_shipped": str(int(shipped.timestamp())),
        # The extension keys items by an md5; ours derives from the number so a retry matches.
        "tracking_id": hashlib.md5(number.encode(), usedforsecurity=False).hexdigest(),
    }


def complete_with_tracking(
    client: WooClient,
    order_id: str,
    tracking_company: str,
    tracking_number: str,
    tracking_url: str | None,
    notify: bool,
    *,
    complete: bool = True,
    shipped_at: datetime | None = None,
) -> str:
    """Store the parcel's tracking, set the order completed (``complete``: the last parcel) and
    add a note with the link (a customer note when ``notify``). Returns the note's id as a string.

    Reads the order and its notes first: a number already in the meta is not written again,
    a note already carrying the number is not added again.
    """
    if not tracking_number:
        raise Rejected("woocommerce tracking: no tracking number")
    order = client.get(f"orders/{order_id}")
    entry = tracking_meta(order)
    items = items_of(entry)
    update: dict[str, Any] = {}
    if not any(str(i.get("tracking_number")) == tracking_number for i in items):
        item = tracking_item(tracking_company, tracking_number, tracking_url, shipped_at or datetime.now(UTC))
        meta: dict[str, Any] = {"key": TRACKING_META, "value": [*items, item]}
        if entry is not None and entry.get("id") is not None:
            meta["id"] = entry["id"]
        update["meta_data"] = [meta]
    if complete and order.get("status") != "completed":
        update["status"] = "completed"
    if update:
        client.put(f"orders/{order_id}", update)
    existing = note_with(client, order_id, tracking_number)
    if existing is not None:
        return str(existing)
    text = tracking_note(tracking_company, tracking_number, tracking_url)
    return str(add_note(client, order_id, text, customer=notify))


def tracking_meta(order: Any) -> Mapping[str, Any] | None:
    if not isinstance(order, Mapping):
        raise Rejected("woocommerce order: answer is not an order")
    for entry in order.get("meta_data") or []:
        if isinstance(entry, Mapping) and entry.get("key") == TRACKING_META:
            return entry
    return None


def items_of(entry: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    value = entry.get("value") if entry is not None else None
    if isinstance(value, Mapping):  # PHP arrays with non-sequential keys arrive as objects
        value = list(value.values())
    return [dict(i) for i in value or [] if isinstance(i, Mapping)]


def note_with(client: WooClient, order_id: str, text: str) -> int | None:
    """The id of a note on the order that already carries ``text`` (a tracking number, a marker), if any."""
    notes = client.get(f"orders/{order_id}/notes")
    for note in notes or []:
        if isinstance(note, Mapping) and text in str(note.get("note") or ""):
            return _id_of(note, f"orders/{order_id}/notes")
    return None


def _id_of(body: Any, what: str) -> int:
    if not isinstance(body, Mapping) or not isinstance(body.get("id"), int):
        raise Rejected(f"woocommerce {what}: answer has no id")
    return int(body["id"])

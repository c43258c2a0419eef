"""WooCommerce returns: the store has no return object, so a return lives in order notes, and
a refund made in the admin is how the store says goods came back.

Each note carries a marker (``[waybill <key>]``) and is looked for before it is written, so
a retry after a lost answer writes nothing twice. A move of a return (approved, declined,
closed) is keyed by the move and the return's ref. A refund on the order whose reason carries
no marker was made by someone else (the merchant in the admin): it is read as a return that
is already ``refunded``, its lines from the refund's negative line items.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.errors import NotFound
from connectors.readers.ids import id_text
from connectors.storefront.orders import StoreReturn, StoreReturnLine, StoreReturnStatus
from connectors.storefront.writes import Written, marked_key, marker
from connectors.woocommerce.client import WooClient
from connectors.woocommerce.fulfillment import add_note, note_with
from core.money import Money

REFUNDED_ITEM_META = "_refunded_item_id"
DECLINE_TEXT = {
    "window": "the return window has ended",
    "return_period_ended": "the return window has ended",
    "final_sale": "the item was sold as final sale",
}


def move_key(move: str, return_ref: str) -> str:
    """The ledger-like key of one move of a return (``return-approved:<ref>``)."""
    return f"return-{move}:{return_ref}"


def write_note(client: WooClient, order_id: str, key: str, text: str, customer: bool) -> Written:
    """The note marked with ``key``: the one already there, else a new one."""
    tag = marker(key)
    found = note_with(client, order_id, tag)
    if found is not None:
        return Written(str(found), {"note_id": found, "recovered": True})
    note = add_note(client, order_id, f"{text}\n{tag}", customer=customer)
    return Written(str(note), {"note_id": note, "customer_note": customer})


def find_note(client: WooClient, order_id: str, key: str) -> Written | None:
    found = note_with(client, order_id, marker(key))
    return None if found is None else Written(str(found), {"note_id": found, "recovered": True})


def approve(client: WooClient, order_id: str, return_ref: str, notify: bool) -> Written:
    text = "Your return was approved." if notify else "Return approved."
    return write_note(client, order_id, move_key("approved", return_ref), text, notify)


def decline(client: WooClient, order_id: str, return_ref: str, reason: str, note: str) -> Written:
    """A customer note: the customer is told why (the rule's words, then the merchant's note)."""
    why = DECLINE_TEXT.get(reason, "it is outside the store's return policy")
    text = f"Your return request was declined: {why}." + (f" {note}" if note else "")
    return write_note(client, order_id, move_key("declined", return_ref), text, True)


def close(client: WooClient, order_id: str, return_ref: str) -> Written:
    return write_note(client, order_id, move_key("closed", return_ref), "Return closed.", False)


# -- reading: refunds made in the admin


def _amount(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def in_order(body: Mapping[str, Any]) -> tuple[StoreReturn, ...]:
    """The order body's refunds (``refunds: [{id, refund, total}]``: WooCommerce names the
    reason ``refund`` there, ``total`` negative) that carry no Waybill marker, each a
    ``refunded`` return without lines (``fetch`` reads them)."""
    order_id = id_text(body.get("id"))
    currency = str(body.get("currency") or "USD")
    found: list[StoreReturn] = []
    for refund in body.get("refunds") or []:
        reason = refund.get("refund") or refund.get("reason") if isinstance(refund, Mapping) else None
        if not isinstance(refund, Mapping) or marked_key(str(reason or "")):
            continue
        refund_id = id_text(refund.get("id"))
        total = _amount(refund.get("total"))
        if order_id is None or refund_id is None:
            continue
        money = Money(abs(total), currency) if total is not None else None
        found.append(StoreReturn(refund_id, order_id, StoreReturnStatus.refunded, (), money))
    return tuple(found)


def left_to_refund(order: object) -> Decimal:
    """What an order body's total leaves after its refunds (``refunds[].total`` is negative)."""
    if not isinstance(order, Mapping):
        return Decimal(0)
    total = _amount(order.get("total")) or Decimal(0)
    refunds = [_amount(r.get("total")) for r in order.get("refunds") or [] if isinstance(r, Mapping)]
    return total + sum((r for r in refunds if r is not None), Decimal(0))


def from_refund(order_id: str, refund: Mapping[str, Any], currency: str) -> StoreReturn:
    """A refund object (``orders/<id>/refunds/<id>``) as a ``refunded`` return with its lines."""
    reason = str(refund.get("reason") or "")
    lines = []
    for item in refund.get("line_items") or []:
        if not isinstance(item, Mapping):
            continue
        original = next(
            (m.get("value") for m in item.get("meta_data") or [] if m.get("key") == REFUNDED_ITEM_META), None
        )
        quantity = abs(int(item.get("quantity") or 0))
        if original is not None and quantity:
            lines.append(StoreReturnLine(str(original), quantity, "other", reason))
    amount = _amount(refund.get("amount"))
    return StoreReturn(
        platform_return_id=str(refund["id"]),
        order_id=order_id,
        status=StoreReturnStatus.refunded,
        lines=tuple(lines),
        refund_total=Money(amount, currency) if amount is not None else None,
        waybill_key=marked_key(reason),
    )


def fetch(client: WooClient, order_id: str, return_ref: str) -> StoreReturn | None:
    """The refund ``return_ref`` of the order read from the store; None when there is none
    (a return Waybill keeps in notes has no refund to read)."""
    if not str(return_ref).isdigit():
        return None
    try:
        refund = client.get(f"orders/{order_id}/refunds/{return_ref}")
    except NotFound:
        return None
    if not isinstance(refund, Mapping) or refund.get("id") is None:
        return None
    order = client.get(f"orders/{order_id}")
    currency = str(order.get("currency") or "USD") if isinstance(order, Mapping) else "USD"
    return from_refund(order_id, refund, currency)

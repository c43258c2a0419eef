"""Return requests from every door (portal, storefront, merchant), decided by policy at once.

``request_return`` lands once per ``key`` (a second call with the key answers the return
it made). The policy (``core.returns.check_request``) refuses a request with every rule
that refuses it (state ``refused``, ``decision.refusals``); an accepted one is
``approved``, its exchange units reserved in the stock ledger first (a SKU short refuses
it with ``exchange_out_of_stock``). Then the storefront is told (``write_back_return``)
and, when the merchant's labels are prepaid, the return label is bought
(``buy_return_label``). A merchant may ``override`` a refusal with a note, and ``close`` a
return that is not finished (its exchange units are released).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import OrderNotFound
from core.orders import FulfillmentStatus, Order
from core.returns import Ask, LineFacts, Refusal, Resolution, ReturnState, check_request
from db.models import Order as OrderRow
from db.models import Return, ReturnItem, Shipment
from sync.returns import units
from sync.returns.common import (
    OPEN,
    ReturnConflict,
    ReturnInputError,
    check_actor,
    check_text,
    get_return,
    items_of,
    move,
    note,
    soon,
)
from sync.returns.merchant import for_account

if TYPE_CHECKING:
    from sync.runtime import Runtime

SOURCES = ("portal", "storefront", "merchant")
MAX_ASKS = 100
COUNTED_OUT = (ReturnState.refused.value, ReturnState.closed.value)


@dataclass(frozen=True)
class Asked:
    """One line of a request, checked: what the customer asks, as the flow stores it."""

    line_id: str
    quantity: int
    reason: str
    note: str = ""
    photo_url: str | None = None
    exchange_sku: str | None = None
    exchange_price: Decimal | None = None
    photo: bool = False  # a photo was given (``photo_url`` says where, when it is known)


def asked(raw: Ask | Asked | Mapping[str, Any]) -> Asked:
    """A request line from a core ``Ask``, an :class:`Asked` or a mapping with those keys
    (``photo_url`` or ``photo``); :class:`ReturnInputError` says what is wrong."""
    get = raw.get if isinstance(raw, Mapping) else lambda name, default=None: getattr(raw, name, default)
    line_id, quantity = str(get("line_id", "") or "").strip(), get("quantity")
    if not line_id or len(line_id) > 40:
        raise ReturnInputError("each item needs its order line id")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= 10_000:
        raise ReturnInputError(f"the quantity of line {line_id} must be a whole number from 1")
    reason = str(get("reason", "") or "").strip()
    if not reason or len(reason) > 32:
        raise ReturnInputError(f"line {line_id} needs a reason")
    photo = get("photo_url") or (get("photo") if isinstance(get("photo"), str) else None)
    sku = str(get("exchange_sku") or "").strip() or None
    price = get("exchange_price")
    try:
        price = Decimal(str(price)) if price is not None else None
    except InvalidOperation as exc:
        raise ReturnInputError(f"the exchange price of line {line_id} is not an amount") from exc
    if price is not None and (not price.is_finite() or price < 0):
        raise ReturnInputError(f"the exchange price of line {line_id} is not an amount")
    if sku is not None and len(sku) > 128:
        raise ReturnInputError("an exchange SKU is at most 128 characters")
    text = check_text("the note", str(get("note", "") or ""), required=False)
    given = bool(photo) or get("photo") is True
    return Asked(line_id, quantity, reason, text, str(photo)[:2000] if photo else None, sku, price, given)


def request_return(
    rt: Runtime,
    *,
    account_id: int,
    order_id: int,
    asks: Sequence[Ask | Asked | Mapping[str, Any]],
    source: str,
    key: str,
    actor: str,
    resolution: str = "refund",
    platform_return_id: str | None = None,
) -> Return:
    """Record a request once per ``key`` and decide it by policy (see the module's docstring)."""
    if source not in SOURCES:
        raise ReturnInputError(f"source must be one of {', '.join(SOURCES)}")
    key = (key or "").strip()
    if not key or len(key) > 128:
        raise ReturnInputError("a request needs a key of 1 to 128 characters")
    actor = check_actor(actor)
    if resolution not in tuple(Resolution):
        raise ReturnInputError("resolution must be refund or exchange")
    if len(asks) > MAX_ASKS:
        raise ReturnInputError(f"at most {MAX_ASKS} items in one request")
    lines = [asked(a) for a in asks]
    exchanging = [line.exchange_sku is not None for line in lines]
    if resolution == Resolution.exchange and not all(exchanging):
        raise ReturnInputError("an exchange names the SKU wanted for every item")
    if resolution == Resolution.refund and any(exchanging):
        raise ReturnInputError("an exchange SKU was given: ask for an exchange")
    found = _by_key(rt, account_id, key)
    if found is not None:
        return found
    try:
        ret, stores = _record(
            rt, account_id, order_id, lines, source, key, actor, resolution, platform_return_id
        )
    except IntegrityError:  # the same key landed meanwhile: that request stands
        again = _by_key(rt, account_id, key)
        if again is None:
            raise
        return again
    units.push(rt, stores)
    after_decision(rt, ret)
    return ret


def after_decision(rt: Runtime, ret: Return) -> None:
    """The storefront told; the label bought when the merchant's labels are prepaid."""
    soon(rt, "write_back_return", ret.id, ret.state)
    if ret.state == ReturnState.approved:
        with rt.session() as s:
            prepaid = for_account(rt, s, ret.account_id).prepaid
        if prepaid:
            soon(rt, "buy_return_label", ret.id)


def _by_key(rt: Runtime, account_id: int, key: str) -> Return | None:
    with rt.session() as s:
        return s.scalar(select(Return).where(Return.account_id == account_id, Return.key == key))


def _record(
    rt: Runtime,
    account_id: int,
    order_id: int,
    lines: list[Asked],
    source: str,
    key: str,
    actor: str,
    resolution: str,
    platform_return_id: str | None,
) -> tuple[Return, set[int]]:
    with rt.session() as s:
        row = (
            s.get(OrderRow, order_id)
            if not isinstance(order_id, bool) and isinstance(order_id, int)
            else None
        )
        if row is None or row.account_id != account_id:
            raise OrderNotFound("no such order")
        order = Order.from_dict(row.data)
        facts = line_facts(s, row, order)
        location = rt.settings.inventory.location
        free = units.available(s, account_id, location, [a.exchange_sku for a in lines if a.exchange_sku])
        asks = [_core_ask(a, facts, free) for a in lines]
        delivered_at, fulfilled_at = sent_times(s, row)
        policy = for_account(rt, s, account_id).policy
        decision = check_request(policy, facts, asks, delivered_at, fulfilled_at, rt.now())
        ret = Return(
            account_id=account_id,
            store_id=row.store_id,
            order_id=row.id,
            key=key,
            source=source,
            state=ReturnState.requested.value,
            resolution=resolution,
            platform_return_id=platform_return_id,
            decision=decision.to_dict(),
        )
        s.add(ret)
        s.flush()
        items = [_item(ret, a, facts, order.currency) for a in lines]
        s.add_all(items)
        s.flush()
        count = sum(a.quantity for a in lines)
        note(
            s,
            ret,
            "return.requested",
            f"{count} unit(s) asked back ({source}, {resolution})",
            {"source": source},
            actor,
        )
        stores = _decide(s, ret, items, decision.refusals, location)
        return ret, stores


def _decide(
    s: Session, ret: Return, items: list[ReturnItem], refusals: Sequence[Refusal], location: str
) -> set[int]:
    """Refused with every rule, or approved with its exchange units reserved."""
    if not refusals:
        short, stores = units.reserve_exchange(s, ret, items, location)
        if not short:
            move(s, ret, ReturnState.approved, "within the return policy")
            return stores
        refusals = [Refusal("exchange_out_of_stock", f"{sku} is out of stock") for sku in short]
        ret.decision = {**ret.decision, "accepted": False, "refusals": [r.to_dict() for r in refusals]}
    rules = ", ".join(dict.fromkeys(r.rule for r in refusals))
    why = "; ".join(r.reason for r in refusals)
    move(s, ret, ReturnState.refused, f"{rules}: {why}", {"rules": [r.rule for r in refusals]})
    return set()


def _core_ask(a: Asked, facts: Mapping[str, LineFacts], free: Mapping[str, int]) -> Ask:
    in_stock = a.exchange_sku is None or free.get(a.exchange_sku, 0) >= a.quantity
    return Ask(
        line_id=a.line_id,
        quantity=a.quantity,
        reason=a.reason,
        note=a.note,
        photo=a.photo or a.photo_url is not None,
        exchange_sku=a.exchange_sku,
        exchange_price=a.exchange_price,
        exchange_in_stock=in_stock,
    )


def _item(ret: Return, a: Asked, facts: Mapping[str, LineFacts], currency: str) -> ReturnItem:
    line = facts.get(a.line_id)
    return ReturnItem(
        return_id=ret.id,
        account_id=ret.account_id,
        line_id=a.line_id,
        sku=line.sku if line is not None else None,
        title=(line.title if line is not None else "")[:255],
        quantity=a.quantity,
        unit_price=str(line.unit_price if line is not None else Decimal("0.00")),
        currency=currency[:3],
        reason=a.reason,
        note=a.note or None,
        photo_url=a.photo_url,
        exchange_sku=a.exchange_sku,
        exchange_price=str(a.exchange_price) if a.exchange_price is not None else None,
    )


def line_facts(s: Session, row: OrderRow, order: Order) -> dict[str, LineFacts]:
    """The order's lines as the policy sees them, with the units already in other returns."""
    returned = dict(
        s.execute(
            select(ReturnItem.line_id, func.sum(ReturnItem.quantity))
            .join(Return, Return.id == ReturnItem.return_id)
            .where(Return.order_id == row.id, Return.state.not_in(COUNTED_OUT))
            .group_by(ReturnItem.line_id)
        ).all()
    )
    tags = frozenset(order.tags)  # the canonical order carries the order's tags, not each product's
    return {
        line.line_id: LineFacts(
            line_id=line.line_id,
            sku=line.sku,
            title=line.title,
            quantity=line.quantity,
            returned=int(returned.get(line.line_id) or 0),
            unit_price=line.unit_price.amount,
            tags=tags,
        )
        for line in order.line_items
    }


def sent_times(s: Session, row: OrderRow) -> tuple[datetime | None, datetime | None]:
    """(delivered at, fulfilled at) of the order: its parcels' latest delivery and dispatch;
    an order fulfilled outside Waybill counts from its last change on the platform."""
    live = [
        sh for sh in s.scalars(select(Shipment).where(Shipment.order_id == row.id)) if sh.state != "voided"
    ]
    delivered = [sh.delivered_at for sh in live if sh.delivered_at is not None]
    shipped = [sh.shipped_at for sh in live if sh.shipped_at is not None]
    fulfilled = max(shipped, default=None)
    if fulfilled is None and row.fulfillment_status in (
        FulfillmentStatus.FULFILLED,
        FulfillmentStatus.PARTIAL,
    ):
        fulfilled = row.platform_updated_at
    return max(delivered, default=None), fulfilled


def override(rt: Runtime, account_id: int, return_id: int, actor: str, note_text: str) -> Return:
    """A merchant approves a refused return, with a note; the label and write-back follow."""
    actor, text = check_actor(actor), check_text("a note", note_text)
    with rt.session() as s:
        ret = get_return(s, account_id, return_id, lock=True)
        if ret.override is not None and ret.state != ReturnState.refused:
            return ret
        if ret.state != ReturnState.refused:
            raise ReturnConflict(f"return {return_id} is {ret.state}: only a refused return is overridden")
        items = items_of(s, ret.id)
        short, stores = units.reserve_exchange(s, ret, items, rt.settings.inventory.location)
        if short:
            raise ReturnConflict(f"the exchange cannot be reserved: {', '.join(short)} out of stock")
        ret.override = {"actor": actor, "note": text, "at": rt.now().isoformat()}
        move(
            s,
            ret,
            ReturnState.approved,
            f"overridden by {actor}: {text}",
            {"override": True},
            f"merchant:{actor}",
        )
    units.push(rt, stores)
    after_decision(rt, ret)
    return ret


def close(rt: Runtime, account_id: int, return_id: int, actor: str, reason: str) -> Return:
    """Close a return that is not finished (the merchant closes it, the customer cancels):
    exchange units released, the storefront told. Closing a closed return changes nothing."""
    actor, text = check_actor(actor), check_text("a reason", reason)
    with rt.session() as s:
        ret = get_return(s, account_id, return_id, lock=True)
        if ret.state == ReturnState.closed:
            return ret
        if ret.state not in OPEN and ret.state != ReturnState.refused:
            raise ReturnConflict(f"return {return_id} is {ret.state}: it is finished")
        stores = units.release_exchange(s, ret, items_of(s, ret.id), rt.settings.inventory.location)
        ret.hold_reason = None
        move(s, ret, ReturnState.closed, f"{text} ({actor})", None, f"merchant:{actor}")
    units.push(rt, stores)
    soon(rt, "write_back_return", ret.id, ret.state)
    return ret

"""The storefront's returns in: ``return_changed`` events and refunds made in the admin.

- A customer's request on the storefront (status ``requested``) becomes a return
  (``source`` storefront, key ``storefront:<store>:<return id>``: a redelivered event lands
  once) decided by policy; the approval or the decline goes back to the storefront
  (``write_back_return``). The lines come from the body, else from the store
  (``fetch_return``); a reason the policy does not list is ``other``.
- A return the merchant opened in the admin (``open``) is approved whatever the policy
  says (their act is the override, noted as such).
- A return declined, cancelled or closed on the storefront closes ours (exchange units
  released), unless it is finished, or closed because Waybill's refund processed it there
  (its refund claimed in the ledger: the refund job finishes the return).
- An event about Waybill's own write (its marker: ``waybill_key``) changes nothing; an end
  (declined, cancelled, closed) is followed whoever opened the return.
- A refund made in the admin without Waybill's marker (``returns_in_order`` of an order
  body) becomes a ``refunded`` return with that refund, no policy and no label: the
  money is already back.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.storefront import EventKind, reader_for
from connectors.storefront.orders import StoreReturn, StoreReturnLine, StoreReturnStatus
from core.orders import Order
from core.returns import ReturnState
from db.models import Effect, InboxEvent, Return, ReturnItem, Store, StoreState
from db.models import Order as OrderRow
from sync.intake import handles
from sync.returns import requests
from sync.returns.common import OPEN, move, note, soon
from sync.returns.merchant import for_account
from sync.storefronts import storefront

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.returns")
ENDED = (StoreReturnStatus.declined, StoreReturnStatus.canceled, StoreReturnStatus.closed)


def store_key(store_id: int, platform_return_id: str) -> str:
    return f"storefront:{store_id}:{platform_return_id}"[:128]


@handles(EventKind.return_changed)
def on_return_changed(rt: Runtime, event_id: int) -> str | None:
    """One storefront return event: recorded, closed, or ignored with the reason."""
    with rt.session() as s:
        event = s.get(InboxEvent, event_id)
        if event is None:
            return "the event is gone"
        store = s.get(Store, event.store_id) if event.store_id is not None else None
        if store is None or store.state is not StoreState.active:
            return "the store is not active"
        s.expunge(store)
        platform, body = str(event.platform), event.body
    found = reader_for(platform).read_return(json.loads(body))
    if found is None:
        return "no return in the event"
    return apply_store_return(rt, store, found, f"webhook:{platform}")


def _find(rt: Runtime, store: Store, sr: StoreReturn) -> tuple[int | None, Return | None]:
    with rt.session() as s:
        row = s.scalar(
            select(OrderRow).where(OrderRow.store_id == store.id, OrderRow.platform_order_id == sr.order_id)
        )
        if row is None:
            return None, None
        ret = s.scalar(
            select(Return).where(
                Return.account_id == store.account_id,
                (Return.platform_return_id == sr.platform_return_id)
                | (Return.key == store_key(store.id, sr.platform_return_id)),
            )
        )
        return row.id, ret


def apply_store_return(rt: Runtime, store: Store, sr: StoreReturn, actor: str) -> str:
    """What one storefront return means for ours (see the module's docstring)."""
    order_id, ret = _find(rt, store, sr)
    if order_id is None:
        return f"no order {sr.order_id} of ours"
    if sr.status not in ENDED and (
        sr.waybill_key is not None or (ret is not None and ret.source != "storefront")
    ):
        return "Waybill's own write"  # an end (cancelled, declined, closed) is followed whoever made it
    if ret is not None:
        return _follow(rt, ret.id, sr, actor)
    if sr.status == StoreReturnStatus.refunded:
        lines = sr.lines or _fetched_lines(rt, store, sr)
        return _admin_refund(rt, store, order_id, sr, tuple(lines), actor)
    if sr.status not in (StoreReturnStatus.requested, StoreReturnStatus.open):
        return f"a {sr.status} return we never had"
    lines = sr.lines or _fetched_lines(rt, store, sr)
    with rt.session() as s:
        known = set(for_account(rt, s, store.account_id).policy.reasons)
    # The storefront's own reasons (its form's words, "unknown" when the customer gave none)
    # that the merchant's policy does not list are "other".
    asks = [
        {
            "line_id": line.line_id,
            "quantity": line.quantity,
            "reason": line.reason if line.reason in known else "other",
            "note": line.note,
        }
        for line in lines
    ]
    made = requests.request_return(
        rt,
        account_id=store.account_id,
        order_id=order_id,
        asks=asks,
        source="storefront",
        key=store_key(store.id, sr.platform_return_id),
        actor=actor,
        platform_return_id=sr.platform_return_id,
    )
    if made.state == ReturnState.refused and sr.status == StoreReturnStatus.open:
        made = requests.override(
            rt, store.account_id, made.id, actor, "opened by the merchant on the storefront"
        )
    return f"return {made.id} {made.state}"


def _fetched_lines(rt: Runtime, store: Store, sr: StoreReturn) -> tuple[StoreReturnLine, ...]:
    found = storefront(rt, store).fetch_return(sr.order_id, sr.platform_return_id)
    return found.lines if found is not None else ()


def _refunding(s: Session, return_id: int) -> bool:
    """Whether Waybill's refund of the return was started (claimed in the effects ledger)."""
    return s.scalar(select(Effect.id).where(Effect.key == f"refund:{return_id}")) is not None


def _follow(rt: Runtime, return_id: int, sr: StoreReturn, actor: str) -> str:
    """A return we hold, changed on the storefront: ended there ends it here."""
    if sr.status not in ENDED:
        return f"return {return_id}: nothing to follow ({sr.status})"
    with rt.session() as s:
        ret = s.get(Return, return_id, with_for_update=True)
        assert ret is not None
        if ret.state not in OPEN:
            return f"return {return_id} is {ret.state}"
        if sr.status == StoreReturnStatus.closed and _refunding(s, return_id):
            # A storefront closes a return its refund processed: the echo of Waybill's own
            # refund, whose job finishes the return.
            return f"return {return_id}: closed by its refund"
        from sync.returns import units

        stores = units.release_exchange(
            s,
            ret,
            list(s.scalars(select(ReturnItem).where(ReturnItem.return_id == ret.id))),
            rt.settings.inventory.location,
        )
        ret.hold_reason = None
        move(s, ret, ReturnState.closed, f"{sr.status} on the storefront", None, actor)
    units.push(rt, stores)
    soon(rt, "write_back_return", return_id, "closed")
    return f"return {return_id} closed"


def _admin_refund(
    rt: Runtime, store: Store, order_id: int, sr: StoreReturn, lines: tuple[StoreReturnLine, ...], actor: str
) -> str:
    """A refund made in the store's admin: a return refunded already, no policy, no label."""

    key = store_key(store.id, sr.platform_return_id)
    with rt.session() as s:
        if (
            s.scalar(select(Return.id).where(Return.account_id == store.account_id, Return.key == key))
            is not None
        ):
            return "recorded already"
        row = s.get(OrderRow, order_id)
        assert row is not None
        total = sr.refund_total
        ret = Return(
            account_id=store.account_id,
            store_id=store.id,
            order_id=order_id,
            key=key,
            source="storefront",
            state=ReturnState.requested.value,
            platform_return_id=sr.platform_return_id,
            refund_ref=sr.platform_return_id,
            refund={"total": str(total.amount), "currency": total.currency} if total is not None else None,
            decision={"accepted": True, "refusals": [], "made_in_admin": True},
        )
        s.add(ret)
        s.flush()
        facts = requests.line_facts(s, row, Order.from_dict(row.data))
        for line in lines:
            fact = facts.get(line.line_id)
            s.add(
                ReturnItem(
                    return_id=ret.id,
                    account_id=ret.account_id,
                    line_id=line.line_id,
                    sku=fact.sku if fact else None,
                    title=(fact.title if fact else "")[:255],
                    quantity=line.quantity,
                    unit_price=str(fact.unit_price) if fact else "0.00",
                    currency=(total.currency if total else "")[:3],
                    reason=(line.reason or "other")[:32],
                    note=line.note or None,
                )
            )
        note(
            s, ret, "return.requested", "a refund made in the store's admin", {"source": "storefront"}, actor
        )
        move(s, ret, ReturnState.approved, "made in the store's admin", None, actor)
        amount = (
            f"{total.amount} {total.currency}" if total is not None else "an amount the store did not say"
        )
        move(
            s, ret, ReturnState.refunded, f"{amount} refunded in the store's admin", None, actor, at=rt.now()
        )
        return f"return {ret.id} refunded"


def refunds_in_order(rt: Runtime, store: Store, payload: Any) -> None:
    """The admin refunds an order body shows (no Waybill marker), each recorded once."""
    for sr in reader_for(str(store.platform)).returns_in_order(payload):
        if sr.waybill_key is None:
            log.info(
                "returns.admin_refund",
                store_id=store.id,
                outcome=apply_store_return(rt, store, sr, f"{store.platform}:order"),
            )

"""What people do with returns: list them by state, read one (items, decision, evidence,
timeline), and decide a held one (approve or reject, with a reason), like an order's review.

Another account's return is not found. A decision is taken once: the same decision again
answers the return as it is, another one is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.returns import ReturnState
from db.models import Return, ReturnItem
from db.timeline import entries
from sync.returns import units
from sync.returns.common import (
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

if TYPE_CHECKING:
    from sync.runtime import Runtime

MAX_LIST = 500


def summary(ret: Return) -> dict[str, Any]:
    """A return as the API, CLI and console show it (no personal data beyond the order's ids)."""
    return {
        "id": ret.id,
        "order_id": ret.order_id,
        "store_id": ret.store_id,
        "state": ret.state,
        "resolution": ret.resolution,
        "source": ret.source,
        "platform_return_id": ret.platform_return_id,
        "decision": ret.decision,
        "override": ret.override,
        "hold_reason": ret.hold_reason,
        "evidence": ret.evidence,
        "review": ret.review,
        "label": ret.label,
        "tracking_code": ret.tracking_code,
        "carrier": ret.carrier,
        "delivery_state": ret.delivery_state,
        "refund": ret.refund,
        "refund_ref": ret.refund_ref,
        "exchange_shipment_id": ret.exchange_shipment_id,
        "problem": ret.problem,
        "requested_at": _iso(ret.requested_at),
        "label_sent_at": _iso(ret.label_sent_at),
        "received_at": _iso(ret.received_at),
        "inspected_at": _iso(ret.inspected_at),
        "refunded_at": _iso(ret.refunded_at),
        "closed_at": _iso(ret.closed_at),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def item_summary(item: ReturnItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "line_id": item.line_id,
        "sku": item.sku,
        "title": item.title,
        "quantity": item.quantity,
        "unit_price": item.unit_price,
        "currency": item.currency,
        "reason": item.reason,
        "note": item.note,
        "exchange_sku": item.exchange_sku,
        "exchange_price": item.exchange_price,
        "condition": item.condition,
    }


def list_returns(
    rt: Runtime,
    account_id: int,
    state: str | None = None,
    held: bool | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The account's returns, newest first; ``state`` one of core.returns.ReturnState,
    ``held`` only those waiting for a person; ``before`` a return id: the next page after it."""
    if state is not None and state not in tuple(ReturnState):
        raise ReturnInputError(f"state must be one of {', '.join(ReturnState)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIST:
        raise ReturnInputError(f"limit must be from 1 to {MAX_LIST}")
    query = select(Return).where(Return.account_id == account_id)
    if state is not None:
        query = query.where(Return.state == state)
    if held is not None:
        query = query.where(Return.hold_reason.is_not(None) if held else Return.hold_reason.is_(None))
    if before is not None:
        query = query.where(Return.id < before)
    with rt.session() as s:
        return [summary(r) for r in s.scalars(query.order_by(Return.id.desc()).limit(limit))]


def show(rt: Runtime, account_id: int, return_id: int) -> dict[str, Any]:
    """One return with its items and the order's return timeline."""
    with rt.session() as s:
        ret = get_return(s, account_id, return_id)
        trail = [
            {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "reason": e.reason}
            for e in entries(s, account_id, f"order:{ret.order_id}")
            if e.action.startswith("return.") and (e.data or {}).get("return_id") == ret.id
        ]
        return {**summary(ret), "items": [item_summary(i) for i in items_of(s, ret.id)], "timeline": trail}


def approve(rt: Runtime, account_id: int, return_id: int, actor: str, reason: str) -> dict[str, Any]:
    """A person releases a held return: its refund (or exchange) goes out on its evidence."""
    return _decide(rt, account_id, return_id, actor, reason, "approve")


def reject(rt: Runtime, account_id: int, return_id: int, actor: str, reason: str) -> dict[str, Any]:
    """A person refuses a held return: no refund, the return is closed (exchange units released)."""
    return _decide(rt, account_id, return_id, actor, reason, "reject")


def _decide(
    rt: Runtime, account_id: int, return_id: int, actor: str, reason: str, decision: str
) -> dict[str, Any]:
    actor, reason = check_actor(actor), check_text("a reason", reason)
    stores: set[int] = set()
    with rt.session() as s:
        ret = get_return(s, account_id, return_id, lock=True)
        if ret.review is not None:
            if ret.review.get("decision") == decision:
                return summary(ret)
            raise ReturnConflict(f"return {return_id} was already decided ({ret.review.get('decision')})")
        if ret.hold_reason is None:
            raise ReturnConflict(f"return {return_id} is not held: nothing to {decision}")
        who = f"reviewer:{actor}"
        released = ret.hold_reason
        ret.review = {"reviewer": actor, "decision": decision, "reason": reason, "at": rt.now().isoformat()}
        ret.hold_reason = None
        if decision == "approve":
            note(s, ret, "return.review_approved", reason, {"released": released}, who)
        else:
            stores = units.release_exchange(s, ret, items_of(s, ret.id), rt.settings.inventory.location)
            move(s, ret, ReturnState.closed, f"rejected after review: {reason}", {"released": released}, who)
        result = summary(ret)
    units.push(rt, stores)
    soon(
        rt, "refund_return" if decision == "approve" else "write_back_return", return_id, f"review-{decision}"
    )
    return result

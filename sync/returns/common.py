"""What the returns flow shares: errors, loading a return inside its account, state moves
with their timeline entry, and the jobs it hands work to."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.returns import ReturnState, can_move
from db.models import Order as OrderRow
from db.models import Return, ReturnItem, Store, utcnow
from db.timeline import record
from sync.jobs import safe_job_id

if TYPE_CHECKING:
    from sync.runtime import Runtime

ACTOR = "returns"
MAX_TEXT = 1000
# When each state was reached, on the return's row.
STAMPS = {
    ReturnState.approved: "approved_at",
    ReturnState.label_sent: "label_sent_at",
    ReturnState.received: "received_at",
    ReturnState.inspected: "inspected_at",
    ReturnState.refunded: "refunded_at",
    ReturnState.exchanged: "refunded_at",
    ReturnState.closed: "closed_at",
}
OPEN = frozenset(
    {
        ReturnState.requested,
        ReturnState.approved,
        ReturnState.label_sent,
        ReturnState.in_transit,
        ReturnState.received,
        ReturnState.inspected,
    }
)


class ReturnNotFound(NotFound):
    """No such return in the caller's account (another account's is not found either)."""


class ReturnConflict(Conflict):
    """The return's state does not allow this now."""


class ReturnInputError(InvalidInput):
    """The input is refused: the message says why."""


def get_return(s: Session, account_id: int, return_id: int, lock: bool = False) -> Return:
    """The account's return ``return_id`` (locked when ``lock``), else :class:`ReturnNotFound`."""
    if isinstance(return_id, bool) or not isinstance(return_id, int):
        raise ReturnNotFound("no such return")
    row = s.get(Return, return_id, with_for_update=lock)
    if row is None or row.account_id != account_id:
        raise ReturnNotFound(f"no return {return_id}")
    return row


def items_of(s: Session, return_id: int) -> list[ReturnItem]:
    return list(
        s.scalars(select(ReturnItem).where(ReturnItem.return_id == return_id).order_by(ReturnItem.id))
    )


def order_of(s: Session, ret: Return) -> OrderRow:
    row = s.get(OrderRow, ret.order_id)
    assert row is not None  # a return is deleted with its order
    return row


def store_of(s: Session, ret: Return) -> Store:
    store = s.get(Store, ret.store_id)
    assert store is not None
    return store


def note(
    s: Session,
    ret: Return,
    action: str,
    reason: str | None,
    data: dict[str, Any] | None = None,
    actor: str = ACTOR,
) -> None:
    """A timeline entry on the return's order, naming the return."""
    text = reason[:MAX_TEXT] if reason else None
    record(
        s,
        ret.account_id,
        f"order:{ret.order_id}",
        actor[:100],
        action,
        text,
        {"return_id": ret.id, **(data or {})},
    )


def move(
    s: Session,
    ret: Return,
    state: ReturnState,
    reason: str | None,
    data: dict[str, Any] | None = None,
    actor: str = ACTOR,
    at: datetime | None = None,
) -> None:
    """The one way a return's state changes: checked against ``core.returns.MOVES``, stamped,
    and written on the order's timeline as ``return.<state>``."""
    if not can_move(ret.state, state):
        raise ReturnConflict(f"return {ret.id} is {ret.state}: it cannot become {state}")
    ret.state = state.value
    now = at or utcnow()
    stamp = STAMPS.get(state)
    if stamp is not None and getattr(ret, stamp) is None:
        setattr(ret, stamp, now)
    ret.updated_at = utcnow()
    note(s, ret, f"return.{state.value}", reason, data, actor)


def soon(rt: Runtime, name: str, return_id: int, why: str = "") -> None:
    """Enqueue job ``name`` for the return (one live job per return, job and reason)."""
    rt.enqueue(name, job_id=safe_job_id("ret", name, return_id, why), return_id=return_id)


def check_actor(actor: str | None) -> str:
    text = (actor or "").strip()
    if not text or len(text) > 80:
        raise ReturnInputError("say who acts (1 to 80 characters)")
    return text


def check_text(name: str, text: str | None, required: bool = True) -> str:
    value = (text or "").strip()
    if required and not value:
        raise ReturnInputError(f"{name} is required")
    if len(value) > MAX_TEXT:
        raise ReturnInputError(f"{name} is longer than {MAX_TEXT} characters")
    return value

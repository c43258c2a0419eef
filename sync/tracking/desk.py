"""The exception desk: delivery exceptions listed for people, acknowledged and resolved.

An exception is ``open`` when tracking finds a parcel that needs attention, ``acknowledged``
when someone has seen it, ``resolved`` when someone closed it with a note, and ``cleared``
when the parcel moved again or was delivered (tracking does that, not a person). Only an
open exception can be acknowledged; only an open or acknowledged one can be resolved:
anything else is a :class:`Conflict` that changes nothing. Each step a person takes is a
timeline entry on the order (``order:<id>``) naming the actor.

``account_id`` is the caller's account: another account's exception is not found. The
operator's CLI passes ``None`` (every account is its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.tracking import ExceptionKind
from db.models import DeliveryException, Shipment
from db.models import Order as OrderRow
from db.timeline import record
from sync.tracking.timeline import UNFINISHED

if TYPE_CHECKING:
    from sync.runtime import Runtime

STATES = ("open", "acknowledged", "resolved", "cleared")
FILTERS = ("unfinished", "all", *STATES)  # ?state= (unfinished: open or acknowledged)
KINDS = tuple(k.value for k in ExceptionKind)
MAX_NOTE = 2000  # characters in a note
MAX_ACTOR = 100  # the actor column's width
MAX_LIMIT = 500  # exceptions on one page
LARGEST_ID = 2**31 - 1  # ids are INTEGER columns: no exception has a larger one
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class ExceptionPage:
    exceptions: list[dict[str, Any]]
    next_after: int | None  # pass as ``after`` for the next page; None: this was the last

    def to_json(self) -> dict[str, Any]:
        return {"exceptions": self.exceptions, "next_after": self.next_after}


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def exception_json(row: DeliveryException, order_number: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "shipment_id": row.shipment_id,
        "order_id": row.order_id,
        "order_number": order_number,
        "kind": row.kind,
        "state": row.state,
        "reason": row.reason,
        "action": row.action,
        "data": row.data or {},
        "opened_at": row.opened_at.isoformat(),
        "acknowledged_at": _iso(row.acknowledged_at),
        "resolved_at": _iso(row.resolved_at),
        "cleared_at": _iso(row.cleared_at),
        "note": row.note,
        "actor": row.actor,
    }


def check_filters(state: str | None, kind: str | None, limit: int, after: int | None) -> None:
    """Refuse a filter that can name nothing (InvalidInput, naming the parameter)."""
    if state is not None and state not in FILTERS:
        raise InvalidInput(f"state must be one of: {', '.join(FILTERS)}")
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of: {', '.join(KINDS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if after is not None and after < 0:
        raise InvalidInput("after must be an exception id (a whole number)")


def list_exceptions(
    rt: Runtime,
    account_id: int | None,
    state: str | None = "unfinished",
    kind: str | None = None,
    limit: int = DEFAULT_LIMIT,
    after: int | None = None,
) -> ExceptionPage:
    """Exceptions oldest first (the order they ask for attention), ``limit`` at a time after
    the id ``after``. ``state`` None or ``unfinished``: open and acknowledged; ``all``: every state."""
    check_filters(state, kind, limit, after)
    query = select(DeliveryException, OrderRow.number).join(
        OrderRow, OrderRow.id == DeliveryException.order_id
    )
    if account_id is not None:
        query = query.where(DeliveryException.account_id == account_id)
    if state in (None, "unfinished"):
        query = query.where(DeliveryException.state.in_(UNFINISHED))
    elif state != "all":
        query = query.where(DeliveryException.state == state)
    if kind is not None:
        query = query.where(DeliveryException.kind == kind)
    if after is not None:  # clamped: a larger number would not fit the column's type
        query = query.where(DeliveryException.id > min(after, LARGEST_ID))
    query = query.order_by(DeliveryException.id).limit(limit + 1)
    with rt.session() as s:
        rows = [exception_json(row, number) for row, number in s.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return ExceptionPage(rows, rows[-1]["id"] if more else None)


def get_exception(rt: Runtime, account_id: int | None, exception_id: int) -> dict[str, Any]:
    with rt.session() as s:
        row = _owned(s, account_id, exception_id)
        return exception_json(row, _number(s, row))


def _owned(s: Session, account_id: int | None, exception_id: int) -> DeliveryException:
    row = s.get(DeliveryException, exception_id)
    if row is None or (account_id is not None and row.account_id != account_id):
        raise NotFound(f"no exception {exception_id}")
    return row


def _number(s: Session, row: DeliveryException) -> str | None:
    order = s.get(OrderRow, row.order_id)
    return order.number if order is not None else None


def _locked(s: Session, account_id: int | None, exception_id: int) -> DeliveryException:
    """The exception, read again under its shipment's row lock (tracking opens and clears
    exceptions under that lock, so a person and a scan never both change one)."""
    row = _owned(s, account_id, exception_id)
    s.get(Shipment, row.shipment_id, with_for_update=True)
    s.refresh(row, with_for_update=True)
    return row


def _actor(actor: str) -> str:
    text = (actor or "").strip()
    if not text:
        raise InvalidInput("actor is required: who acts on the exception")
    return text[:MAX_ACTOR]


def _note(note: str | None, required: bool) -> str | None:
    text = (note or "").strip()
    if not text:
        if required:
            raise InvalidInput("note is required: how the exception was resolved (text)")
        return None
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"note is longer than {MAX_NOTE} characters")
    return text


def _finished(row: DeliveryException) -> str:
    if row.state == "cleared":
        return f"exception {row.id} was cleared (the parcel moved again or was delivered)"
    who = f" by {row.actor}" if row.actor else ""
    return f"exception {row.id} is already {row.state}{who}"


def acknowledge(
    rt: Runtime, account_id: int | None, exception_id: int, actor: str, note: str | None = None
) -> dict[str, Any]:
    """open -> acknowledged (someone is on it); any other state is a Conflict."""
    who, text = _actor(actor), _note(note, required=False)
    with rt.session() as s:
        row = _locked(s, account_id, exception_id)
        if row.state != "open":
            raise Conflict(_finished(row))
        row.state, row.acknowledged_at, row.actor = "acknowledged", rt.now(), who
        if text is not None:
            row.note = text
        _record(s, row, who, "tracking.exception_acknowledged", text)
        s.flush()
        return exception_json(row, _number(s, row))


def resolve(rt: Runtime, account_id: int | None, exception_id: int, actor: str, note: str) -> dict[str, Any]:
    """open or acknowledged -> resolved, with the note saying how; otherwise a Conflict."""
    who, text = _actor(actor), _note(note, required=True)
    with rt.session() as s:
        row = _locked(s, account_id, exception_id)
        if row.state not in UNFINISHED:
            raise Conflict(_finished(row))
        row.state, row.resolved_at, row.actor, row.note = "resolved", rt.now(), who, text
        _record(s, row, who, "tracking.exception_resolved", text)
        s.flush()
        return exception_json(row, _number(s, row))


def _record(s: Session, row: DeliveryException, actor: str, action: str, note: str | None) -> None:
    data = {"exception_id": row.id, "shipment_id": row.shipment_id, "kind": row.kind}
    record(s, row.account_id, f"order:{row.order_id}", actor, action, note, data)

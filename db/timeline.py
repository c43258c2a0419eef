"""The timeline: who did what to an order or a store, and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, SessionTransaction

from db.models import TimelineEntry, utcnow

# One INSERT built once. Entries are kept on the session and written together just before
# its transaction commits (one statement for all of a transaction's entries, most of which
# write two to four), on its connection and without the unit of work (a third of an ORM
# insert's CPU). A read of the timeline in the same transaction calls ``write_pending`` first
# (``entries`` does), so it sees them; a rollback drops them with everything else.
_INSERT = insert(TimelineEntry)
_PENDING = "waybill_timeline_pending"


def record(
    s: Session,
    account_id: int | None,
    subject: str,
    actor: str,
    action: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Add an entry to ``subject``'s timeline in ``s``'s transaction (kept or rolled back with it)."""
    entry = {
        "account_id": account_id,
        "subject": subject,
        "actor": actor,
        "action": action,
        "reason": reason,
        "data": data or {},
        "at": utcnow(),
    }
    pending: list[dict[str, Any]] | None = s.info.get(_PENDING)
    if pending is None:
        s.info[_PENDING] = [entry]
    else:
        pending.append(entry)


def write_pending(s: Session) -> None:
    """Write the entries ``record`` keeps for ``s``'s transaction, in the order recorded."""
    pending: list[dict[str, Any]] | None = s.info.pop(_PENDING, None)
    if pending:
        s.connection().execute(_INSERT, pending[0] if len(pending) == 1 else pending)


def _drop_pending(s: Session, transaction: SessionTransaction) -> None:
    """A transaction that ends without ``before_commit`` (rolled back, closed) drops its
    entries. Only the outermost one: a flush's own inner transaction ends too (and no
    Waybill code uses savepoints)."""
    if transaction.parent is None:
        s.info.pop(_PENDING, None)


event.listen(Session, "before_commit", write_pending)
event.listen(Session, "after_transaction_end", _drop_pending)


def entries(s: Session, account_id: int | None, subject: str) -> list[TimelineEntry]:
    write_pending(s)
    query = select(TimelineEntry).where(TimelineEntry.subject == subject)
    query = query.where(TimelineEntry.account_id == account_id) if account_id is not None else query
    return list(s.scalars(query.order_by(TimelineEntry.at, TimelineEntry.id)))

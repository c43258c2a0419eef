"""The timeline: who did what to an order or a store, and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.models import TimelineEntry, utcnow

# One INSERT built once: an entry is written at once on the session's connection, inside its
# transaction, without the unit of work (a third of an ORM insert's CPU; nothing reads an
# entry back as an object in the transaction that writes it).
_INSERT = insert(TimelineEntry)


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
    s.connection().execute(
        _INSERT,
        {
            "account_id": account_id,
            "subject": subject,
            "actor": actor,
            "action": action,
            "reason": reason,
            "data": data or {},
            "at": utcnow(),
        },
    )


def entries(s: Session, account_id: int | None, subject: str) -> list[TimelineEntry]:
    query = select(TimelineEntry).where(TimelineEntry.subject == subject)
    query = query.where(TimelineEntry.account_id == account_id) if account_id is not None else query
    return list(s.scalars(query.order_by(TimelineEntry.at, TimelineEntry.id)))

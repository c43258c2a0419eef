"""The timeline: who did what to an order or a store, and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import TimelineEntry


def record(
    s: Session,
    account_id: int | None,
    subject: str,
    actor: str,
    action: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        account_id=account_id, subject=subject, actor=actor, action=action, reason=reason, data=data or {}
    )
    s.add(entry)
    return entry


def entries(s: Session, account_id: int | None, subject: str) -> list[TimelineEntry]:
    query = select(TimelineEntry).where(TimelineEntry.subject == subject)
    query = query.where(TimelineEntry.account_id == account_id) if account_id is not None else query
    return list(s.scalars(query.order_by(TimelineEntry.at, TimelineEntry.id)))

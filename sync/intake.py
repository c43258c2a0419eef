"""Inbox processing: each committed inbound event runs through its topic's handler.

Handlers are looked up in a dispatch table keyed by (platform, topic); a topic
with no handler is recorded as ignored, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from core.errors import Permanent
from db.models import DeadLetter, InboxEvent, InboxState, Platform, utcnow
from sync.jobs import job, safe_job_id

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.intake")

Handler = Callable[["Runtime", int], None]
HANDLERS: dict[tuple[Platform, str], Handler] = {}
SWEEP_BATCH = 500


def handles(platform: Platform, *topics: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for topic in topics:
            HANDLERS[(platform, topic)] = fn
        return fn

    return register


def inbox_job_id(event_id: int) -> str:
    return safe_job_id("inbox", event_id)


def enqueue_event(rt: Runtime, event_id: int) -> bool:
    return rt.enqueue("process_inbox_event", job_id=inbox_job_id(event_id), event_id=event_id)


def hand_off_event(rt: Runtime, event_id: int) -> None:
    """The web tier's cheap enqueue (see ``RedisJobQueue.hand_off``)."""
    hand_off_events(rt, [event_id])


def hand_off_events(rt: Runtime, event_ids: Sequence[int]) -> None:
    """:func:`hand_off_event` for several events in one Redis command."""
    rt.queue.hand_off_many([("process_inbox_event", {"event_id": i}, inbox_job_id(i)) for i in event_ids])


@job("process_inbox_event", queue="intake")
def process_inbox_event(rt: Runtime, event_id: int) -> str:
    """Run the event's handler once; a finished event is never processed again."""
    with rt.session() as s:
        event = s.get(InboxEvent, event_id)
        if event is None or event.state in (InboxState.done, InboxState.ignored):
            return "skipped"
        event.state = InboxState.processing
        event.attempts += 1
        handler = HANDLERS.get((event.platform, event.topic))
        if handler is None:
            _finish(event, InboxState.ignored, None)
            return "ignored"
    try:
        handler(rt, event_id)
    except Exception as exc:
        final = InboxState.failed if isinstance(exc, Permanent) else InboxState.pending
        with rt.session() as s:
            event = s.get(InboxEvent, event_id)
            if event is not None:
                event.state = final
                event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    with rt.session() as s:
        event = s.get(InboxEvent, event_id)
        if event is not None:
            _finish(event, InboxState.done, None)
    return "done"


def _finish(event: InboxEvent, state: InboxState, error: str | None) -> None:
    event.state = state
    event.last_error = error
    event.processed_at = utcnow()


@job("sweep_inbox", queue="intake")
def sweep_inbox(rt: Runtime) -> int:
    """Re-enqueue unfinished events that have no live job (e.g. Redis lost its queue)."""
    cutoff = utcnow() - timedelta(seconds=rt.settings.inbox.sweep_after_s)
    with rt.session() as s:
        ids = list(
            s.scalars(
                select(InboxEvent.id)
                .where(InboxEvent.state.in_([InboxState.pending, InboxState.processing]))
                .where(InboxEvent.received_at <= cutoff)
                .order_by(InboxEvent.id)
                .limit(SWEEP_BATCH)
            )
        )
        job_ids = [inbox_job_id(i) for i in ids]
        dead = set(
            s.scalars(
                select(DeadLetter.job_id).where(DeadLetter.job_id.in_(job_ids), DeadLetter.state == "dead")
            )
        )
    count = 0
    for event_id, job_id in zip(ids, job_ids, strict=True):
        if job_id not in dead and not rt.queue.is_live(job_id) and enqueue_event(rt, event_id):
            count += 1
    if count:
        log.info("inbox.swept", requeued=count)
    return count

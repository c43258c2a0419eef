"""Inbox processing: each committed inbound event runs through its topic's handler.

Handlers are looked up in a dispatch table keyed by the event's canonical kind (the
storefront says which kind a platform topic is; the carrier's tracker Events are kind
``tracker_changed``; the inbox row keeps the platform's topic); an event of no kind, or of a
kind with no handler, is recorded as ignored, never dropped silently, and so is an event
whose handler says why it did not act (its reason kept as the event's ``last_error``).

Before its handler runs, a storefront event's body is checked (:func:`screen`): a
JSON object, nested at most ``webhooks.max_depth`` levels, ids whole numbers within
64 bits, arrays and objects where the mappers expect them, and the platform's own
checks against the delivery's headers (``connectors.screening``). A body that fails
is refused as ``Permanent``: the event is marked failed with the reason and the job
goes to the dead-letter list at once, with no retries and nothing changed. A
``customers/redact`` or ``shop/redact`` triggered longer than
``webhooks.privacy_max_age_s`` before it was received is not acted on: the event is
marked ignored with the reason, logged, and noted on the store's timeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import structlog
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from connectors.screening import screen_webhook
from connectors.storefront import EventKind, event_kind
from core.errors import Permanent
from db.models import DeadLetter, InboxEvent, InboxState, Platform, Store, utcnow
from db.timeline import record
from sync.jobs import job, safe_job_id

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.intake")

# A handler returns None when it acted, or why it did not (the event is then marked ignored
# with that reason: e.g. a carrier Event about a parcel Waybill does not know).
Handler = Callable[["Runtime", int], "str | None"]
HANDLERS: dict[EventKind, Handler] = {}
SWEEP_BATCH = 500  # events read and checked per round of a sweep
FINISHED = (InboxState.done, InboxState.ignored)
SWEEP_BUDGET_S = 45.0  # one sweep stops starting rounds after this long (the interval is 60 s)


def handles(*kinds: EventKind) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of events of ``kinds``."""

    def register(fn: Handler) -> Handler:
        for kind in kinds:
            HANDLERS[kind] = fn
        return fn

    return register


def handler_for(platform: Platform | str, topic: str) -> Handler | None:
    """The handler of an event of ``platform`` called ``topic``; None when nothing acts on it."""
    kind = event_kind(str(platform), topic)
    return HANDLERS.get(kind) if kind is not None else None


# The event being processed and its store, as loaded (and marked processing) by
# ``process_inbox_event``: detached copies its handler reads instead of loading them again.
_HELD: ContextVar[tuple[InboxEvent, Store | None] | None] = ContextVar("waybill_inbox_held", default=None)


def held_event(event_id: int) -> tuple[InboxEvent, Store | None] | None:
    """Event ``event_id`` and its store when ``process_inbox_event`` is running it, else None."""
    held = _HELD.get()
    return held if held is not None and held[0].id == event_id else None


def inbox_job_id(event_id: int) -> str:
    return safe_job_id("inbox", event_id)


def enqueue_event(rt: Runtime, event_id: int) -> bool:
    return rt.enqueue("process_inbox_event", job_id=inbox_job_id(event_id), event_id=event_id)


def hand_off_events(
    rt: Runtime, event_ids: Sequence[int], accounts: Sequence[int | None] | None = None
) -> None:
    """The web tier's cheap enqueue of committed events, in one Redis command (see
    ``RedisJobQueue.hand_off_many``); ``accounts``: each event's merchant account, its
    partition key (fair scheduling, ``sync/queue.py``)."""
    keys = accounts if accounts is not None else [None] * len(event_ids)
    jobs = zip(event_ids, keys, strict=True)
    rt.queue.hand_off_many([("process_inbox_event", {"event_id": i}, inbox_job_id(i), k) for i, k in jobs])


# The claim and the finish of every event: built once, run on the session's connection
# (Core statements, no unit of work: most of an event's own cost before its handler).
_EVENTS = cast(Table, InboxEvent.__table__)
_CLAIM = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("event_id"), _EVENTS.c.state.not_in(FINISHED))
    .values(state=InboxState.processing, attempts=_EVENTS.c.attempts + 1)
    .returning(*_EVENTS.c)
)
_FINISH = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("event_id"))
    .values(state=bindparam("state"), last_error=bindparam("error"), processed_at=bindparam("at"))
)


def _claim(s: Session, event_id: int) -> InboxEvent | None:
    """Claim the event (state processing, one more attempt) and read it, in one statement; a
    finished event is not matched (None). The event comes back detached: read, not written."""
    row = s.connection().execute(_CLAIM, {"event_id": event_id}).first()
    return None if row is None else InboxEvent(**row._mapping)


def _set_finished(s: Session, event_id: int, state: InboxState, error: str | None) -> None:
    s.connection().execute(_FINISH, {"event_id": event_id, "state": state, "error": error, "at": utcnow()})


@job("process_inbox_event", queue="intake")
def process_inbox_event(rt: Runtime, event_id: int) -> str:
    """Run the event's handler once; a finished event is never processed again."""
    with rt.session() as s:
        event = _claim(s, event_id)
        if event is None:
            return "skipped"
        handler = handler_for(event.platform, event.topic)
        if handler is None:
            _set_finished(s, event_id, InboxState.ignored, None)
            return "ignored"
        platform, topic, body, headers = event.platform, event.topic, event.body, dict(event.headers or {})
        received_at, store_id, account_id = event.received_at, event.store_id, event.account_id
        store = s.get(Store, store_id) if store_id is not None else None
    held = _HELD.set((event, store))  # the handler's ``held_event``: no second load
    try:
        stale = screen(rt, platform, topic, body, headers, received_at)
        if stale is not None:
            _not_acted_on(rt, event_id, platform, topic, store_id, account_id, stale)
            return "stale"
        not_acted = handler(rt, event_id)
    except Exception as exc:
        final = InboxState.failed if isinstance(exc, Permanent) else InboxState.pending
        with rt.session() as s:
            event = s.get(InboxEvent, event_id)
            if event is not None:
                event.state = final
                event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        _HELD.reset(held)
    with rt.session() as s:  # one UPDATE, nothing loaded
        _set_finished(s, event_id, InboxState.ignored if not_acted else InboxState.done, not_acted or None)
    return "ignored" if not_acted else "done"


def screen(
    rt: Runtime,
    platform: Platform,
    topic: str,
    body: bytes,
    headers: Mapping[str, Any],
    received_at: datetime,
) -> str | None:
    """Check a storefront event before its handler runs (see the module's docstring).

    Raises ``MalformedPayload`` (``Permanent``) for a body to refuse; returns why the
    event must not be acted on (a stale privacy request), or None to go ahead."""
    if event_kind(str(platform), topic) is EventKind.order_polled:  # read by us, not sent to us
        return None
    settings = rt.settings.webhooks
    return screen_webhook(
        str(platform),
        topic,
        body,
        headers,
        received_at,
        max_depth=settings.max_depth,
        privacy_max_age_s=settings.privacy_max_age_s,
    )


def _not_acted_on(
    rt: Runtime,
    event_id: int,
    platform: Platform,
    topic: str,
    store_id: int | None,
    account_id: int | None,
    why: str,
) -> None:
    log.warning("inbox.not_acted_on", event_id=event_id, platform=str(platform), topic=topic, reason=why)
    with rt.session() as s:
        event = s.get(InboxEvent, event_id)
        if event is not None:
            _finish(event, InboxState.ignored, why)
        if store_id is not None:
            record(s, account_id, f"store:{store_id}", f"{platform}:{topic}", "webhook.not_acted_on", why)


def _finish(event: InboxEvent, state: InboxState, error: str | None) -> None:
    event.state = state
    event.last_error = error
    event.processed_at = utcnow()


@job("sweep_inbox", queue="intake")
def sweep_inbox(rt: Runtime) -> int:
    """Re-enqueue unfinished events that have no live job (e.g. Redis lost its queue).

    Works through the whole backlog in one run, ``SWEEP_BATCH`` events at a time in id
    order, until none is left or ``SWEEP_BUDGET_S`` has passed (the next sweep goes on
    from the start: what this one enqueued is live by then and skipped)."""
    cutoff = utcnow() - timedelta(seconds=rt.settings.inbox.sweep_after_s)
    deadline = time.monotonic() + SWEEP_BUDGET_S
    count, after = 0, 0
    while True:
        with rt.session() as s:
            ids = list(
                s.scalars(
                    select(InboxEvent.id)
                    .where(InboxEvent.state.in_([InboxState.pending, InboxState.processing]))
                    .where(InboxEvent.received_at <= cutoff)
                    .where(InboxEvent.id > after)
                    .order_by(InboxEvent.id)
                    .limit(SWEEP_BATCH)
                )
            )
            job_ids = [inbox_job_id(i) for i in ids]
            dead = set(
                s.scalars(
                    select(DeadLetter.job_id).where(
                        DeadLetter.job_id.in_(job_ids), DeadLetter.state == "dead"
                    )
                )
            )
        for event_id, job_id in zip(ids, job_ids, strict=True):
            if job_id not in dead and not rt.queue.is_live(job_id) and enqueue_event(rt, event_id):
                count += 1
        if len(ids) < SWEEP_BATCH:
            break
        if time.monotonic() >= deadline:
            log.warning("inbox.sweep_budget_spent", requeued=count, next_after=ids[-1])
            break
        after = ids[-1]
    if count:
        log.info("inbox.swept", requeued=count)
    return count

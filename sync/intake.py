"""Inbox processing: each committed inbound event runs through its topic's handler.

Handlers are looked up in a dispatch table keyed by (platform, topic); a topic
with no handler is recorded as ignored, never dropped silently.

Before its handler runs, a storefront event's body is checked (:func:`screen`): a
JSON object, nested at most ``webhooks.max_depth`` levels, ids whole numbers within
64 bits, arrays and objects where the mappers expect them, and for Shopify the shop
the body names equal to the ``X-Shopify-Shop-Domain`` it came with. A body that fails
is refused as ``Permanent``: the event is marked failed with the reason and the job
goes to the dead-letter list at once, with no retries and nothing changed. A
``customers/redact`` or ``shop/redact`` triggered longer than
``webhooks.privacy_max_age_s`` before it was received is not acted on: the event is
marked ignored with the reason, logged, and noted on the store's timeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select

from connectors.payloads import MalformedPayload, check_shape
from connectors.shopify import webhooks as shopify_webhooks
from connectors.woocommerce import webhooks as woo_webhooks
from core.errors import Permanent
from db.models import DeadLetter, InboxEvent, InboxState, Platform, utcnow
from db.timeline import record
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
        platform, topic, body, headers = event.platform, event.topic, event.body, dict(event.headers or {})
        received_at, store_id, account_id = event.received_at, event.store_id, event.account_id
    try:
        stale = screen(rt, platform, topic, body, headers, received_at)
        if stale is not None:
            _not_acted_on(rt, event_id, platform, topic, store_id, account_id, stale)
            return "stale"
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


STOREFRONT_SHAPES: dict[Platform, tuple[frozenset[str], frozenset[str]]] = {
    Platform.shopify: (shopify_webhooks.LISTS, shopify_webhooks.OBJECTS),
    Platform.woocommerce: (woo_webhooks.LISTS, woo_webhooks.OBJECTS),
}


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
    shapes = STOREFRONT_SHAPES.get(platform)
    if shapes is None or topic.startswith("reconcile/"):  # EasyPost; our own reconcile events
        return None
    settings = rt.settings.webhooks
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedPayload(f"body is not JSON a parser can read ({type(exc).__name__})") from exc
    check_shape(payload, max_depth=settings.max_depth, lists=shapes[0], objects=shapes[1])
    if platform is not Platform.shopify:
        return None
    header_shop = (shopify_webhooks.header(headers, "Shop-Domain") or "").strip().lower()
    named = shopify_webhooks.body_shop(payload)
    if named is not None and named != header_shop:
        raise MalformedPayload("the shop the body names is not the X-Shopify-Shop-Domain it came with")
    if topic in shopify_webhooks.STATE_CHANGING_PRIVACY:
        triggered = shopify_webhooks.triggered_at(headers)
        if triggered is not None:
            age = (received_at - triggered).total_seconds()
            if age > settings.privacy_max_age_s:
                limit = int(settings.privacy_max_age_s)
                return (
                    f"stale: triggered {triggered.isoformat()}, {int(age)} s before it was received "
                    f"(more than {limit} s, past the platform's retry window); not acted on"
                )
    return None


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

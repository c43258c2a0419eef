"""Reconciliation: don't trust webhooks. Poll what changed, repair subscriptions.

Orders changed since the store's cursor are fetched and fed through the same
inbox as webhooks (kind ``order_polled``, dedupe key = order id + modification
time + body digest), so a missed webhook is recovered, a version already seen is not
processed twice, and a second content of the same second is not taken for a duplicate.
A version the held order already accounts for (``_known``: feeding it would change
nothing but a timeline note) is not fed at all: each poll reads again every order of its
five minutes of overlap, so most of what it finds is known. Nor is a version that may be a
webhook the store's queue still holds (``_maybe_queued``): the cursor stays before it, and
the next poll feeds it if its webhook never came.

Stock levels changed since the store's stock cursor (the connector's
``levels_changed_since``) are then taken as the channel's level reports would have been:
each one is an observation on its catalog link, settled ``inventory.settle_s`` later
against the channel's current level, after the recovered orders (a difference from what
the ledger expects is a merchant edit). The scheduled catalog imports and audits run
only behind a reconciliation of their store (``catalog_all`` and ``inventory_audit_all``
ask for ``reconcile_store(then=...)``, which enqueues the job when it has fed what it
found), so at start-up a change made while Waybill heard nothing, and the orders behind
it, are known before anything reads or heals a level.

The settle step feeds orders the same way (``sync.reconcile_feed.orders_not_counted``) before it reads a
level that differs from what the ledger expects as a merchant edit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.storefront import EventKind, reader_for
from connectors.storefront.orders import PolledOrder
from core.errors import Retryable
from core.orders import Order, fingerprint
from db.models import CatalogLink, InboxEvent, InboxState, Store, StoreState, utcnow
from db.models import Order as OrderRow
from db.timeline import record
from sync.inventory import observe
from sync.jobs import job, safe_job_id
from sync.pipeline import waits_for_verification
from sync.reconcile_feed import feed
from sync.stock_settle import listed, schedule_settle
from sync.storefronts import storefront
from sync.stores import ensure_webhooks
from telemetry import RECONCILE_REPAIRS

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.reconcile")
OVERLAP = timedelta(minutes=5)  # platforms' updated_at and our clock are not in lockstep
# An order the storefront's read may have cut (its lines past what a page holds) comes
# with no body and is not fed: a partial order must never replace a complete one. Such
# orders are counted as `incomplete` and noted on the store's timeline.
STOCK_CURSOR = "stock_cursor"
RECONCILED_AT = "reconciled_at"  # when the last reconciliation finished feeding what it found
OWED_SINCE = "reconcile_owed_since"  # set at start-up, cleared by the next reconciliation
# Jobs that read channel levels and run behind a reconciliation of their store: job -> id prefix.
FOLLOW_UPS = {"inventory_audit": "inventory-audit", "import_catalog": "import-catalog"}
HELD_BATCH = 200  # polled orders compared with the held ones per query
# A webhook reaches the inbox about this long after its order changed, in the normal case:
# a version older than the store's oldest queued event by more is taken as not in the
# queue (fed; a late webhook of it is then a duplicate, as before).
QUEUED_MARGIN = timedelta(seconds=5)


def caught_up(rt: Runtime, store_id: int, observed: datetime) -> bool:
    """Whether the store's orders up to a level change observed at ``observed`` are counted:
    no reconciliation is owed to it, and no event of it received before ``observed`` or
    before its last reconciliation finished is still to be processed.

    A settle waits until then: a sale the ledger has not heard of would otherwise read as a
    merchant edit, and then be reserved again when its order arrives.
    """
    with rt.session() as s:
        store = s.get(Store, store_id)
        settings = dict(store.settings or {}) if store is not None else {}
        if settings.get(OWED_SINCE):
            return False
        horizon = observed
        if settings.get(RECONCILED_AT):
            horizon = max(horizon, datetime.fromisoformat(settings[RECONCILED_AT]))
        oldest = oldest_queued(s, store_id)
    return oldest is None or oldest > horizon


def owe_reconciliation(rt: Runtime) -> int:
    """Note on every active store that a reconciliation is owed (at start-up: whatever happened
    while Waybill was down is not known yet). Until one has run, settles wait (at most
    ``sync.stock_settle.SETTLE_WAIT_MAX``): a level read now could count sales whose orders
    are not in yet as a merchant edit. Returns how many stores."""
    now = utcnow().isoformat()
    with rt.session() as s:
        stores = list(s.scalars(select(Store).where(Store.state == StoreState.active).with_for_update()))
        for store in stores:
            if not (store.settings or {}).get(OWED_SINCE):
                store.settings = {**(store.settings or {}), OWED_SINCE: now}
    return len(stores)


def reconcile_then(rt: Runtime, store_id: int, then: str) -> None:
    """Reconcile the store now, then run ``then`` for it."""
    rt.enqueue(
        "reconcile_store", job_id=safe_job_id("reconcile-then", then, store_id), store_id=store_id, then=then
    )


REQUESTED_AT = "reconcile_requested_at"  # when someone last asked for a reconciliation now


def request_reconcile(rt: Runtime, store_id: int, actor: str) -> bool:
    """Queue a reconciliation of the store now (the console's "Reconcile now"; the CLI's
    ``sync reconcile`` runs one in place); False when the store is not active."""
    with rt.session() as s:
        store = s.get(Store, store_id, with_for_update=True)
        if store is None or store.state is not StoreState.active:
            return False
        store.settings = {**(store.settings or {}), REQUESTED_AT: utcnow().isoformat()}
        record(s, store.account_id, f"store:{store_id}", actor, "reconcile.requested", "reconcile now")
    rt.enqueue("reconcile_store", job_id=safe_job_id("reconcile-store", store_id), store_id=store_id)
    return True


@job("reconcile_all", queue="reconcile")
def reconcile_all(rt: Runtime) -> int:
    """Schedule a reconciliation of every active store."""
    with rt.session() as s:
        ids = list(s.scalars(select(Store.id).where(Store.state == StoreState.active)))
    for store_id in ids:
        rt.enqueue("reconcile_store", job_id=safe_job_id("reconcile-store", store_id), store_id=store_id)
    return len(ids)


@dataclass
class Found:
    """What one reconciliation of a store found: orders changed since ``since`` (fed, and cut
    ones not fed) and stock levels changed since ``stock_since``."""

    since: datetime
    newest: datetime
    stock_since: datetime
    found: int = 0
    queued: int = 0
    incomplete: list[str] = field(default_factory=list)
    levels_found: int = 0
    levels_observed: int = 0
    stock_newest: datetime | None = None
    known: int = 0  # versions found that the held orders already account for (not fed)
    # The store's oldest event still to be processed when the poll began (None: none): a
    # version changed after it (less QUEUED_MARGIN) may be a webhook still queued.
    queued_since: datetime | None = None
    deferred: int = 0  # such versions not held yet: not fed now, read again by the next poll
    deferred_oldest: datetime | None = None


@job("reconcile_store", queue="reconcile")
def reconcile_store(rt: Runtime, store_id: int, then: str | None = None) -> dict[str, Any]:
    """Repair webhooks, recover orders, then stock levels changed since the cursors; then
    enqueue ``then`` (a job of :data:`FOLLOW_UPS`) for the store. Returns what was found."""
    if then is not None and then not in FOLLOW_UPS:
        raise ValueError(f"unknown follow-up {then!r}: {', '.join(sorted(FOLLOW_UPS))}")
    started = utcnow()
    with rt.session() as s:
        store = s.get(Store, store_id)
        if store is None or store.state is not StoreState.active:
            return {"skipped": True}
        s.expunge(store)
    behind = queued_since(rt, store_id)  # before the repair: what arrives after it is news
    try:
        repaired = ensure_webhooks(rt, store_id, actor="reconcile")
        webhook_error = None
    except Retryable as exc:  # keep polling orders even when subscriptions cannot be fixed now
        repaired, webhook_error = [], str(exc)
    since = cursor(rt, store)
    found = Found(since=since, newest=since, stock_since=cursor(rt, store, STOCK_CURSOR), queued_since=behind)
    _recover_orders(rt, store, found)
    found.levels_found, found.levels_observed, found.stock_newest = _recover_levels(
        rt, store, found.stock_since
    )
    _save(rt, store_id, started, found)
    summary = {
        "store_id": store_id,
        "found": found.found,
        "queued": found.queued,
        "known": found.known,
        "deferred": found.deferred,
        "incomplete": len(found.incomplete),
        "levels_found": found.levels_found,
        "levels_observed": found.levels_observed,
        "webhooks_repaired": repaired,
        "webhook_error": webhook_error,
    }
    if then is not None:  # it reads levels that the ledger now knows the recent changes of
        rt.enqueue(then, job_id=safe_job_id(FOLLOW_UPS[then], store_id), store_id=store_id)
    platform = str(store.platform)
    RECONCILE_REPAIRS.labels(platform, "orders_recovered").inc(found.queued)
    RECONCILE_REPAIRS.labels(platform, "orders_incomplete").inc(len(found.incomplete))
    RECONCILE_REPAIRS.labels(platform, "webhooks_repaired").inc(len(repaired))
    RECONCILE_REPAIRS.labels(platform, "levels_recovered").inc(found.levels_observed)
    log.info("reconcile.store", **{k: v for k, v in summary.items() if k != "webhook_error"})
    return summary


def _recover_orders(rt: Runtime, store: Store, found: Found) -> None:
    """Feed every order changed since the cursor through the inbox (a cut one is only noted),
    but for the versions the store's orders already hold (``_known``), a batch at a time."""
    batch: list[PolledOrder] = []
    for polled in storefront(rt, store).orders_since(found.since):
        found.found += 1
        found.newest = max(found.newest, polled.updated_at)
        if polled.body is None:
            found.incomplete.append(polled.order_id)
            continue
        batch.append(polled)
        if len(batch) >= HELD_BATCH:
            _feed_unknown(rt, store, batch, found)
            batch = []
    _feed_unknown(rt, store, batch, found)


def _feed_unknown(rt: Runtime, store: Store, batch: list[PolledOrder], found: Found) -> None:
    """Feed the polled versions the held orders do not already account for."""
    if not batch:
        return
    fetched_at = utcnow()
    with rt.session() as s:
        held = {
            row.platform_order_id: row
            for row in s.scalars(
                select(OrderRow).where(
                    OrderRow.store_id == store.id,
                    OrderRow.platform_order_id.in_({p.order_id for p in batch}),
                )
            )
        }
        unknown = []
        for polled in batch:
            row = held.get(polled.order_id)
            if row is not None and _known(store, row, polled):
                found.known += 1
                if row.platform_updated_at == polled.updated_at:
                    # The same content read again later: only the read's time moves, as
                    # ``sync.orders.upsert_order`` does for a version fed to it.
                    row.platform_fetched_at = fetched_at
            elif _maybe_queued(found, polled):
                found.deferred += 1
                oldest = found.deferred_oldest
                found.deferred_oldest = (
                    polled.updated_at if oldest is None else min(oldest, polled.updated_at)
                )
            else:
                unknown.append(polled)
    for polled in unknown:
        found.queued += feed(rt, store, polled.order_id, polled.updated_at, cast(bytes, polled.body))


def queued_since(rt: Runtime, store_id: int, topic: str | None = None) -> datetime | None:
    """When the store's oldest event (of ``topic``, if given) still to be processed was
    received; None when none is."""
    with rt.session() as s:
        return oldest_queued(s, store_id, topic)


def oldest_queued(s: Session, store_id: int, topic: str | None = None) -> datetime | None:
    """:func:`queued_since` in the caller's session."""
    query = select(func.min(InboxEvent.received_at)).where(
        InboxEvent.store_id == store_id,
        InboxEvent.state.in_((InboxState.pending, InboxState.processing)),
    )
    if topic is not None:
        query = query.where(InboxEvent.topic == topic)
    return s.scalar(query)


def _maybe_queued(found: Found, polled: PolledOrder) -> bool:
    """Whether the version may be a webhook the store's queue still holds: changed after the
    store's oldest unprocessed event (less :data:`QUEUED_MARGIN`). Such a version is not
    fed while the queue is behind (in a burst most of a poll's versions are, and feeding them
    doubled the work the queue was behind on); the cursor stays before it, so the next poll
    reads it again and feeds it if its webhook never came. A version the held order already
    counts is still skipped by :func:`_known` then."""
    since = found.queued_since
    return since is not None and polled.updated_at >= since - QUEUED_MARGIN


def _known(store: Store, row: OrderRow, polled: PolledOrder) -> bool:
    """Whether feeding ``polled`` would change nothing but a note on the order's timeline
    (``sync.orders.handle_order``): the order holds a newer version, or this very content of
    the same second; it does not wait for its verification (the handler would queue it); and
    the body shows no refund made in the store's admin (the handler records those)."""
    assert polled.body is not None
    if polled.updated_at > row.platform_updated_at or waits_for_verification(row):
        return False
    payload = json.loads(polled.body)
    reader = reader_for(str(store.platform))
    if any(r.waybill_key is None for r in reader.returns_in_order(payload)):
        return False
    if polled.updated_at < row.platform_updated_at:
        return True
    incoming = reader.parse_order(EventKind.order_polled, payload)
    return fingerprint(incoming) == fingerprint(Order.from_dict(row.data))


def _save(rt: Runtime, store_id: int, started: datetime, found: Found) -> None:
    """Move the store's cursors past what was found, and note on its timeline what was recovered."""
    with rt.session() as s:
        row = s.get(Store, store_id)
        if row is None:
            return
        s.refresh(row, with_for_update=True)  # other jobs keep their own keys in the settings
        newest = found.newest
        if found.deferred_oldest is not None:  # read again, and fed if still not held, next time
            newest = min(newest, found.deferred_oldest)
        settings = {
            **(row.settings or {}),
            "order_cursor": (newest - OVERLAP).isoformat(),
            STOCK_CURSOR: ((found.stock_newest or found.stock_since) - OVERLAP).isoformat(),
            RECONCILED_AT: utcnow().isoformat(),
        }
        owed = settings.get(OWED_SINCE)
        if owed and datetime.fromisoformat(owed) <= started:
            # What was missed before this run is fed now (a deferred version changed while
            # the store's webhooks were arriving again, after its oldest queued event).
            del settings[OWED_SINCE]
        row.settings = settings
        for action, reason, data in _notes(found):
            record(s, row.account_id, f"store:{store_id}", "reconcile", action, reason, data)


def _notes(found: Found) -> list[tuple[str, str, dict[str, Any] | None]]:
    """The timeline entries a reconciliation leaves: (action, reason, data)."""
    notes: list[tuple[str, str, dict[str, Any] | None]] = []
    if found.levels_observed:
        notes.append(
            (
                "stock.recovered",
                f"{found.levels_observed} level change(s) not heard of, of {found.levels_found} changed "
                f"since {found.stock_since.isoformat()}: read against the channel once the orders are in",
                None,
            )
        )
    if found.incomplete:
        notes.append(
            (
                "orders.incomplete",
                f"{len(found.incomplete)} changed order(s) with more lines than a read holds "
                "not recovered by polling",
                {"orders": found.incomplete},
            )
        )
    if found.queued:
        notes.append(
            (
                "orders.recovered",
                f"{found.queued} order version(s) not seen before, of {found.found} changed since "
                f"{found.since.isoformat()}",
                None,
            )
        )
    return notes


def cursor(rt: Runtime, store: Store, name: str = "order_cursor") -> datetime:
    value = (store.settings or {}).get(name)
    if value:
        return datetime.fromisoformat(value)
    start = store.installed_at or utcnow()
    return start - timedelta(seconds=rt.settings.reconcile.initial_lookback_s)


def _recover_levels(rt: Runtime, store: Store, since: datetime) -> tuple[int, int, datetime]:
    """Observe the tracked levels changed since ``since``; returns (found, observed, newest)."""
    with rt.session() as s:
        tracked = listed(
            s.scalars(
                select(CatalogLink).where(CatalogLink.store_id == store.id, CatalogLink.tracked.is_(True))
            )
        )
    if not tracked:
        return 0, 0, since
    changes = storefront(rt, store).levels_changed_since(since, tracked)
    observed = 0
    with rt.session() as s:
        for change in changes:  # oldest first: observe keeps the newest as the level seen
            link = s.get(CatalogLink, change.key)
            if link is not None and link.tracked and observe(link, change.quantity, change.at):
                observed += 1
    if observed:
        schedule_settle(rt, store.id)
    return len(changes), observed, max([since, *(c.at for c in changes)])

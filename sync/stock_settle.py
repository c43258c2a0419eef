"""The channels' observations settled: a reported level is read back from the channel once
the orders behind it have arrived, and what still differs from what we expected is a
merchant edit (the rules are in ``sync/inventory.py``'s docstring).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.storefront import EventKind, reader_for
from connectors.storefront.orders import POLLED_ORDER_TOPIC
from connectors.storefront.stock import Level, Listed
from db.models import CatalogLink, Store, StoreState, utcnow
from db.stock import (
    ensure_item,
    find_item,
    is_marked,
    mark_dirty,
    mark_one,
    move,
    parse_buffer,
    published_levels,
)
from db.timeline import record
from sync.intake import handles
from sync.inventory import edit_delta, low_stock_check, observe
from sync.jobs import job, safe_job_id
from sync.locks import store_lock
from sync.stock_push import schedule_push
from sync.storefronts import storefront

if TYPE_CHECKING:
    from settings import InventorySettings
    from sync.runtime import Runtime

# A settle waits while events of its store received before the observation are still to be
# processed (the orders behind a sale, recovered by reconciliation after an outage, may be
# hundreds), but not for longer than this: an event that keeps failing must not stop it.
SETTLE_WAIT_MAX = timedelta(minutes=5)
SETTLE_WAIT_POLL_S = 1.0
# A level that differs first waits this long (from its report) for the store's queued events
# to be processed and is read again; past it, the store's orders are polled. Under a steady
# stream of events "every event received before the read" may stay unprocessed for as long as
# the stream lasts: the poll, not the end of SETTLE_WAIT_MAX, must decide such a level, and
# the versions it feeds need time to be processed before then. A flash sale's one-worker
# backlog (bench.flash_sale's default size) reached about 90 s: 30 s polled there and held
# the worker in the store API's throttle again (the backlog drained 282 s after the sale).
SETTLE_QUEUE_WAIT = timedelta(minutes=2)
# The orders polled before a level is read as an edit start this long before the level we
# knew: platform times have whole seconds, and an order's time and its level's may differ.
SETTLE_POLL_OVERLAP = timedelta(seconds=5)


def schedule_settle(rt: Runtime, store_id: int, delay_s: float | None = None) -> None:
    delay = rt.settings.inventory.settle_s if delay_s is None else delay_s
    # A settle cannot re-enqueue itself under its own id while it runs: bucket ids by due second.
    due = int(time.time() + delay)
    rt.enqueue(
        "settle_stock", job_id=safe_job_id("settle-stock", store_id, due), delay_s=delay, store_id=store_id
    )


def _load(rt: Runtime, event_id: int) -> tuple[Store | None, Any]:
    from sync.orders import load_event

    event, store = load_event(rt, event_id)
    if store is None or store.state is not StoreState.active:
        return None, None
    return store, json.loads(event.body)


@handles(EventKind.stock_level_changed, EventKind.product_changed)
def handle_stock_event(rt: Runtime, event_id: int) -> None:
    """A level the channel reports for one listing: observed on its link, settled later."""
    store, body = _load(rt, event_id)
    if store is None:
        return
    event = reader_for(str(store.platform)).stock_event(body)  # parsing needs no credentials
    if event is None:
        return
    with rt.session() as s:
        query = select(CatalogLink).where(CatalogLink.store_id == store.id)
        if event.by_item:
            query = query.where(CatalogLink.inventory_item_id == event.inventory_item_id)
        elif event.variant_id is not None:
            query = query.where(
                CatalogLink.product_id == event.product_id, CatalogLink.variant_id == event.variant_id
            )
        else:
            query = query.where(CatalogLink.product_id == event.product_id, CatalogLink.variant_id.is_(None))
        link = s.scalar(query)
        if link is None or not link.tracked:
            return
        if event.by_item and link.location_id != event.location_id:
            return
        due = observe(link, event.quantity, event.at)
    if due:
        schedule_settle(rt, store.id)


def listed(links: Iterable[CatalogLink]) -> list[Listed]:
    """The links as the storefront names their listings (keyed by link id)."""
    return [
        Listed(link.id, link.product_id, link.variant_id, link.inventory_item_id, link.location_id)
        for link in links
    ]


def read_levels(rt: Runtime, store: Store, links: list[CatalogLink]) -> dict[int, Level]:
    """What the channel shows now for each link (by link id); links it no longer has are left out."""
    levels = storefront(rt, store, notify_customer=False).read_levels(listed(links))  # reads only
    return {int(cast(int, key)): level for key, level in levels.items()}


@job("settle_stock", queue="inventory")
def settle_stock(rt: Runtime, store_id: int) -> int:
    """Read the store's due observations against the channel; returns the merchant edits found."""
    settle_s = rt.settings.inventory.settle_s
    with store_lock(rt, store_id):
        with rt.session() as s:
            store = s.get(Store, store_id)
            if store is None or store.state is not StoreState.active:
                return 0
            cutoff = utcnow() - timedelta(seconds=settle_s)
            pending = list(
                s.scalars(
                    select(CatalogLink)
                    .where(CatalogLink.store_id == store_id, CatalogLink.observed_received_at.is_not(None))
                    .order_by(CatalogLink.sku)
                )
            )
            s.expunge_all()
        due = [link for link in pending if link.observed_received_at and link.observed_received_at <= cutoff]
        later = [
            link.observed_received_at for link in pending if link not in due and link.observed_received_at
        ]
        if due and not _caught_up(rt, store_id, due):
            schedule_settle(rt, store_id, SETTLE_WAIT_POLL_S)
            return 0
        read_at = utcnow()
        levels = read_levels(rt, store, due) if due else {}
        if due and not _orders_counted(rt, store, due, levels, read_at):
            schedule_settle(rt, store_id, SETTLE_WAIT_POLL_S)
            return 0
        edits, dirty, retry = 0, set(), False
        with rt.session() as s:
            for seen in due:
                link = s.get(CatalogLink, seen.id)
                if link is None:
                    continue
                if (
                    link.channel_qty != seen.channel_qty
                    or link.observed_received_at != seen.observed_received_at
                ):
                    retry = True  # an order or a newer report moved it meanwhile: settle again
                    continue
                link.observed_qty = link.observed_at = link.observed_received_at = None
                level = levels.get(link.id)
                if level is None:
                    continue
                if _settle_link(s, store, link, level, rt.settings.inventory):
                    edits += 1  # the ledger moved: every channel is told
                    dirty |= mark_dirty(s, store.account_id, [link.sku])
                elif _shows_other(s, store, link, rt.settings.inventory):
                    dirty |= mark_one(s, store.id, link.sku)
    schedule_push(rt, dirty)
    if retry:
        schedule_settle(rt, store_id, 0.5)
    if later:
        wait = (min(later) + timedelta(seconds=settle_s) - utcnow()).total_seconds()
        schedule_settle(rt, store_id, max(0.05, wait))
    return edits


def _shows_other(s: Session, store: Store, link: CatalogLink, inv: InventorySettings) -> bool:
    """Whether a link settled without an edit still needs a push: its channel shows another
    level than the ledger publishes, or its mark was kept while it waited to be settled (a
    push passes over a link with an observation; the settle marks it again). The ledger did
    not move, so the other channels have nothing new to show."""
    if is_marked(s, store.id, link.sku):
        return True
    fallback = parse_buffer(inv.default_buffer)
    target = published_levels(s, store, [link.sku], link.location or inv.location, fallback).get(link.sku)
    return target is not None and link.channel_qty != target


def _caught_up(rt: Runtime, store_id: int, due: list[CatalogLink]) -> bool:
    """Whether the orders behind these observations are counted (``sync.reconcile.caught_up``),
    or they have waited :data:`SETTLE_WAIT_MAX` already."""
    from sync.reconcile import caught_up  # it imports this module

    received = [link.observed_received_at for link in due if link.observed_received_at is not None]
    if not received or min(received) < utcnow() - SETTLE_WAIT_MAX:
        return True
    return caught_up(rt, store_id, max(received))


def _orders_counted(
    rt: Runtime, store: Store, due: list[CatalogLink], levels: dict[int, Level], read_at: datetime
) -> bool:
    """Whether the orders behind the levels just read are all counted, asked of the channel
    itself before a difference is taken as a merchant edit.

    A sale (or a cancellation given back) whose order webhook is late or lost moves the
    channel's level as an edit does, and no inbox event tells that it is on its way: after a
    blackout the reconciliation of another store pushes to this one before this store's own
    orders are recovered; under load a level report overtakes its order. So when a level
    differs from what the link expects, the store's orders changed since the level we knew
    (not before its last reconciliation's cursor) up to the level read are polled: those not
    counted yet are fed through the inbox and the settle waits for them
    (``sync.reconcile_feed.orders_not_counted``). Orders changed after the level read are not
    behind it. It waits at most :data:`SETTLE_WAIT_MAX` from the observation.

    The poll first waits until every event of the store received before the levels were read
    (``read_at``) is processed: in a burst the sales behind a level are mostly webhooks still
    queued, and the look after them reads a level that matches. Polling at once fed each of
    those orders a second time, and paged through the store's busiest minutes in its API's
    throttle, holding a worker (a flash sale's one-worker backlog drained 286 s after the last
    order; 8 s with this wait). That wait lasts at most :data:`SETTLE_QUEUE_WAIT` from the
    report: under a steady stream of events the store's queue may never be empty up to the
    moment of a read, and only the poll may decide a level that still differs.
    """
    from sync.reconcile import caught_up, cursor, queued_since  # it imports this module
    from sync.reconcile_feed import orders_not_counted

    differing = []
    for link in due:
        level = levels.get(link.id)
        if level is None or link.channel_qty is None:
            continue
        if edit_delta(level.qty, link.channel_qty, link.channel_qty_open or 0) != 0:
            differing.append((link, level))
    if not differing:
        return True
    received = [link.observed_received_at for link, _ in differing if link.observed_received_at is not None]
    reported = min(received) if received else None
    if reported is not None and reported < utcnow() - SETTLE_WAIT_MAX:
        return True
    if (
        reported is not None
        and reported >= utcnow() - SETTLE_QUEUE_WAIT
        and not caught_up(rt, store.id, read_at)
    ):
        return False  # the sales behind these levels may be queued: count them, then look again
    if queued_since(rt, store.id, POLLED_ORDER_TOPIC) is not None:
        # What a poll (a settle's or a reconciliation's) fed is not counted yet: poll again only
        # after it. Each poll reads the whole window since the level the link knew; polling at
        # every look (once a second) while the fed versions waited in a busy queue paged
        # through the store's API again and again.
        return False
    since = cursor(rt, store)
    known = [link.channel_qty_at for link, _ in differing if link.channel_qty_at is not None]
    if known:
        since = max(since, min(known) - SETTLE_POLL_OVERLAP)
    until = max(level.at for _, level in differing)
    return orders_not_counted(rt, store, since, until) == 0


def _settle_link(s: Session, store: Store, link: CatalogLink, level: Level, inv: InventorySettings) -> bool:
    """Take the channel's current level; a difference from what we expected is a merchant edit.

    What we expected is a range when sales made in the known level's own second are open
    (``channel_qty_open``, see ``sync/inventory.py``): a level in it is no edit.
    """
    expected, open_units = link.channel_qty, link.channel_qty_open or 0
    link.channel_qty, link.channel_qty_open = level.qty, 0
    if link.channel_qty_at is None or level.at > link.channel_qty_at:
        link.channel_qty_at = level.at
    item = find_item(s, store.account_id, link.sku, inv.location)
    if item is None:
        item_id = ensure_item(s, store.account_id, link.sku, inv.location)
        move(
            s,
            item_id,
            account_id=store.account_id,
            key=f"import:{link.sku}",
            reason="initial_import",
            source=f"store:{store.id}",
            on_hand=level.qty,
            store_id=store.id,
        )
        return True
    if expected is None:
        return False
    delta = edit_delta(level.qty, expected, open_units)
    if delta == 0:
        return False
    if _publishes(s, store, link, level.qty, inv):
        return False
    expected_text = f"{expected} to {expected + open_units}" if open_units else str(expected)
    moved = move(
        s,
        item,
        account_id=store.account_id,
        key=f"edit:{link.id}:{level.at.isoformat()}:{expected}:{level.qty}",
        reason="channel_edit",
        source=f"store:{store.id}",
        on_hand=delta,
        store_id=store.id,
        note=f"set to {level.qty} on {store.platform} (we expected {expected_text})",
    )
    if moved is None:
        return False
    record(
        s,
        store.account_id,
        f"sku:{link.sku}",
        f"{store.platform}:{store.domain}",
        "stock.channel_edit",
        f"set to {level.qty} on the channel (expected {expected_text}): on hand {delta:+d}",
        {"store_id": store.id, "delta": delta, "channel_qty": level.qty},
    )
    low_stock_check(s, item, moved.available, inv.low_stock_threshold)
    return True


def _publishes(s: Session, store: Store, link: CatalogLink, qty: int, inv: InventorySettings) -> bool:
    """Whether ``qty`` is what the ledger publishes for the link's channel: no edit then. Above
    all, it is the level of a push of ours whose answer was lost (the push retried after the
    report passes over the link, which still holds the level before it): read as an edit, the
    write's own change would move the ledger, and every channel would be pushed that much too low."""
    fallback = parse_buffer(inv.default_buffer)
    published = published_levels(s, store, [link.sku], link.location or inv.location, fallback)
    return published.get(link.sku) == qty


def settle_due(rt: Runtime) -> int:
    """Settle every store's overdue observations (the sweep's safety net)."""
    cutoff = utcnow() - timedelta(seconds=rt.settings.inventory.settle_s + 1)
    with rt.session() as s:
        stores = set(
            s.scalars(
                select(CatalogLink.store_id).where(
                    CatalogLink.observed_received_at.is_not(None), CatalogLink.observed_received_at <= cutoff
                )
            )
        )
    for store_id in stores:
        schedule_settle(rt, store_id, 0)
    return len(stores)

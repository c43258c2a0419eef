"""Real-time stock push: every marked (channel, SKU) gets the level the ledger publishes.

A movement marks the SKU on every channel (``StockDirty``, one row per channel and
SKU, so changes inside the push delay coalesce into one write) and enqueues
``push_stock`` for each channel. The job, holding the store's stock lock (one writer
or settler per store), drives the storefront's :class:`~connectors.storefront.stock.StockWriter`:

1. reads the store's marks in SKU order and their links; computes the published level
   per SKU (the channel's buffers, else ``inventory.default_buffer``). Marks are planned
   a page at a time (the writer's ``page``), the next page while the first calls are
   out, or a round at a time where the platform's calls group writes from anywhere in it;
2. drops marks with nothing to write: no link, untracked, no stock item, a listing the
   writer cannot write, or the channel already shows the level (those marks are cleared;
   a link with sales open, ``channel_qty_open``, may show more and is written anyway);
3. lets the writer read levels first where the platform has no compare-and-set (a level
   that is not what the link says the channel shows is an observation, not written over);
4. writes the rest in the writer's calls (batched to the platform maximum), the writer's
   ``in_flight`` at the platform at once and ``ahead`` more claimed and built meanwhile,
   each call through the effects ledger (key ``stock:<store>:<sha256 of the call, marks'
   times included>``, so a retried job replays a recorded call, the platform replays an
   idempotent one, and a later identical write is a new one);
5. after each call, in one transaction: the links learn what the channel shows
   (``channel_qty``/``channel_qty_at`` from the platform's answer, ``last_pushed``,
   ``pushed_at``) and exactly the marks read are cleared (``clear_marks`` with their
   ``marked_at``: a mark refreshed meanwhile stays and is written next round).

Each write comes back ``written``, ``observed`` (the channel showed another level: it is
recorded as an observation, ``observed_*``, for ``sync/stock_settle.py`` to settle) or
``refused`` (the mark stays; recorded on the store's timeline; the sweep retries it). A
call refused for some of its writes only is sent again without them. Each pass over the
marks is a round; it loops (at most :data:`MAX_ROUNDS`) until no mark is left other than
those it keeps on purpose: links with a pending observation (the settle step re-marks
them) and writes that failed. Marks are only deleted after a write succeeded, so a crash
leaves them for the next run.

``sweep_stock`` (``schedules`` in config.yaml) enqueues a push for every store with marks
older than :data:`MISSED_AFTER_S` (a push missed by a race).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.storefront.stock import StockWrite, StockWriter
from db.models import CatalogLink, StockDirty, Store, StoreState, utcnow
from db.stock import clear_marks, parse_buffer, published_levels
from sync.jobs import job, safe_job_id
from sync.locks import store_lock
from sync.stock_calls import effect_key as effect_key  # the push's effects-ledger keys
from sync.stock_calls import write_calls
from sync.storefronts import storefront

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.stock_push")

MAX_ROUNDS = 10
MISSED_AFTER_S = 1.0  # a mark older than this with no push running was missed
MARKS_PER_ROUND = 10_000


Write = StockWrite  # one SKU to write on one channel: the mark it answers and the link's ids


@dataclass
class Plan:
    writes: list[Write]
    cleared: int
    deferred: set[str]
    last: str = ""  # the last SKU read (the next page starts after it)
    fresh: int = 0  # marks read that were not already deferred
    full: bool = False  # a whole page was read: more marks may follow it


def schedule_push(rt: Runtime, store_ids: Iterable[int]) -> None:
    """Enqueue ``push_stock`` for each store (a queued push also writes the marks made
    meanwhile; one already running may have read its marks, so a follow-up is queued)."""
    for store_id in sorted(set(store_ids)):
        rt.enqueue(
            "push_stock",
            job_id=safe_job_id("push-stock", store_id),
            delay_s=rt.settings.inventory.push_delay_s,
            rerun=True,
            store_id=store_id,
        )


@job("push_stock", queue="inventory")
def push_stock(rt: Runtime, store_id: int) -> dict[str, Any]:
    """Write the store's marked SKUs; returns counts (written, observed, failed, cleared, rounds)."""
    summary = {"store_id": store_id, "written": 0, "observed": 0, "failed": 0, "cleared": 0, "rounds": 0}
    with rt.session() as s:
        store = s.get(Store, store_id)
        if store is None or store.state is not StoreState.active:
            return {**summary, "skipped": True}
        s.expunge(store)
    deferred: set[str] = set()
    writer = storefront(rt, store, notify_customer=False).stock_writer()  # levels tell no customer
    with store_lock(rt, store_id):
        for _ in range(MAX_ROUNDS):
            # The calls start once the first page is planned, or once the round is planned
            # whole when the platform's calls group writes from anywhere in it.
            rnd = _Round(rt, store, writer, deferred, writer.page or MARKS_PER_ROUND)
            writes = rnd.writes()
            first = next(writes, None)
            if not rnd.fresh:
                break
            summary["rounds"] += 1
            if first is not None:
                outcome = write_calls(rt, store, writer, itertools.chain([first], writes))
                summary["written"] += len(outcome.written)
                summary["observed"] += len(outcome.observed)
                summary["failed"] += len(outcome.failed)
                deferred |= set(outcome.observed) | set(outcome.failed)
            summary["cleared"] += rnd.cleared
            deferred |= rnd.waiting
    if summary["written"] or summary["failed"] or summary["observed"]:
        log.info("stock.pushed", **summary)
    return summary


class _Round:
    """One pass over the store's marks in SKU order, planned a page at a time as its writes
    are taken, so the first calls go out while later pages are still being planned."""

    def __init__(self, rt: Runtime, store: Store, writer: StockWriter, deferred: set[str], page: int) -> None:
        self._rt, self._store, self._deferred, self._page = rt, store, deferred, page
        self._accepts = writer.accepts
        self.cleared = 0
        self.fresh = 0  # marks read that were not deferred before the round
        self.waiting: set[str] = set()

    def writes(self) -> Iterator[Write]:
        after: str | None = None
        while True:
            plan = _plan(self._rt, self._store, self._accepts, self._deferred, after, self._page)
            if plan is None:
                return
            self.cleared += plan.cleared
            self.fresh += plan.fresh
            self.waiting |= plan.deferred
            after = plan.last
            yield from plan.writes
            if not plan.full:
                return  # the last page: marks made since are the next round's


def _plan(
    rt: Runtime,
    store: Store,
    accepts: Callable[[Write], bool],
    deferred: set[str],
    after: str | None,
    limit: int,
) -> Plan | None:
    """The writes for up to ``limit`` marks after SKU ``after``; clears the marks with nothing
    to write. None when no mark is left there."""
    with rt.session() as s:
        # Plain rows, not ORM objects: a full push reads 10,000 marks, links and items here.
        query = select(StockDirty.sku, StockDirty.marked_at).where(StockDirty.store_id == store.id)
        if after is not None:
            query = query.where(StockDirty.sku > after)
        read = list(s.execute(query.order_by(StockDirty.sku).limit(limit)))
        if not read:
            return None
        last, full = read[-1].sku, len(read) >= limit
        marks = [m for m in read if m.sku not in deferred]
        if not marks:
            return Plan([], 0, set(), last, 0, full)
        links, targets = _links_and_targets(rt, s, store, [m.sku for m in marks])
        writes: list[Write] = []
        done: list[tuple[str, datetime]] = []
        waiting: set[str] = set()
        for mark in marks:
            link = links.get(mark.sku)
            if link is not None and link.tracked and link.observed_qty is not None:
                waiting.add(mark.sku)  # settled first; the settle marks it again
                continue
            target = targets.get(mark.sku)
            write = None
            # A link with sales open (see sync/inventory.py) is written even at the published
            # level: the write (or its stale compare-and-set) learns what the channel shows.
            if (
                link is not None
                and link.tracked
                and target is not None
                and (link.channel_qty != target or link.channel_qty_open)
            ):
                write = Write(
                    link.id,
                    link.sku,
                    mark.marked_at,
                    target,
                    link.channel_qty,
                    link.product_id,
                    link.variant_id,
                    link.inventory_item_id,
                    link.location_id,
                )
            if write is None or not accepts(write):
                # Nothing this channel can publish, or it already shows it.
                done.append((mark.sku, mark.marked_at))
                continue
            writes.append(write)
        clear_marks(s, store.id, done)
    writes.sort(key=lambda w: w.sku)
    return Plan(writes, len(done), waiting, last, len(marks), full)


def _links_and_targets(
    rt: Runtime, s: Session, store: Store, skus: list[str]
) -> tuple[dict[str, Any], dict[str, int]]:
    """The store's links of ``skus`` (plain rows, by SKU) and the level to publish per SKU."""
    settings = rt.settings.inventory
    links = {
        link.sku: link
        for link in s.execute(
            select(
                CatalogLink.id,
                CatalogLink.sku,
                CatalogLink.location,
                CatalogLink.tracked,
                CatalogLink.observed_qty,
                CatalogLink.channel_qty,
                CatalogLink.channel_qty_open,
                CatalogLink.product_id,
                CatalogLink.variant_id,
                CatalogLink.inventory_item_id,
                CatalogLink.location_id,
            ).where(CatalogLink.store_id == store.id, CatalogLink.sku.in_(skus))
        )
    }
    targets: dict[str, int] = {}
    by_location: dict[str, list[str]] = {}
    for sku, row in links.items():
        by_location.setdefault(row.location or settings.location, []).append(sku)
    fallback = parse_buffer(settings.default_buffer)
    for location, group in by_location.items():
        targets.update(published_levels(s, store, group, location, fallback))
    return links, targets


# --- the sweep ----------------------------------------------------------------------


def enqueue_missed_pushes(rt: Runtime) -> int:
    """Enqueue ``push_stock`` for every active store with marks older than :data:`MISSED_AFTER_S`."""
    cutoff = utcnow() - timedelta(seconds=MISSED_AFTER_S)
    with rt.session() as s:
        ids = set(
            s.scalars(
                select(StockDirty.store_id)
                .join(Store, Store.id == StockDirty.store_id)
                .where(StockDirty.marked_at <= cutoff, Store.state == StoreState.active)
                .distinct()
            )
        )
    schedule_push(rt, ids)
    return len(ids)


@job("sweep_stock", queue="inventory")
def sweep_stock(rt: Runtime) -> int:
    """The scheduled sweep: pushes missed by a race; returns how many stores got one."""
    return enqueue_missed_pushes(rt)

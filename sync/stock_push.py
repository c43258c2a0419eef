"""Real-time stock push: every marked (channel, SKU) gets the level the ledger publishes.

A movement marks the SKU on every channel (``StockDirty``, one row per channel and
SKU, so changes inside the push delay coalesce into one write) and enqueues
``push_stock`` for each channel. The job, holding the store's stock lock (one writer
or settler per store):

1. reads the store's marks in SKU order and their links; computes the published level
   per SKU (the channel's buffers, else ``inventory.default_buffer``). Shopify's are
   planned a page (:data:`PLAN_PAGE`) at a time, the next page while the first calls
   are out; WooCommerce's a round at a time, since a parent's variations share a call;
2. drops marks with nothing to write: no link, untracked, no stock item, or the channel
   already shows the level (those marks are cleared);
3. writes the rest, batched to the platform maximum, each call through the effects
   ledger (key ``stock:<store>:<sha256 of the batch, marks' times included>``, so a
   retried job replays a recorded call and a later identical write is a new one);
4. after each batch's calls, in one transaction: the links learn what the channel shows
   (``channel_qty``/``channel_qty_at`` from the platform's answer, ``last_pushed``,
   ``pushed_at``) and exactly the marks read are cleared (``clear_marks`` with their
   ``marked_at``: a mark refreshed meanwhile stays and is written next round).

Each pass over the marks is a round; it loops (at most :data:`MAX_ROUNDS`) until no
mark is left other than those it keeps on purpose: links with a pending observation
(the settle step re-marks them) and writes that failed (recorded on the store's
timeline; the sweep retries them). Marks are only deleted after a write succeeded, so
a crash leaves them for the next run.

Shopify: ``inventorySetQuantities`` with up to 250 quantities, compare-and-set on
``changeFromQuantity`` (what the link says the shop shows) and ``@idempotent`` (the
effects-ledger key: a call whose answer was lost is replayed by Shopify, not applied
twice). A stale compare-and-set refuses the whole call: the stale items' levels are
read back and recorded as an observation (``observed_*``) for ``sync/inventory.py`` to
settle, and the rest of the batch is sent again without them.

WooCommerce: ``products/batch`` and ``products/<parent>/variations/batch`` with up to
100 items; an item that failed (``error`` in the answer) keeps its mark. WooCommerce has
no compare-and-set, so the levels are read first (``include=``, 100 a call): an item
whose level is not what the link says the store shows is recorded as an observation
and not written, as a stale Shopify compare-and-set is.

``sweep_stock`` (``schedules`` in config.yaml) enqueues a push for every store with marks
older than :data:`MISSED_AFTER_S` (a push missed by a race).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import structlog
from sqlalchemy import Table, bindparam, select, update

from connectors.shopify import inventory as shopify_stock
from connectors.woocommerce import inventory as woo_stock
from core.errors import NotAttempted, Permanent
from core.inventory import SHOPIFY_MAX_QUANTITIES, WooStockUpdate, plan_woo_batches
from db.bulk import Many
from db.models import CatalogLink, Platform, StockDirty, Store, StoreState, utcnow
from db.stock import clear_marks, parse_buffer, published_levels
from db.timeline import record
from sync.jobs import job, safe_job_id
from sync.locks import store_lock
from sync.stores import shopify_client, woo_client

if TYPE_CHECKING:
    from connectors.shopify.client import ShopifyClient
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.stock_push")

MAX_ROUNDS = 10
MISSED_AFTER_S = 1.0  # a mark older than this with no push running was missed
EFFECT_KIND = "stock_push"
ACTOR = "stock_push"
LEVELS_FIRST = 50  # locations read when a compare-and-set was stale
CHUNK = 500  # ids per IN (...) list
MARKS_PER_ROUND = 10_000
PLAN_PAGE = 1_000  # Shopify marks planned at a time (4 full calls), the next page while they are out
SHOPIFY_IN_FLIGHT = 2  # inventorySetQuantities calls at once (each batch's SKUs are its own)
SHOPIFY_READY = 2  # further batches claimed and built ahead, each sent the moment a call answers


class Write(NamedTuple):
    """One SKU to write on one channel: the mark it answers and the link's ids.

    A tuple of plain values, so the garbage collector stops tracking it (and the outcome
    tuples holding it): a full push keeps 10,000 of them alive, which otherwise set off a
    full collection, a pause of a tenth of a second, in the middle of the push.
    """

    link_id: int
    sku: str
    marked_at: datetime
    target: int
    current: int | None  # what we believe the channel shows (compare-and-set)
    product_id: int
    variant_id: int | None
    inventory_item_id: int | None
    location_id: int | None

    def content(self) -> list[Any]:
        """What makes this write this write (for the effects-ledger key)."""
        return [
            self.sku,
            self.product_id,
            self.variant_id,
            self.inventory_item_id,
            self.location_id,
            self.target,
            self.current,
            self.marked_at.isoformat(),
        ]


@dataclass
class Outcome:
    """What one call (or one round) did, per SKU."""

    # sku -> (write, what the channel shows, the platform's time, whether our compare-and-set passed)
    written: dict[str, tuple[Write, int, datetime | None, bool]] = field(default_factory=dict)
    observed: dict[str, tuple[Write, int, datetime]] = field(default_factory=dict)
    failed: dict[str, tuple[Write, str]] = field(default_factory=dict)

    def merge(self, other: Outcome) -> None:
        self.written.update(other.written)
        self.observed.update(other.observed)
        self.failed.update(other.failed)


@dataclass
class Plan:
    writes: list[Write]
    cleared: int
    deferred: set[str]
    last: str = ""  # the last SKU read (the next page starts after it)
    fresh: int = 0  # marks read that were not already deferred


def effect_key(store_id: int, parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"stock:{store_id}:{digest}"[:255]


def schedule_push(rt: Runtime, store_ids: Iterable[int]) -> None:
    """Enqueue ``push_stock`` for each store (a queued push also writes the marks made meanwhile)."""
    for store_id in sorted(set(store_ids)):
        rt.enqueue(
            "push_stock",
            job_id=safe_job_id("push-stock", store_id),
            delay_s=rt.settings.inventory.push_delay_s,
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
    shopify = store.platform is Platform.shopify
    with store_lock(rt, store_id):
        for _ in range(MAX_ROUNDS):
            # Shopify's calls start once the first page is planned; WooCommerce plans the round
            # whole, since a parent's variations must share one batch call.
            rnd = _Round(rt, store, deferred, PLAN_PAGE if shopify else MARKS_PER_ROUND)
            writes = rnd.writes()
            first = next(writes, None)
            if not rnd.fresh:
                break
            summary["rounds"] += 1
            if first is not None:
                pending = itertools.chain([first], writes)
                outcome = (
                    _write_shopify(rt, store, pending) if shopify else _write_woo(rt, store, list(pending))
                )
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

    def __init__(self, rt: Runtime, store: Store, deferred: set[str], page: int) -> None:
        self._rt, self._store, self._deferred, self._page = rt, store, deferred, page
        self.cleared = 0
        self.fresh = 0  # marks read that were not deferred before the round
        self.waiting: set[str] = set()

    def writes(self) -> Iterator[Write]:
        after: str | None = None
        while True:
            plan = _plan(self._rt, self._store, self._deferred, after, self._page)
            if plan is None:
                return
            self.cleared += plan.cleared
            self.fresh += plan.fresh
            self.waiting |= plan.deferred
            after = plan.last
            yield from plan.writes


def _plan(rt: Runtime, store: Store, deferred: set[str], after: str | None, limit: int) -> Plan | None:
    """The writes for up to ``limit`` marks after SKU ``after``; clears the marks with nothing
    to write. None when no mark is left there."""
    settings = rt.settings.inventory
    with rt.session() as s:
        # Plain rows, not ORM objects: a full push reads 10,000 marks, links and items here.
        query = select(StockDirty.sku, StockDirty.marked_at).where(StockDirty.store_id == store.id)
        if after is not None:
            query = query.where(StockDirty.sku > after)
        read = list(s.execute(query.order_by(StockDirty.sku).limit(limit)))
        if not read:
            return None
        last = read[-1].sku
        marks = [m for m in read if m.sku not in deferred]
        if not marks:
            return Plan([], 0, set(), last, 0)
        skus = [m.sku for m in marks]
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
        writes: list[Write] = []
        done: list[tuple[str, datetime]] = []
        waiting: set[str] = set()
        for mark in marks:
            link = links.get(mark.sku)
            if link is not None and link.tracked and link.observed_qty is not None:
                waiting.add(mark.sku)  # settled first; the settle marks it again
                continue
            target = targets.get(mark.sku)
            incomplete = (
                link is not None
                and store.platform is Platform.shopify
                and (link.inventory_item_id is None or link.location_id is None)
            )
            if link is None or not link.tracked or target is None or incomplete:
                done.append((mark.sku, mark.marked_at))  # nothing this channel can publish
                continue
            if link.channel_qty == target:
                done.append((mark.sku, mark.marked_at))  # the channel already shows it
                continue
            writes.append(
                Write(
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
            )
        clear_marks(s, store.id, done)
    writes.sort(key=lambda w: w.sku)
    return Plan(writes, len(done), waiting, last, len(marks))


def _links_pushed_statement() -> Many:
    table = cast(Table, CatalogLink.__table__)
    return Many(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            channel_qty=bindparam("b_qty"),
            channel_qty_at=bindparam("b_at", type_=table.c.channel_qty_at.type),
            last_pushed=bindparam("b_last"),
            pushed_at=bindparam("b_now", type_=table.c.pushed_at.type),
        )
    )


_LINKS_PUSHED = _links_pushed_statement()


def _commit(rt: Runtime, store: Store, outcome: Outcome) -> None:
    """Links learn what the channel shows; the written marks are cleared; failures are recorded."""
    now = utcnow()
    with rt.session() as s, s.no_autoflush:
        # What the written links hold now, in one read per chunk (no ORM objects: a full push
        # commits 10,000 of these, and loading them dominated the push's own time).
        written_ids = [w.link_id for w, _, _, _ in outcome.written.values()]
        current: dict[int, tuple[int | None, datetime | None]] = {}
        for start in range(0, len(written_ids), CHUNK):
            chunk = written_ids[start : start + CHUNK]
            for link_id, qty, at in s.execute(
                select(CatalogLink.id, CatalogLink.channel_qty, CatalogLink.channel_qty_at).where(
                    CatalogLink.id.in_(chunk)
                )
            ):
                current[link_id] = (qty, at)
        params: list[dict[str, Any]] = []
        for write, qty, at, cas in outcome.written.values():
            if write.link_id not in current:
                continue
            held_qty, held_at = current[write.link_id]
            shown = qty
            if cas and write.current is not None and held_qty is not None and held_qty != write.current:
                # The compare-and-set passed, so the shop showed `current` when we wrote: a
                # sale counted on the link since then happened after our write.
                shown = qty + (held_qty - write.current)
            new_at = at if at is not None and (held_at is None or at >= held_at) else held_at
            params.append(
                {"b_id": write.link_id, "b_qty": shown, "b_at": new_at, "b_last": write.target, "b_now": now}
            )
        _LINKS_PUSHED.run(s, params)
        observed_ids = [w.link_id for w, _, _ in outcome.observed.values()]
        rows = {
            link.id: link
            for start in range(0, len(observed_ids), CHUNK)
            for link in s.scalars(
                select(CatalogLink).where(CatalogLink.id.in_(observed_ids[start : start + CHUNK]))
            )
        }
        for write, qty, at in outcome.observed.values():
            link = rows.get(write.link_id)
            if link is None:
                continue
            if link.observed_at is None or at >= link.observed_at:
                link.observed_qty, link.observed_at = qty, at
            if link.observed_received_at is None:
                link.observed_received_at = now
        s.flush()
        clear_marks(s, store.id, [(w.sku, w.marked_at) for w, _, _, _ in outcome.written.values()])
        if outcome.failed:
            reasons = sorted({why for _, why in outcome.failed.values()})
            record(
                s,
                store.account_id,
                f"store:{store.id}",
                ACTOR,
                "stock.push_failed",
                f"{len(outcome.failed)} stock write(s) refused: {'; '.join(reasons)[:400]}",
                {"skus": {sku: why for sku, (_, why) in sorted(outcome.failed.items())[:200]}},
            )
        if outcome.observed:
            record(
                s,
                store.account_id,
                f"store:{store.id}",
                ACTOR,
                "stock.push_stale",
                f"{len(outcome.observed)} level(s) changed on the channel before our write: "
                "left for the settle step",
                {"skus": {sku: qty for sku, (_, qty, _) in sorted(outcome.observed.items())[:200]}},
            )


# --- Shopify ------------------------------------------------------------------------


def _write_shopify(rt: Runtime, store: Store, writes: Iterable[Write]) -> Outcome:
    """The batches, :data:`SHOPIFY_IN_FLIGHT` at Shopify at a time; outcomes committed in
    batch order.

    Waybill's own work per call overlaps Shopify's instead of adding to it: while calls are
    out, :data:`SHOPIFY_READY` more batches are planned, claimed in the effects ledger and
    built, each waiting at the gate to be sent the moment a call in flight answers (before
    that call's ledger entry and links are written). The batches hold disjoint SKUs; pacing
    reserves from the shop's one shared bucket estimate. If a call fails, the gate closes:
    prepared batches are not sent (their claims are released), the calls out finish and are
    committed, and the error is raised: the marks of what was not committed stay for the
    next push.
    """
    client = shopify_client(rt, store)
    total = Outcome()
    batches = _batched(iter(writes), SHOPIFY_MAX_QUANTITIES)  # full batches across planned pages
    gate = _Gate(SHOPIFY_IN_FLIGHT)
    with (
        _Committer(rt, store) as committer,
        ThreadPoolExecutor(SHOPIFY_IN_FLIGHT + SHOPIFY_READY, thread_name_prefix="stock-call") as calls,
    ):
        pending: deque[Future[Outcome]] = deque()

        def prepare_next() -> None:
            batch = next(batches, None)
            if batch is not None:
                pending.append(calls.submit(_shopify_batch, rt, store, client, gate, list(batch)))

        for _ in range(SHOPIFY_IN_FLIGHT + SHOPIFY_READY):
            prepare_next()
        failure: BaseException | None = None
        while pending:
            try:
                outcome = pending.popleft().result()
            except BaseException as exc:
                if failure is None:
                    failure = exc
                    gate.close()
                continue
            committer.submit(outcome)
            total.merge(outcome)
            if failure is None:
                prepare_next()
        if failure is not None:
            raise failure
    return total


class _Gate:
    """At most ``slots`` calls at the platform at once; prepared calls wait here their turn.

    A call that fails (other than a refusal) closes it, and so does the push on seeing a
    failure: a call that had not been sent then gives up (``NotAttempted``).
    """

    def __init__(self, slots: int) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            if self._closed.is_set():
                raise NotAttempted("not sent: an earlier call of this push failed")
            try:
                yield
            except Permanent:
                raise  # a refusal: recorded as failed writes, the push goes on
            except BaseException:
                self._closed.set()  # before the slot is free: no prepared call slips out
                raise


def _batched(items: Iterator[Write], size: int) -> Iterator[list[Write]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def _shopify_batch(
    rt: Runtime, store: Store, client: ShopifyClient, gate: _Gate, batch: list[Write]
) -> Outcome:
    """One batch: sent again without its stale items until nothing of it is pending."""
    total, pending = Outcome(), batch
    while pending:
        outcome, pending = _shopify_call(rt, store, client, gate, pending)
        total.merge(outcome)
    return total


class _Committer:
    """Commits each call's outcome on one background thread while the next call is in flight.

    At most one commit is outstanding and they run in call order; leaving the block waits for
    the last one and raises its error, so a push never reports what it has not recorded. A
    crash before a commit leaves that call's marks in place: the next push replays the call
    from the effects ledger (same key), never a second write.
    """

    def __init__(self, rt: Runtime, store: Store) -> None:
        self._rt, self._store = rt, store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stock-commit")
        self._last: Future[None] | None = None

    def submit(self, outcome: Outcome) -> None:
        self._wait()
        self._last = self._pool.submit(_commit, self._rt, self._store, outcome)

    def _wait(self) -> None:
        if self._last is not None:
            last, self._last = self._last, None
            last.result()

    def __enter__(self) -> _Committer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)


def _shopify_call(
    rt: Runtime, store: Store, client: ShopifyClient, gate: _Gate, pending: list[Write]
) -> tuple[Outcome, list[Write]]:
    """One ``inventorySetQuantities``; returns what it did and what must be sent again."""
    outcome = Outcome()
    quantities = [
        shopify_stock.SetQuantity(w.inventory_item_id or 0, w.location_id or 0, w.target, w.current)
        for w in pending
    ]
    payload = shopify_stock.set_quantities_input(quantities, f"waybill://stock-push/{store.id}")
    key = effect_key(store.id, [w.content() for w in pending])

    def act(progress: Any) -> dict[str, Any]:
        with gate.slot():
            data = client.execute(shopify_stock.DOCUMENT, {"input": payload, "idempotencyKey": key})
        return _trim_shopify(data)

    try:
        data = rt.ledger.run(
            key,
            EFFECT_KIND,
            {"store_id": store.id, "input": payload},
            act,
            recover=None,
            account_id=store.account_id,
        )
    except Permanent as exc:
        for w in pending:
            outcome.failed[w.sku] = (w, f"{type(exc).__name__}: {exc}"[:300])
        return outcome, []
    result = shopify_stock.parse_set_result(data)
    if result.applied:
        for w in pending:
            outcome.written[w.sku] = (w, w.target, result.created_at, True)
        return outcome, []
    stale: list[Write] = []
    refused: set[int] = set()
    for error in result.errors:
        if error.index is None or not 0 <= error.index < len(pending):
            continue
        refused.add(error.index)
        if error.stale:
            stale.append(pending[error.index])
        else:
            w = pending[error.index]
            outcome.failed[w.sku] = (w, f"{error.code}: {error.message}"[:300])
    if not refused:  # refused as a whole, naming no quantity
        why = "; ".join(f"{e.code}: {e.message}" for e in result.errors)[:300]
        for w in pending:
            outcome.failed[w.sku] = (w, why)
        return outcome, []
    for w in stale:
        with gate.slot():
            level = _read_level(client, w)
        if level is None:
            outcome.failed[w.sku] = (w, "the item is no longer stocked at the location")
        elif level.quantity == w.target:
            # The shop already shows what we publish (e.g. our own earlier write whose answer
            # was lost): nothing to settle.
            outcome.written[w.sku] = (w, level.quantity, level.updated_at, False)
        else:
            outcome.observed[w.sku] = (w, level.quantity, level.updated_at)
    return outcome, [w for i, w in enumerate(pending) if i not in refused]


def _trim_shopify(data: dict[str, Any]) -> dict[str, Any]:
    """What the effects ledger keeps of an answer: the group's time and the userErrors."""
    payload = data.get("inventorySetQuantities") or {}
    group = payload.get("inventoryAdjustmentGroup") or None
    return {
        "inventorySetQuantities": {
            "inventoryAdjustmentGroup": {"id": group.get("id"), "createdAt": group.get("createdAt")}
            if group
            else None,
            "userErrors": payload.get("userErrors") or [],
        }
    }


def _read_level(client: ShopifyClient, write: Write) -> shopify_stock.ShopLevel | None:
    data = client.execute(
        shopify_stock.LEVEL_DOCUMENT,
        {"id": shopify_stock.item_gid(write.inventory_item_id or 0), "levelsFirst": LEVELS_FIRST},
    )
    return shopify_stock.parse_item_level(data, write.location_id or 0)


# --- WooCommerce --------------------------------------------------------------------


def _write_woo(rt: Runtime, store: Store, writes: Sequence[Write]) -> Outcome:
    client = woo_client(rt, store)
    by_item: dict[tuple[int | None, int], Write] = {}
    for w in writes:
        parent = w.product_id if w.variant_id is not None else None
        by_item[(parent, w.variant_id if w.variant_id is not None else w.product_id)] = w
    total = Outcome()
    with _Committer(rt, store) as committer:
        # WooCommerce has no compare-and-set: read the levels first, and leave a level that is
        # not what we believe the store shows (a merchant edit, a sale not counted yet) to the
        # settle step, as Shopify's refused compare-and-set does, instead of writing over it.
        known = [(ref, w) for ref, w in by_item.items() if w.current is not None]
        shown = woo_stock.read_levels(client, [ref for ref, _ in known])
        for ref, w in known:
            level = shown.get(ref)
            if level is not None and level[0] != w.current:
                total.observed[w.sku] = (w, level[0], level[1])
                del by_item[ref]
        if total.observed:
            committer.submit(Outcome(observed=dict(total.observed)))
        updates = [WooStockUpdate(w.product_id, w.variant_id, w.target) for w in by_item.values()]
        for batch in plan_woo_batches(updates):
            total.merge(_woo_call(rt, store, client, batch, by_item, committer))
    return total


def _woo_call(
    rt: Runtime,
    store: Store,
    client: Any,
    batch: Any,
    by_item: dict[tuple[int | None, int], Write],
    committer: _Committer,
) -> Outcome:
    """One batch call through the effects ledger; its outcome is committed in the background."""
    path = woo_stock.batch_path(batch.parent_id)
    body = woo_stock.batch_body(batch)
    sent = [by_item[(batch.parent_id, int(item["id"]))] for item in body["update"]]
    key = effect_key(store.id, [path, [w.content() for w in sent]])

    def act(progress: Any, path: str = path, body: dict[str, Any] = body) -> dict[str, Any]:
        return woo_stock.trim_reply(client.post(path, body))

    outcome = Outcome()
    try:
        result = rt.ledger.run(
            key,
            EFFECT_KIND,
            {"store_id": store.id, "path": path, "body": body},
            act,
            recover=None,  # setting an absolute level again is harmless
            account_id=store.account_id,
        )
    except Permanent as exc:
        for w in sent:
            outcome.failed[w.sku] = (w, f"{type(exc).__name__}: {exc}"[:300])
    else:
        items = woo_stock.parse_trimmed(result)
        for item, w in zip(body["update"], sent, strict=True):
            found = items.get(int(item["id"]))
            if found is None:
                outcome.failed[w.sku] = (w, "not in the batch answer")
            elif found.error is not None:
                outcome.failed[w.sku] = (w, found.error)
            else:
                qty = found.stock_quantity if found.stock_quantity is not None else w.target
                outcome.written[w.sku] = (w, qty, found.modified_at, False)
    committer.submit(outcome)
    return outcome


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

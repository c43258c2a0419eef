"""The stock ledger's flows: reserve at intake, hold what is oversold, read merchant edits.

Orders (any channel) reserve stock when they arrive, release it when cancelled and take
it off the shelf when fulfilled; each change marks the SKU for a push to every channel.

A channel's own level reports (a stock event the storefront parses, a level the push
found changed) are *observations*. Most of them are
not merchant edits: our own writes come back as webhooks (echoes), and a channel
lowers its level by itself when it sells. So each link keeps ``channel_qty``, what the
channel shows as far as we know, and its platform time: our writes set it, and every
order the channel sold lowers it (once, by a ``channel_sale`` bookkeeping movement).
An observation is settled ``inventory.settle_s`` after it arrives, when the order
behind a sale has normally arrived too; what still differs from ``channel_qty`` is a
merchant edit and moves ``on_hand`` by that difference. An observation older than our
last write, or equal to what we expect, changes nothing: no echo loops.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.order_stock import stock_taken
from connectors.storefront import EventKind
from connectors.storefront.stock import Level, Listed
from core.inventory import StockTaken
from core.lifecycle import Stage, allowed
from core.orders import FulfillmentStatus, Order
from db.models import CatalogLink, StockItem, StockMovement, Store, StoreState, utcnow
from db.models import Order as OrderRow
from db.stock import ensure_item, find_item, mark_dirty, move
from db.timeline import record
from sync.intake import handles
from sync.jobs import job, safe_job_id
from sync.lifecycle import advance
from sync.locks import store_lock
from sync.stock_push import schedule_push
from sync.storefronts import storefront

if TYPE_CHECKING:
    from settings import InventorySettings
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.inventory")

# Orders created this long before a SKU's ledger item was seeded from a channel are taken
# as already counted in the level read. Platform times have one-second resolution and
# clocks differ, so orders close to the seed are reserved: at worst a unit is held back
# until the order ships or is cancelled, never sold twice.
SEEDED_GRACE = timedelta(seconds=30)
# A settle waits while events of its store received before the observation are still to be
# processed (the orders behind a sale, recovered by reconciliation after an outage, may be
# hundreds), but not for longer than this: an event that keeps failing must not stop it.
SETTLE_WAIT_MAX = timedelta(minutes=5)
SETTLE_WAIT_POLL_S = 1.0

ORDER_REASONS = ("order_reserved", "order_released", "order_shipped")


@dataclass(frozen=True)
class Shortage:
    sku: str
    wanted: int
    available: int

    def describe(self) -> str:
        return f"{self.sku}: {self.wanted} wanted, {max(0, self.available)} available"


@dataclass
class OrderStock:
    """What applying an order to the ledger did."""

    shortages: list[Shortage]
    changed_skus: set[str]
    dirty_stores: set[int]


# --- orders -------------------------------------------------------------------------


def order_quantities(order: Order) -> dict[str, int]:
    """Units per SKU; lines without a SKU are not stock-tracked."""
    out: dict[str, int] = defaultdict(int)
    for line in order.line_items:
        sku = (line.sku or "").strip()
        if sku and line.quantity > 0:
            out[sku] += line.quantity
    return dict(out)


def apply_order(
    s: Session,
    store: Store,
    row: OrderRow,
    order: Order,
    inv: InventorySettings,
    payload: Mapping[str, Any] | None = None,
) -> OrderStock:
    """Bring the ledger in line with the order's state (reserved, released or shipped), once."""
    wanted = order_quantities(order)
    result = OrderStock([], set(), set())
    if not wanted:
        return result
    if order.is_cancelled:
        target = "released"
    elif order.fulfillment_status is FulfillmentStatus.FULFILLED:
        target = "shipped"
    else:
        target = "reserved"
    # When the channel itself took the units (at creation, or only at payment): the
    # connectors read it from the payload; None without one (nothing is known then).
    taken = stock_taken(store.platform, payload, order)
    location = inv.location
    source = f"order:{row.id}"
    for sku in sorted(wanted):  # one lock order for every transaction: no deadlocks
        item = find_item(s, store.account_id, sku, location)
        if item is None:
            continue  # not stock-tracked: no catalog link made a ledger item for it
        qty = wanted[sku]
        held, shipped = _order_position(s, row.id, item.id)
        if held == 0 and not shipped and order.created_at < item.created_at - SEEDED_GRACE:
            continue  # sold before the ledger existed: the channel's level already counted it
        key = f"order:{row.id}:{sku}"
        moved = None
        if target == "reserved" and not shipped and held != qty:
            moved = move(
                s,
                item,
                account_id=store.account_id,
                key=f"{key}:reserve:{qty}:{held}",
                reason="order_reserved" if qty > held else "order_released",
                source=source,
                reserved=qty - held,
                store_id=store.id,
                order_id=row.id,
            )
            if moved is not None and qty > held and moved.available_before < qty - held:
                result.shortages.append(Shortage(sku, qty - held, moved.available_before))
        elif target == "released" and held:
            moved = move(
                s,
                item,
                account_id=store.account_id,
                key=f"{key}:release",
                reason="order_released",
                source=source,
                reserved=-held,
                store_id=store.id,
                order_id=row.id,
                note=order.cancel_reason,
            )
        elif target == "shipped" and not shipped:
            moved = move(
                s,
                item,
                account_id=store.account_id,
                key=f"{key}:ship",
                reason="order_shipped",
                source=source,
                on_hand=-qty,
                reserved=-held,
                store_id=store.id,
                order_id=row.id,
            )
        if moved is not None:
            result.changed_skus.add(sku)
            low_stock_check(s, item, moved.available, inv.low_stock_threshold)
        if taken is not None and _channel_bookkeeping(s, store, row, order, item, qty, taken):
            # The channel now shows less (more) than the ledger publishes: push it back.
            result.changed_skus.add(sku)
    if result.shortages:
        _hold_oversold(s, row, result.shortages)
    result.dirty_stores = mark_dirty(s, store.account_id, result.changed_skus)
    return result


def _order_position(s: Session, order_id: int, item_id: int) -> tuple[int, bool]:
    """Units this order holds on the item, and whether it shipped."""
    rows = s.execute(
        select(StockMovement.reason, func.sum(StockMovement.reserved_delta))
        .where(
            StockMovement.order_id == order_id,
            StockMovement.stock_item_id == item_id,
            StockMovement.reason.in_(ORDER_REASONS),
        )
        .group_by(StockMovement.reason)
    ).all()
    held = sum(int(total or 0) for _reason, total in rows)
    shipped = any(reason == "order_shipped" for reason, _total in rows)
    return held, shipped


def _channel_bookkeeping(
    s: Session, store: Store, row: OrderRow, order: Order, item: StockItem, qty: int, taken: StockTaken
) -> bool:
    """Follow the selling channel's own level: it fell when it took the units, rose when it gave them back.

    The level we know (``channel_qty`` at ``channel_qty_at``) already counts a change the
    channel made before that time, and not one made after it: the comparison uses when
    the channel took the units (``taken.at``), which is not always the order's creation.
    Returns whether ``channel_qty`` moved.
    """
    link = s.scalar(select(CatalogLink).where(CatalogLink.store_id == store.id, CatalogLink.sku == item.sku))
    if link is None:
        return False
    sale_key = f"order:{row.id}:{item.sku}:channel_sale"
    sold = _movement_exists(s, store.account_id, sale_key)
    if taken.at is not None and not sold:
        move(
            s,
            item,
            account_id=store.account_id,
            key=sale_key,
            reason="channel_sale",
            source=f"store:{store.id}",
            store_id=store.id,
            order_id=row.id,
            note=f"{qty} sold on the channel",
        )
        if link.channel_qty is not None and (link.channel_qty_at is None or taken.at >= link.channel_qty_at):
            link.channel_qty -= qty
            return True
    elif taken.at is None and sold:
        restock_key = f"order:{row.id}:{item.sku}:channel_restock"
        if not _movement_exists(s, store.account_id, restock_key):
            move(
                s,
                item,
                account_id=store.account_id,
                key=restock_key,
                reason="channel_restock",
                source=f"store:{store.id}",
                store_id=store.id,
                order_id=row.id,
                note=f"{qty} restored on the channel",
            )
            if link.channel_qty is not None and (
                link.channel_qty_at is None or order.updated_at >= link.channel_qty_at
            ):
                link.channel_qty += qty
                return True
    return False


def _movement_exists(s: Session, account_id: int, key: str) -> bool:
    found = s.scalar(
        select(StockMovement.id).where(StockMovement.account_id == account_id, StockMovement.key == key)
    )
    return found is not None


def _hold_oversold(s: Session, row: OrderRow, shortages: list[Shortage]) -> None:
    reason = "oversold: " + "; ".join(x.describe() for x in shortages)
    if not allowed(row.stage, Stage.ON_HOLD):  # cancelled, rejected or fulfilled: nothing to hold
        return
    row.hold_reason = reason
    advance(
        s,
        row,
        Stage.ON_HOLD,
        "inventory",
        reason,
        {"shortages": [{"sku": x.sku, "wanted": x.wanted, "available": x.available} for x in shortages]},
        action="order.held",
    )


def low_stock_check(s: Session, item: StockItem, available: int, default: int | None) -> None:
    """Alert once when available falls to the SKU's threshold; clear when it recovers."""
    threshold = item.low_stock_threshold if item.low_stock_threshold is not None else default
    if threshold is None:
        return
    if available <= threshold and item.low_stock_since is None:
        item.low_stock_since = utcnow()
        record(
            s,
            item.account_id,
            f"sku:{item.sku}",
            "inventory",
            "stock.low",
            f"{available} available at {item.location} (threshold {threshold})",
            {"available": available, "threshold": threshold, "location": item.location},
        )
    elif available > threshold and item.low_stock_since is not None:
        item.low_stock_since = None


# --- channel observations -----------------------------------------------------------


def observe(link: CatalogLink, qty: int, at: datetime, now: datetime | None = None) -> bool:
    """Note that the channel reported a level; ``True`` when it needs settling.

    The report only triggers a settle, which reads the channel's current level: reports
    arrive late, out of order and with one-second timestamps, so their values are not
    trusted on their own.
    """
    if link.channel_qty_at is not None and (
        at < link.channel_qty_at or (at == link.channel_qty_at and qty == link.channel_qty)
    ):
        return False  # older than (or the echo of) what we know
    if link.observed_received_at is None and qty == link.channel_qty:
        return False  # nothing new: our own write, or a sale we already counted
    if link.observed_at is None or at >= link.observed_at:
        link.observed_qty, link.observed_at = qty, at
    if link.observed_received_at is None:
        link.observed_received_at = now or utcnow()
    return True


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
    event = storefront(rt, store).stock_event(body)
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
    levels = storefront(rt, store).read_levels(listed(links))
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
        levels = read_levels(rt, store, due) if due else {}
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
                    edits += 1
                dirty |= mark_dirty(s, store.account_id, [link.sku])
    schedule_push(rt, dirty)
    if retry:
        schedule_settle(rt, store_id, 0.5)
    if later:
        wait = (min(later) + timedelta(seconds=settle_s) - utcnow()).total_seconds()
        schedule_settle(rt, store_id, max(0.05, wait))
    return edits


def _caught_up(rt: Runtime, store_id: int, due: list[CatalogLink]) -> bool:
    """Whether the orders behind these observations are counted (``sync.reconcile.caught_up``),
    or they have waited :data:`SETTLE_WAIT_MAX` already."""
    from sync.reconcile import caught_up  # it imports this module

    received = [link.observed_received_at for link in due if link.observed_received_at is not None]
    if not received or min(received) < utcnow() - SETTLE_WAIT_MAX:
        return True
    return caught_up(rt, store_id, max(received))


def _settle_link(s: Session, store: Store, link: CatalogLink, level: Level, inv: InventorySettings) -> bool:
    """Take the channel's current level; a difference from what we expected is a merchant edit."""
    expected = link.channel_qty
    link.channel_qty = level.qty
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
    if expected is None or level.qty == expected:
        return False
    delta = level.qty - expected
    moved = move(
        s,
        item,
        account_id=store.account_id,
        key=f"edit:{link.id}:{level.at.isoformat()}:{expected}:{level.qty}",
        reason="channel_edit",
        source=f"store:{store.id}",
        on_hand=delta,
        store_id=store.id,
        note=f"set to {level.qty} on {store.platform} (we expected {expected})",
    )
    if moved is None:
        return False
    record(
        s,
        store.account_id,
        f"sku:{link.sku}",
        f"{store.platform}:{store.domain}",
        "stock.channel_edit",
        f"set to {level.qty} on the channel (expected {expected}): on hand {delta:+d}",
        {"store_id": store.id, "delta": delta, "channel_qty": level.qty},
    )
    low_stock_check(s, item, moved.available, inv.low_stock_threshold)
    return True


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


def held_orders(s: Session, account_id: int) -> list[OrderRow]:
    return list(
        s.scalars(
            select(OrderRow).where(OrderRow.account_id == account_id, OrderRow.hold_reason.is_not(None))
        )
    )

"""What the stock ledger says, for the CLI, the API and the console: levels per SKU, movements,
forecasts, the last audit's differences.

Reads only. Daily demand for forecasting is read from the ledger's order movements
(see :func:`daily_demand` for exactly what counts as a sale).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.forecast import Forecast, daily_series, forecast, last_days
from core.inventory import Buffer
from db.models import (
    CatalogLink,
    StockItem,
    StockMovement,
    Store,
    StoreState,
)
from db.stock import parse_buffer, published_levels
from settings import Settings

# The movements an order makes on the ledger (sync/stock_orders.py).
ORDER_REASONS = ("order_reserved", "order_released", "order_shipped")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def item_row(item: StockItem, channels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "location": item.location,
        "on_hand": item.on_hand,
        "reserved": item.reserved,
        "available": item.on_hand - item.reserved,
        "low_stock": item.low_stock_since is not None,
        "low_stock_since": _iso(item.low_stock_since),
        "threshold": item.low_stock_threshold,
        "channels": channels,
    }


def channel_levels(
    s: Session, account_id: int, skus: Sequence[str], location: str, fallback: Buffer | None
) -> dict[str, list[dict[str, Any]]]:
    """Each SKU's links on the account's active stores, with the level each should show."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not skus:
        return out
    rows = s.execute(
        select(CatalogLink, Store)
        .join(Store, Store.id == CatalogLink.store_id)
        .where(
            CatalogLink.account_id == account_id,
            CatalogLink.sku.in_(sorted(set(skus))),
            Store.state == StoreState.active,
        )
        .order_by(Store.id)
    ).all()
    by_store: dict[int, tuple[Store, list[CatalogLink]]] = {}
    for link, store in rows:
        by_store.setdefault(store.id, (store, []))[1].append(link)
    for store, links in by_store.values():
        levels = published_levels(s, store, [link.sku for link in links], location, fallback)
        for link in links:
            out[link.sku].append(
                {
                    "store_id": store.id,
                    "platform": str(store.platform),
                    "domain": store.domain,
                    "tracked": link.tracked,
                    "published": levels.get(link.sku) if link.tracked else None,
                    "channel_qty": link.channel_qty,
                    "channel_qty_at": _iso(link.channel_qty_at),
                }
            )
    return out


def stock_rows(
    s: Session, account_id: int, location: str, fallback_buffer: str | None = None
) -> list[dict[str, Any]]:
    """Every SKU of the account at ``location``, by SKU, with what each channel should show.

    ``fallback_buffer`` is the configured default buffer (``inventory.default_buffer``),
    used for channels that have none of their own.
    """
    items = list(
        s.scalars(
            select(StockItem)
            .where(StockItem.account_id == account_id, StockItem.location == location)
            .order_by(StockItem.sku)
        )
    )
    channels = channel_levels(s, account_id, [i.sku for i in items], location, parse_buffer(fallback_buffer))
    return [item_row(item, channels.get(item.sku, [])) for item in items]


def movement_row(m: StockMovement) -> dict[str, Any]:
    return {
        "reason": m.reason,
        "source": m.source,
        "on_hand_delta": m.on_hand_delta,
        "reserved_delta": m.reserved_delta,
        "on_hand_after": m.on_hand_after,
        "reserved_after": m.reserved_after,
        "available_after": m.on_hand_after - m.reserved_after,
        "at": m.at.isoformat(),
        "order_id": m.order_id,
        "store_id": m.store_id,
        "note": m.note,
    }


def sku_detail(
    s: Session, account_id: int, sku: str, location: str, limit: int = 50, fallback_buffer: str | None = None
) -> dict[str, Any] | None:
    """One SKU's row plus its latest movements (newest first); ``None`` if the account has no such SKU."""
    item = s.scalar(
        select(StockItem).where(
            StockItem.account_id == account_id, StockItem.sku == sku, StockItem.location == location
        )
    )
    if item is None:
        return None
    channels = channel_levels(s, account_id, [sku], location, parse_buffer(fallback_buffer))
    moves = s.scalars(
        select(StockMovement)
        .where(StockMovement.stock_item_id == item.id)
        .order_by(StockMovement.at.desc(), StockMovement.id.desc())
        .limit(limit)
    )
    return {**item_row(item, channels.get(sku, [])), "movements": [movement_row(m) for m in moves]}


# --- forecasting --------------------------------------------------------------------


@dataclass(frozen=True)
class OrderMove:
    """One order movement, as much of it as demand needs."""

    sku: str
    order_id: int | None
    reason: str
    on_hand_delta: int
    reserved_delta: int
    at: datetime


def ordered_units(move: OrderMove) -> int:
    """Units this movement adds to (or takes from) what its order asked for.

    A reservation (or a release, negative) counts its reserved delta. A shipment counts
    only the units it did not reserve first (an order that arrived already fulfilled):
    ``-on_hand_delta + reserved_delta``; the reservation it consumes was counted already.
    """
    if move.reason == "order_shipped":
        return -move.on_hand_delta + move.reserved_delta
    return move.reserved_delta


def daily_demand(moves: Iterable[OrderMove]) -> dict[str, list[tuple[date, int]]]:
    """Units ordered per SKU and UTC day.

    Per order and day the movements are summed and floored at zero: an order cancelled
    (or reduced) the day it was placed does not count, while a cancellation on a later
    day does not take back the demand of the day the order was placed.
    """
    per_order: dict[tuple[str, date, int | str], int] = defaultdict(int)
    for n, move in enumerate(moves):
        day = move.at.astimezone(UTC).date()
        # A movement whose order was deleted stands alone.
        order: int | str = move.order_id if move.order_id is not None else f"orphan-{n}"
        per_order[(move.sku, day, order)] += ordered_units(move)
    per_day: dict[tuple[str, date], int] = defaultdict(int)
    for (sku, day, _order), units in per_order.items():
        if units > 0:
            per_day[(sku, day)] += units
    out: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for (sku, day), units in sorted(per_day.items()):
        out[sku].append((day, units))
    return dict(out)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def sku_forecasts(
    s: Session, account_id: int, settings: Settings, today: date, skus: Iterable[str] | None = None
) -> list[Forecast]:
    """A forecast per SKU (by SKU) from its daily demand over ``history_days`` up to yesterday.

    A SKU's history starts no earlier than the day it entered the ledger, so days
    before it was tracked do not count as days without sales.
    """
    inv = settings.inventory
    query = select(StockItem).where(StockItem.account_id == account_id, StockItem.location == inv.location)
    if skus is not None:
        query = query.where(StockItem.sku.in_(sorted(set(skus))))
    items = list(s.scalars(query.order_by(StockItem.sku)))
    start, end = last_days(today - timedelta(days=1), inv.history_days)
    rows = s.execute(
        select(
            StockItem.sku,
            StockMovement.order_id,
            StockMovement.reason,
            StockMovement.on_hand_delta,
            StockMovement.reserved_delta,
            StockMovement.at,
        )
        .join(StockItem, StockItem.id == StockMovement.stock_item_id)
        .where(
            StockMovement.account_id == account_id,
            StockMovement.stock_item_id.in_([i.id for i in items]),
            StockMovement.reason.in_(ORDER_REASONS),
            StockMovement.at >= _start_of(start),
            StockMovement.at < _start_of(end + timedelta(days=1)),
        )
    ).all()
    demand = daily_demand(OrderMove(*row) for row in rows)
    out: list[Forecast] = []
    for item in items:
        first = max(start, item.created_at.astimezone(UTC).date())
        series = daily_series(demand.get(item.sku, []), first, end) if first <= end else []
        out.append(
            forecast(
                item.sku,
                series,
                item.on_hand - item.reserved,
                inv.lead_time_days,
                inv.service_level,
                inv.velocity_alpha,
            )
        )
    return out


def forecast_json(f: Forecast) -> dict[str, Any]:
    return {
        "sku": f.sku,
        "velocity": float(f.velocity),
        "sigma": float(f.sigma),
        "days_of_cover": None if f.days_of_cover is None else float(f.days_of_cover),
        "safety_stock": float(f.safety_stock),
        "reorder_point": int(f.reorder_point),
        "reorder_now": f.reorder_now,
    }


# --- the console's stock page ----------------------------------------------------------

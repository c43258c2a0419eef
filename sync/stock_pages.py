"""The console's stock pages: one page of SKUs with their channels, buffers and forecast,
each store's last inventory audit with its differences, a SKU's movements page by page.
Reads only; every query is scoped to one account (``sync.stock_reports`` has the rows the
API and the CLI share)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.inventory import Buffer
from db.models import (
    StockBuffer,
    StockDirty,
    StockItem,
    StockMovement,
    Store,
    StoreState,
    TimelineEntry,
)
from db.stock import parse_buffer
from settings import Settings

# The movements an order makes on the ledger (sync/stock_orders.py).
from sync.stock_reports import channel_levels, item_row, sku_forecasts

MAX_PAGE = 200  # SKUs on one page of the console


@dataclass(frozen=True)
class StockPage:
    """One page of the account's SKUs (by SKU) and how many match in all."""

    rows: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


def _buffer_text(buffer: Buffer | None) -> str | None:
    if buffer is None:
        return None
    value = buffer.value.normalize()
    return f"{value:f}%" if buffer.kind == "percent" else f"{value:f}"


def stock_page(
    s: Session,
    account_id: int,
    settings: Settings,
    today: date,
    search: str = "",
    low_only: bool = False,
    offset: int = 0,
    limit: int = 50,
    sku: str | None = None,
) -> StockPage:
    """SKUs whose name contains ``search`` (case-insensitive), ``limit`` from ``offset``, each
    with its channels (the buffer each applies, whether a push is pending), threshold and
    forecast; ``sku``: that SKU only.

    Reads only the page's SKUs: the count is one indexed query, channels, buffers and
    forecasts are a few queries for the whole page.
    """
    inv = settings.inventory
    limit = min(max(1, limit), MAX_PAGE)
    offset = max(0, offset)
    where = [StockItem.account_id == account_id, StockItem.location == inv.location]
    if search.strip():
        pattern = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(func.lower(StockItem.sku).like(pattern + "%", escape="\\"))
    if low_only:
        where.append(StockItem.low_stock_since.is_not(None))
    if sku is not None:
        where.append(StockItem.sku == sku)
    total = s.scalar(select(func.count()).select_from(StockItem).where(*where)) or 0
    items = list(
        s.scalars(select(StockItem).where(*where).order_by(StockItem.sku).offset(offset).limit(limit))
    )
    skus = [i.sku for i in items]
    fallback = parse_buffer(inv.default_buffer)
    channels = channel_levels(s, account_id, skus, inv.location, fallback)
    buffers = channel_buffers(s, account_id, skus, fallback)
    forecasts = {f.sku: f for f in sku_forecasts(s, account_id, settings, today, skus)} if skus else {}
    pending: set[tuple[int, str]] = set()
    if skus:
        dirty = s.execute(
            select(StockDirty.store_id, StockDirty.sku)
            .join(Store, Store.id == StockDirty.store_id)
            .where(Store.account_id == account_id, StockDirty.sku.in_(skus))
        )
        pending = {(store_id, sku) for store_id, sku in dirty}
    rows = []
    for item in items:
        row = item_row(item, channels.get(item.sku, []))
        for channel in row["channels"]:
            channel["buffer"] = buffers.get((channel["store_id"], item.sku))
            channel["push_pending"] = (channel["store_id"], item.sku) in pending
        row["threshold_used"] = (
            item.low_stock_threshold if item.low_stock_threshold is not None else inv.low_stock_threshold
        )
        row["forecast"] = forecasts.get(item.sku)
        rows.append(row)
    return StockPage(rows, int(total), offset, limit)


def channel_buffers(
    s: Session, account_id: int, skus: Sequence[str], fallback: Buffer | None
) -> dict[tuple[int, str], str | None]:
    """The buffer each (store, SKU) applies, as text (``"2"``, ``"10%"``): the SKU's own, else
    the channel's default (``*``), else the configured default."""
    if not skus:
        return {}
    rows = s.scalars(
        select(StockBuffer).where(
            StockBuffer.account_id == account_id, StockBuffer.sku.in_([*sorted(set(skus)), "*"])
        )
    )
    own: dict[tuple[int, str], Buffer] = {}
    defaults: dict[int, Buffer] = {}
    for row in rows:
        buffer = Buffer(row.kind, Decimal(row.value))  # type: ignore[arg-type]
        if row.sku == "*":
            defaults[row.store_id] = buffer
        else:
            own[(row.store_id, row.sku)] = buffer
    stores = s.scalars(select(Store.id).where(Store.account_id == account_id))
    return {
        (store_id, sku): _buffer_text(own.get((store_id, sku)) or defaults.get(store_id) or fallback)
        for store_id in stores
        for sku in skus
    }


# --- the last audit's discrepancies ----------------------------------------------------

MAX_DISCREPANCIES = 200  # shown from one audit of one store


@dataclass(frozen=True)
class Audit:
    """A store's last inventory audit (``stock.audited`` on its timeline) and the differences
    it recorded (``stock.discrepancy`` on each SKU's timeline, in the same run)."""

    store_id: int
    platform: str
    domain: str
    at: datetime
    summary: str | None
    discrepancies: list[dict[str, Any]]


def last_audits(s: Session, account_id: int, sku: str | None = None) -> list[Audit]:
    """Each active store's last audit with its differences (only ``sku``'s when given)."""
    out: list[Audit] = []
    stores = s.scalars(
        select(Store)
        .where(Store.account_id == account_id, Store.state == StoreState.active)
        .order_by(Store.id)
    )
    for store in stores:
        audits = list(
            s.scalars(
                select(TimelineEntry)
                .where(
                    TimelineEntry.account_id == account_id,
                    TimelineEntry.subject == f"store:{store.id}",
                    TimelineEntry.action == "stock.audited",
                )
                .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
                .limit(2)
            )
        )
        if not audits:
            continue
        last = audits[0]
        # The run's entries are written in one transaction before its summary, after the
        # previous run's summary.
        query = select(TimelineEntry).where(
            TimelineEntry.account_id == account_id,
            TimelineEntry.subject == f"sku:{sku}" if sku is not None else TimelineEntry.subject.like("sku:%"),
            TimelineEntry.action == "stock.discrepancy",
            TimelineEntry.at <= last.at,
            TimelineEntry.id < last.id,
        )
        if len(audits) > 1:
            query = query.where(TimelineEntry.id > audits[1].id)
        found = [
            {
                "sku": (e.data or {}).get("sku"),
                "expected": (e.data or {}).get("expected"),
                "channel": (e.data or {}).get("channel"),
                "difference": (e.data or {}).get("difference"),
                "outcome": (e.data or {}).get("outcome"),
                "reason": e.reason,
                "at": e.at,
            }
            for e in s.scalars(query.order_by(TimelineEntry.id).limit(MAX_DISCREPANCIES * 4))
            if (e.data or {}).get("store_id") == store.id
        ][:MAX_DISCREPANCIES]
        out.append(Audit(store.id, str(store.platform), store.domain, last.at, last.reason, found))
    return out


def movements_page(
    s: Session, item: StockItem, limit: int = 50, before: int | None = None
) -> list[StockMovement]:
    """A SKU's movements, newest first, ``limit`` at a time before the movement id ``before``."""
    query = select(StockMovement).where(StockMovement.stock_item_id == item.id)
    if before is not None:
        query = query.where(StockMovement.id < before)
    return list(s.scalars(query.order_by(StockMovement.id.desc()).limit(limit)))

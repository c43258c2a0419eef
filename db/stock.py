"""The stock ledger's repository: items, immutable movements, channel links, push marks.

Every change to a level is a :class:`StockMovement` with a unique ``key`` per account,
written in the same transaction as the level change, so replaying the event that caused
it changes nothing. Levels change by atomic ``UPDATE ... SET x = x + d`` statements,
so concurrent orders for the last unit serialise on the row (PostgreSQL row lock,
SQLite's ``BEGIN IMMEDIATE``) and exactly as many are covered as there is stock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.inventory import Buffer, published, resolve_buffer
from db.bulk import Many
from db.models import (
    CatalogLink,
    StockBuffer,
    StockDirty,
    StockItem,
    StockMovement,
    Store,
    StoreState,
    utcnow,
)

# Why stock moved; every movement carries one.
REASONS = (
    "initial_import",  # the first level, read from a channel
    "import_order",  # an order sold on the channel before that level was read: its units back on hand
    "order_reserved",  # an order was received: held for it
    "order_released",  # the order was cancelled: released
    "order_shipped",  # the order left the building: on hand and reserved both fall
    "return_restocked",  # a returned item went back on the shelf
    "return_loss",  # a returned item came back damaged, wrong or not at all: a loss, nothing back on sale
    "exchange_reserved",  # units held for a return's exchange parcel
    "exchange_released",  # the return was refused or closed: the exchange units are free again
    "exchange_shipped",  # the exchange parcel left: on hand and reserved both fall
    "manual_adjustment",  # an operator moved stock by a delta
    "count_correction",  # an operator counted and set the level
    "channel_edit",  # a merchant changed the level in a storefront's admin
    "channel_sale",  # bookkeeping only: the channel decremented its own level for its sale
    "channel_restock",  # bookkeeping only: the channel restored its own level (cancellation)
)


@dataclass(frozen=True)
class Moved:
    """What one movement did: the level before and after, and whether it was new."""

    item_id: int
    sku: str
    on_hand: int
    reserved: int
    on_hand_delta: int
    reserved_delta: int
    applied: bool

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def available_before(self) -> int:
        return (self.on_hand - self.on_hand_delta) - (self.reserved - self.reserved_delta)


def _insert(s: Session, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT on either database."""
    return pg_insert(table) if s.get_bind().dialect.name == "postgresql" else sqlite_insert(table)


def _mark_statement(dialect: str) -> Any:
    """Insert a push mark or move an existing one's time on (executed with every mark's row:
    the rows go in the order given, in one statement where the driver allows)."""
    table = cast(Table, StockDirty.__table__)
    stmt = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    return stmt.on_conflict_do_update(
        index_elements=["store_id", "sku"], set_={"marked_at": stmt.excluded.marked_at}
    )


_MARK = {dialect: _mark_statement(dialect) for dialect in ("postgresql", "sqlite")}


def ensure_item(s: Session, account_id: int, sku: str, location: str) -> int:
    """The id of the (SKU, location) item, created at zero if new (race-free)."""
    table = StockItem.__table__
    now = utcnow()
    s.execute(
        _insert(s, table)
        .values(
            account_id=account_id,
            sku=sku,
            location=location,
            on_hand=0,
            reserved=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["account_id", "sku", "location"])
    )
    item_id = s.scalar(
        select(StockItem.id).where(
            StockItem.account_id == account_id, StockItem.sku == sku, StockItem.location == location
        )
    )
    assert item_id is not None
    return item_id


# The ledger's hot statements, built once per process (no statement built, keyed and
# matched per call; the movement is one INSERT on the session's connection, no unit of work).
_FIND_ITEM = select(StockItem).where(
    StockItem.account_id == bindparam("w_account"),
    StockItem.sku == bindparam("w_sku"),
    StockItem.location == bindparam("w_location"),
)
_MOVEMENT_EXISTS = select(StockMovement.id).where(
    StockMovement.account_id == bindparam("w_account"), StockMovement.key == bindparam("w_key")
)
_items = cast(Table, StockItem.__table__)
_MOVE_LEVELS = (
    update(_items)
    .where(_items.c.id == bindparam("w_id"), _items.c.account_id == bindparam("w_account"))
    .values(
        on_hand=_items.c.on_hand + bindparam("d_on_hand"),
        reserved=_items.c.reserved + bindparam("d_reserved"),
        updated_at=bindparam("w_now", type_=_items.c.updated_at.type),
    )
    .returning(_items.c.on_hand, _items.c.reserved, _items.c.sku, _items.c.updated_at)
)
_INSERT_MOVEMENT = cast(Table, StockMovement.__table__).insert()
_links = cast(Table, CatalogLink.__table__)
_stores = cast(Table, Store.__table__)
_TRACKED_MARKS = (
    select(_links.c.store_id, _links.c.sku)
    .join(_stores, _stores.c.id == _links.c.store_id)
    .where(
        _links.c.account_id == bindparam("w_account"),
        _links.c.sku.in_(bindparam("w_skus", expanding=True)),
        _links.c.tracked.is_(True),
        _stores.c.state == StoreState.active,
    )
)


def find_item(s: Session, account_id: int, sku: str, location: str) -> StockItem | None:
    found: StockItem | None = s.scalar(
        _FIND_ITEM, {"w_account": account_id, "w_sku": sku, "w_location": location}
    )
    return found


def movement_exists(s: Session, account_id: int, key: str) -> bool:
    return s.scalar(_MOVEMENT_EXISTS, {"w_account": account_id, "w_key": key}) is not None


def move(
    s: Session,
    item: StockItem | int,
    *,
    account_id: int,
    key: str,
    reason: str,
    source: str,
    on_hand: int = 0,
    reserved: int = 0,
    store_id: int | None = None,
    order_id: int | None = None,
    note: str | None = None,
    looked: bool = False,
) -> Moved | None:
    """Apply one movement once. ``None`` when ``key`` was already applied.

    ``looked``: the caller has just found no movement under ``key`` in this transaction
    (``movement_exists``), so it is not asked again. A concurrent duplicate fails on the
    unique key at its INSERT (``IntegrityError``) and its transaction rolls back whole, level
    change included; the caller retries.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown stock movement reason {reason!r}")
    if not looked and movement_exists(s, account_id, key):
        return None
    item_id = item if isinstance(item, int) else item.id
    s.flush()  # what the session holds goes first (the movement refers to it)
    conn = s.connection()
    now = utcnow()
    row = conn.execute(
        _MOVE_LEVELS,
        {
            "w_id": item_id,
            "w_account": account_id,
            "d_on_hand": on_hand,
            "d_reserved": reserved,
            "w_now": now,
        },
    ).one()
    conn.execute(
        _INSERT_MOVEMENT,
        {
            "account_id": account_id,
            "stock_item_id": item_id,
            "key": key[:255],
            "reason": reason,
            "source": source[:200],
            "on_hand_delta": on_hand,
            "reserved_delta": reserved,
            "on_hand_after": row.on_hand,
            "reserved_after": row.reserved,
            "store_id": store_id,
            "order_id": order_id,
            "note": note,
            "at": now,
        },
    )
    # An object loaded before the UPDATE would show stale levels: it takes the row's new
    # ones from RETURNING (the UPDATE holds the row's lock, so they are current).
    if isinstance(item, StockItem):
        for name in ("on_hand", "reserved", "updated_at"):
            set_committed_value(item, name, getattr(row, name))
    return Moved(item_id, row.sku, row.on_hand, row.reserved, on_hand, reserved, True)


def tracked_marks(s: Session, account_id: int, skus: Iterable[str]) -> list[tuple[int, str]]:
    """(store id, SKU) of the account's tracked links for ``skus`` on active stores, in order."""
    wanted = sorted(set(skus))
    if not wanted:
        return []
    found = s.execute(_TRACKED_MARKS, {"w_account": account_id, "w_skus": wanted})
    return sorted({(store_id, sku) for store_id, sku in found})


def mark_dirty(s: Session, account_id: int, skus: Iterable[str]) -> set[int]:
    """Mark every active channel's link for ``skus`` as needing a push; returns the store ids.

    A mark already present is refreshed (``marked_at`` moves on), so a push that read
    the old mark does not delete the new one.
    """
    now = utcnow()
    marks = tracked_marks(s, account_id, skus)
    if marks:  # one statement for every mark (in one order: concurrent markers do not deadlock)
        rows = [{"store_id": store_id, "sku": sku, "marked_at": now} for store_id, sku in marks]
        s.execute(_MARK[s.get_bind().dialect.name], rows)
    return {store_id for store_id, _sku in marks}


def mark_one(s: Session, store_id: int, sku: str) -> set[int]:
    """Mark one channel's link for ``sku`` as needing a push (as ``mark_dirty`` does); returns
    the store id."""
    s.execute(_MARK[s.get_bind().dialect.name], [{"store_id": store_id, "sku": sku, "marked_at": utcnow()}])
    return {store_id}


def is_marked(s: Session, store_id: int, sku: str) -> bool:
    """Whether the channel's link for ``sku`` waits for a push."""
    found = s.scalar(select(StockDirty.sku).where(StockDirty.store_id == store_id, StockDirty.sku == sku))
    return found is not None


def clear_marks(s: Session, store_id: int, marks: Sequence[tuple[str, datetime]]) -> None:
    """Delete the marks that were pushed, unless they were refreshed meanwhile (one executemany)."""
    if not marks:
        return
    s.flush()
    _CLEAR_MARKS.run(s, [{"b_store": store_id, "b_sku": sku, "b_marked": at} for sku, at in marks])


def _clear_marks_statement() -> Many:
    table = cast(Table, StockDirty.__table__)
    return Many(
        delete(table).where(
            table.c.store_id == bindparam("b_store"),
            table.c.sku == bindparam("b_sku"),
            table.c.marked_at <= bindparam("b_marked", type_=table.c.marked_at.type),
        )
    )


_CLEAR_MARKS = _clear_marks_statement()


def buffers_for(s: Session, store_id: int) -> tuple[dict[str, Buffer], Buffer | None]:
    """A channel's per-SKU buffers and its default (``sku`` = ``*``)."""
    per_sku: dict[str, Buffer] = {}
    default: Buffer | None = None
    for row in s.scalars(select(StockBuffer).where(StockBuffer.store_id == store_id)):
        buffer = Buffer(row.kind, Decimal(row.value))  # type: ignore[arg-type]
        if row.sku == "*":
            default = buffer
        else:
            per_sku[row.sku] = buffer
    return per_sku, default


def parse_buffer(text: str | None) -> Buffer | None:
    """``"2"`` -> 2 units; ``"10%"`` -> 10 percent; empty -> none."""
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    if raw.endswith("%"):
        return Buffer("percent", Decimal(raw[:-1].strip()))
    return Buffer("absolute", Decimal(raw))


def published_levels(
    s: Session, store: Store, skus: Iterable[str], location: str, fallback: Buffer | None = None
) -> dict[str, int]:
    """What ``store`` should show for each SKU: max(0, available - the channel's buffer)."""
    wanted = sorted(set(skus))
    per_sku, default = buffers_for(s, store.id)
    default = default or fallback
    rows = s.execute(
        select(StockItem.sku, StockItem.on_hand, StockItem.reserved).where(
            StockItem.account_id == store.account_id,
            StockItem.location == location,
            StockItem.sku.in_(wanted),
        )
    )
    return {
        sku: published(on_hand - reserved, resolve_buffer(sku, per_sku, default))
        for sku, on_hand, reserved in rows
    }

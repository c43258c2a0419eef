"""Operator actions on the stock ledger: adjust, count, low-stock thresholds, channel buffers.

Each action is one transaction: the movement (with a unique key, so a retried request
with the same key changes nothing), the SKU's timeline entry and the push marks of
every channel that lists the SKU. Pushes are scheduled after the commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInput, NotFound
from core.inventory import Buffer
from db.models import CatalogLink, StockBuffer, StockItem, Store
from db.stock import ensure_item, mark_dirty, move, parse_buffer
from db.timeline import record
from sync.inventory import low_stock_check
from sync.stock_push import schedule_push

if TYPE_CHECKING:
    from sync.runtime import Runtime

MAX_UNITS = 1_000_000_000  # a level or delta beyond this is a typo, not stock


class StockInputError(InvalidInput, ValueError):
    """The operator's input is refused; the message says why."""


class UnknownSku(NotFound, LookupError):
    """The account has no such SKU in the ledger (at the configured location)."""


class UnknownStore(NotFound, LookupError):
    """The account has no such store."""


@dataclass(frozen=True)
class Level:
    """A SKU's level after an action; ``applied`` is False when the key was used before."""

    sku: str
    on_hand: int
    reserved: int
    applied: bool
    on_hand_delta: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def clean_sku(sku: str | None) -> str:
    text = (sku or "").strip()
    if not text:
        raise StockInputError("SKU must not be blank")
    if len(text) > 255:
        raise StockInputError("SKU is longer than 255 characters")
    return text


def _whole(name: str, value: object) -> int:
    # bool is an int in Python; JSON true must not count as 1 unit.
    if isinstance(value, bool) or not isinstance(value, int):
        raise StockInputError(f"{name} must be a whole number")
    if abs(value) > MAX_UNITS:
        raise StockInputError(f"{name} is out of range")
    return value


def _item(s: Session, account_id: int, sku: str, location: str, create: bool) -> StockItem:
    query = select(StockItem).where(
        StockItem.account_id == account_id, StockItem.sku == sku, StockItem.location == location
    )
    # Lock the row: a count reads on_hand and must move it before anyone else does.
    item = s.scalar(query.with_for_update())
    if item is None and create:
        ensure_item(s, account_id, sku, location)
        item = s.scalar(query.with_for_update())
    if item is None:
        raise UnknownSku(f"no SKU {sku!r} in the ledger at {location!r}")
    return item


def _apply(
    rt: Runtime,
    account_id: int,
    sku: str,
    *,
    reason: str,
    actor: str,
    note: str | None,
    key: str | None,
    create: bool,
    counted: int | None = None,
    delta: int = 0,
) -> Level:
    inv = rt.settings.inventory
    key = key or f"{'count' if counted is not None else 'manual'}:{uuid.uuid4().hex}"
    with rt.session() as s:
        item = _item(s, account_id, sku, inv.location, create)
        if counted is not None:
            delta = counted - item.on_hand
        moved = move(
            s,
            item,
            account_id=account_id,
            key=key,
            reason=reason,
            source=f"operator:{actor}"[:200],
            on_hand=delta,
            note=note,
        )
        if moved is None:  # this key was applied before: report the level as it is now
            return Level(sku, item.on_hand, item.reserved, applied=False)
        action = "stock.counted" if counted is not None else "stock.adjusted"
        why = f"counted {counted}" if counted is not None else f"on hand {delta:+d}"
        record(
            s,
            account_id,
            f"sku:{sku}",
            actor,
            action,
            f"{why}: {note}" if note else why,
            {"on_hand_delta": delta, "on_hand": moved.on_hand, "available": moved.available},
        )
        low_stock_check(s, item, moved.available, inv.low_stock_threshold)
        stores = mark_dirty(s, account_id, [sku])
        result = Level(sku, moved.on_hand, moved.reserved, applied=True, on_hand_delta=delta)
    schedule_push(rt, stores)
    return result


def adjust(
    rt: Runtime,
    account_id: int,
    sku: str,
    delta: object,
    note: str | None,
    actor: str,
    *,
    key: str | None = None,
    create: bool = False,
) -> Level:
    """Move on hand by ``delta`` (a ``manual_adjustment``); a note saying why is required.

    ``delta`` is checked here (a whole number, not zero), so callers may pass what they were sent.

    ``create`` allows a SKU the ledger does not hold yet (it starts at zero).
    """
    sku = clean_sku(sku)
    delta = _whole("delta", delta)
    if delta == 0:
        raise StockInputError("delta must not be zero")
    if not (note or "").strip():
        raise StockInputError("an adjustment needs a note saying why")
    return _apply(
        rt,
        account_id,
        sku,
        reason="manual_adjustment",
        actor=actor,
        note=(note or "").strip(),
        key=key,
        create=create,
        delta=delta,
    )


def count(
    rt: Runtime,
    account_id: int,
    sku: str,
    counted: object,
    note: str | None,
    actor: str,
    *,
    key: str | None = None,
    create: bool = False,
) -> Level:
    """Set on hand to ``counted`` (checked here: a whole number >= 0), a ``count_correction``."""
    sku = clean_sku(sku)
    counted = _whole("count", counted)
    if counted < 0:
        raise StockInputError("a count cannot be negative")
    return _apply(
        rt,
        account_id,
        sku,
        reason="count_correction",
        actor=actor,
        note=(note or "").strip() or None,
        key=key,
        create=create,
        counted=counted,
    )


def set_threshold(rt: Runtime, account_id: int, sku: str, threshold: int | None, actor: str = "cli") -> None:
    """Alert when the SKU's available falls to ``threshold``; ``None`` falls back to the default."""
    sku = clean_sku(sku)
    if threshold is not None and _whole("threshold", threshold) < 0:
        raise StockInputError("a threshold cannot be negative")
    default = rt.settings.inventory.low_stock_threshold
    with rt.session() as s:
        item = _item(s, account_id, sku, rt.settings.inventory.location, create=False)
        item.low_stock_threshold = threshold
        record(
            s,
            account_id,
            f"sku:{sku}",
            actor,
            "stock.threshold_set",
            f"low-stock threshold {threshold if threshold is not None else 'default'}",
            {"threshold": threshold},
        )
        if threshold is None and default is None:
            item.low_stock_since = None  # no threshold at all: nothing is low
        else:
            # A new threshold may already be crossed (alert now) or no longer be (clear).
            low_stock_check(s, item, item.on_hand - item.reserved, default)


def parse_buffer_text(text: str) -> Buffer:
    """``"2"`` (units) or ``"10%"``; refuses anything else with a clear message."""
    try:
        buffer = parse_buffer(text)
    except (ArithmeticError, ValueError) as exc:
        raise StockInputError(
            f"bad buffer {text!r}: use whole units like 2 or a percentage like 10%"
        ) from exc
    if buffer is None:
        raise StockInputError("a buffer must not be blank (use none to remove it)")
    exponent = buffer.value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2 or buffer.value >= Decimal(10**10):
        raise StockInputError(f"bad buffer {text!r}: at most two decimals")
    return buffer


def set_buffer(
    rt: Runtime, account_id: int, store_id: int, sku: str, value: str | None, actor: str = "cli"
) -> Buffer | None:
    """Hold stock back from one channel: per SKU, or its default (``sku`` = ``*``); ``None`` removes it."""
    sku = "*" if (sku or "").strip() == "*" else clean_sku(sku)
    buffer = parse_buffer_text(value) if value is not None else None
    with rt.session() as s:
        store = s.get(Store, store_id)
        if store is None or store.account_id != account_id:
            raise UnknownStore(f"no store {store_id}")
        row = s.scalar(select(StockBuffer).where(StockBuffer.store_id == store_id, StockBuffer.sku == sku))
        if buffer is None and row is not None:
            s.delete(row)
        elif buffer is not None and row is None:
            s.add(
                StockBuffer(
                    account_id=account_id, store_id=store_id, sku=sku, kind=buffer.kind, value=buffer.value
                )
            )
        elif buffer is not None and row is not None:
            row.kind, row.value = buffer.kind, buffer.value
        shown = "none" if buffer is None else f"{buffer.value}{'%' if buffer.kind == 'percent' else ''}"
        record(
            s,
            account_id,
            f"store:{store_id}",
            actor,
            "stock.buffer_set",
            f"buffer for {'every SKU' if sku == '*' else sku}: {shown}",
            {
                "sku": sku,
                "kind": buffer.kind if buffer else None,
                "value": str(buffer.value) if buffer else None,
            },
        )
        s.flush()
        skus = (
            [sku]
            if sku != "*"
            else list(s.scalars(select(CatalogLink.sku).where(CatalogLink.store_id == store_id)))
        )
        stores = mark_dirty(s, account_id, skus)
    schedule_push(rt, stores)
    return buffer

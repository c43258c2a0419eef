"""Stock decisions: what a channel may show, reservations, coalescing, audits, low stock.

Pure functions over plain data. The ledger itself lives in ``db/``; ``sync/`` loads it,
asks these functions what to do, and acts through the connectors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, TypeVar

from core.orders import require_utc

T = TypeVar("T")

BufferKind = Literal["absolute", "percent"]


@dataclass(frozen=True)
class Buffer:
    """Safety stock a channel keeps back: ``value`` units, or ``value`` percent of available."""

    kind: BufferKind
    value: Decimal

    def __post_init__(self) -> None:
        if self.kind not in ("absolute", "percent"):
            raise ValueError(f"buffer kind must be 'absolute' or 'percent', got {self.kind!r}")
        if not isinstance(self.value, Decimal) or not self.value.is_finite():
            raise ValueError(f"buffer value must be a finite Decimal, got {self.value!r}")
        if self.value < 0:
            raise ValueError(f"buffer value must be >= 0, got {self.value}")
        if self.kind == "percent" and self.value > 100:
            raise ValueError(f"a percent buffer must be <= 100, got {self.value}")

    def units(self, available: int) -> int:
        """Whole units held back from ``available`` (rounded up: safety stock errs on the safe side)."""
        if available <= 0:
            return 0
        if self.kind == "absolute":
            return math.ceil(self.value)
        return math.ceil(Decimal(available) * self.value / 100)


def published(available: int, buffer: Buffer | None) -> int:
    """What a channel shows: ``max(0, available - buffer units)``; never negative."""
    if available <= 0:
        return 0
    held = buffer.units(available) if buffer is not None else 0
    return max(0, available - held)


def resolve_buffer(sku: str, per_sku: Mapping[str, Buffer], default: Buffer | None) -> Buffer | None:
    """The SKU's own buffer if it has one, else the channel's default (which may be none)."""
    return per_sku.get(sku, default)


@dataclass(frozen=True)
class StockPosition:
    """One SKU at one location. ``available`` below zero means more was sold than exists."""

    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class StockTaken:
    """What an order says about its units on the selling channel's own stock level.

    ``at`` is when the channel took them off its level (a platform takes them at
    creation, or only at payment); ``None`` means the channel holds none of them now:
    not taken yet (an unpaid order) or given back (a cancellation).
    """

    at: datetime | None

    def __post_init__(self) -> None:
        if self.at is not None:
            require_utc(self.at, "stock taken at")


def reserve(position: StockPosition, quantity: int) -> tuple[StockPosition, bool]:
    """Reserve ``quantity`` units: the new position, and whether stock fully covered them.

    The reservation is recorded even when it is not covered, so the ledger keeps
    counting what was promised; the caller flags that order oversold and holds it.
    """
    if quantity <= 0:
        raise ValueError(f"a reservation needs a positive quantity, got {quantity}")
    covered = position.available >= quantity
    return StockPosition(position.on_hand, position.reserved + quantity), covered


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in consecutive lists of at most ``size``, order kept (no empty list)."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass(frozen=True)
class Discrepancy:
    """A channel level that disagrees with the ledger.

    ``channel`` is None when the channel has no level for the SKU; ``difference`` is
    ``channel - expected`` (positive: the channel shows more than the ledger allows),
    None when the channel has no level.
    """

    sku: str
    channel: int | None
    expected: int
    difference: int | None


def compare_levels(expected: Mapping[str, int], channel: Mapping[str, int | None]) -> list[Discrepancy]:
    """Every ledger SKU whose channel level differs (missing counts as differing), sorted by SKU.

    SKUs the channel has but the ledger does not are not stock differences: the
    catalog import reports them as unmapped.
    """
    found: list[Discrepancy] = []
    for sku in sorted(expected):
        want, seen = expected[sku], channel.get(sku)
        if seen is None:
            found.append(Discrepancy(sku, None, want, None))
        elif seen != want:
            found.append(Discrepancy(sku, seen, want, seen - want))
    return found


def low_stock(
    available: Mapping[str, int], thresholds: Mapping[str, int], default_threshold: int | None
) -> list[str]:
    """SKUs at or below their threshold (per SKU, else the default; none means no alert), sorted."""
    low: list[str] = []
    for sku in sorted(available):
        threshold = thresholds.get(sku, default_threshold)
        if threshold is not None and available[sku] <= threshold:
            low.append(sku)
    return low

"""A channel's catalog as SKUs: one entry per sellable thing, and which SKUs can be linked.

Pure: the connectors turn platform pages into :class:`CatalogEntry` values and
:func:`map_skus` decides which SKUs map to exactly one entry. A SKU that two entries
of one store share is reported, never linked: guessing which one the stock belongs
to would publish levels to the wrong product.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

Dims = tuple[Decimal, Decimal, Decimal]
CENTIMETRE_STEP = Decimal("0.01")


@dataclass(frozen=True)
class CatalogEntry:
    """One sellable thing on a channel (a product, or a variant of one).

    ``available`` is the level the channel shows (at the chosen location where the
    channel has several), ``None`` when the channel keeps none. ``level_at`` is the
    platform's time of that level, UTC-aware. The connectors' catalog mappers say
    which fields of each platform these are.
    ``committed`` is what the channel's open orders (not shipped, not cancelled) took off
    that level and still hold, read with it; ``None`` when the connector cannot tell.
    ``grams`` (one unit) and ``dims_cm`` (length, width, height) are what the channel's
    catalog says of the thing, converted by :func:`to_grams` and :func:`to_centimetres`;
    ``None`` when it says nothing usable.
    """

    sku: str | None
    product_id: int
    variant_id: int | None
    title: str
    tracked: bool
    available: int | None = None
    level_at: datetime | None = None
    inventory_item_id: int | None = None
    location_id: int | None = None
    grams: int | None = None
    dims_cm: Dims | None = None
    committed: int | None = None

    @property
    def entry_id(self) -> int:
        """The id of the sellable thing: the variant (variation) when there is one, else the product."""
        return self.variant_id if self.variant_id is not None else self.product_id

    @property
    def clean_sku(self) -> str:
        """The SKU without surrounding whitespace ("" when there is none)."""
        return (self.sku or "").strip()


@dataclass(frozen=True)
class CatalogReport:
    """What :func:`map_skus` found: SKUs to link, entries without SKU, SKUs held by several entries."""

    mapped: dict[str, CatalogEntry]
    unmapped: list[CatalogEntry] = field(default_factory=list)
    duplicates: dict[str, list[int]] = field(default_factory=dict)

    @property
    def untracked(self) -> int:
        """Mapped SKUs whose channel does not track stock."""
        return sum(1 for entry in self.mapped.values() if not entry.tracked)


def map_skus(entries: Iterable[CatalogEntry]) -> CatalogReport:
    """Map each SKU held by exactly one entry to it.

    Blank or whitespace-only SKUs are unmapped. SKUs are compared after stripping
    surrounding whitespace and otherwise exactly (case matters, as on both platforms).
    A SKU held by two or more entries is in ``duplicates`` with their entry ids (in
    the order given) and not in ``mapped``.
    """
    by_sku: dict[str, list[CatalogEntry]] = {}
    unmapped: list[CatalogEntry] = []
    for entry in entries:
        sku = entry.clean_sku
        if not sku:
            unmapped.append(entry)
            continue
        by_sku.setdefault(sku, []).append(entry)
    mapped: dict[str, CatalogEntry] = {}
    duplicates: dict[str, list[int]] = {}
    for sku, held in by_sku.items():
        if len(held) == 1:
            mapped[sku] = held[0]
        else:
            duplicates[sku] = [e.entry_id for e in held]
    return CatalogReport(mapped, unmapped, duplicates)


def whole_quantity(value: Any) -> int | None:
    """A stock level as an int (``None`` stays ``None``); "12" and 12.0 are 12, 12.5 is refused."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"not a whole quantity: {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        sign = -1 if text[0] == "-" else 1
        digits = text[1:] if text[0] in "+-" else text
        whole, _, fraction = digits.partition(".")
        if whole.isascii() and whole.isdigit() and (not fraction or set(fraction) == {"0"}):
            return sign * int(whole)
    raise ValueError(f"not a whole quantity: {value!r}")


def measure(value: Any) -> Decimal | None:
    """A weight or length as the platform wrote it ("1.5", 1.5, 2) as a positive Decimal.

    Blank, zero, negative and unreadable values are ``None``: a catalog that says "0" or
    nothing has not weighed the thing. Floats go through their shortest repr, never
    through binary digits (1.1 is 1.1, not 1.100000000000000088...).
    """
    if value is None or isinstance(value, bool):
        return None
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite() or number <= 0:
        return None
    return number


def to_grams(value: Any, grams_per_unit: Decimal) -> int | None:
    """A weight in some unit as whole grams, rounded up (a parcel never weighs less on a label).

    ``to_grams("2.5", Decimal("453.59237"))`` (2.5 lb) is 1134; ``to_grams("0.5", 1000)`` is 500.
    """
    number = measure(value)
    if number is None:
        return None
    return int((number * grams_per_unit).to_integral_value(rounding=ROUND_CEILING))


def to_centimetres(values: tuple[Any, Any, Any], cm_per_unit: Decimal) -> Dims | None:
    """Length, width and height in some unit as centimetres, each rounded up to 0.01 cm.

    ``None`` unless all three are known and positive: a box cannot be chosen from two sides.
    """
    numbers = [measure(v) for v in values]
    if any(n is None for n in numbers):
        return None
    length, width, height = (
        (n * cm_per_unit).quantize(CENTIMETRE_STEP, rounding=ROUND_CEILING) for n in numbers if n is not None
    )
    return length, width, height

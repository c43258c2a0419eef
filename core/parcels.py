"""Box choice: the smallest carton that holds an order's units, or several when one cannot.

Pure. An item fits a box when its sorted dimensions each fit the box's sorted inner
dimensions; a box holds a set of items when each fits, their volume is at most the box's
and contents plus tare are at most its maximum weight (equal is allowed). The chooser
takes the smallest box (volume, then cost, then name) that holds everything; otherwise it
splits first-fit decreasing by volume into the largest box and then shrinks each parcel to
the smallest box that holds it. Anything that fits no box ends in a clear problem, never a
crash.

What one unit weighs: the order line's own weight when it has one (Shopify lines carry
grams), else what the channel's catalog says (``known``, by line id), else the default.
What it measures: the merchant's ``item_dimensions`` for its SKU, else the catalog, else
the default. :func:`unweighed` names the lines left at the default weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.orders import LineItem
from core.shipping import PackItem, Parcel


@dataclass(frozen=True)
class BoxSpec:
    name: str
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal
    tare_g: int
    max_weight_g: int
    cost: Decimal = Decimal("0")

    @classmethod
    def from_settings(cls, box: Any) -> BoxSpec:
        return cls(
            name=str(box.name),
            length_cm=Decimal(str(box.length_cm)),
            width_cm=Decimal(str(box.width_cm)),
            height_cm=Decimal(str(box.height_cm)),
            tare_g=int(box.tare_g),
            max_weight_g=int(box.max_weight_g),
            cost=Decimal(str(box.cost)),
        )

    @property
    def dims(self) -> tuple[Decimal, Decimal, Decimal]:
        a, b, c = sorted((self.length_cm, self.width_cm, self.height_cm), reverse=True)
        return a, b, c

    @property
    def volume(self) -> Decimal:
        return self.length_cm * self.width_cm * self.height_cm

    @property
    def capacity_g(self) -> int:
        return self.max_weight_g - self.tare_g


@dataclass(frozen=True)
class Measure:
    """What a channel's catalog says one unit weighs (grams) and measures (L, W, H in cm)."""

    grams: int | None = None
    dims_cm: tuple[Decimal, Decimal, Decimal] | None = None


@dataclass(frozen=True)
class PackPlan:
    parcels: tuple[Parcel, ...]
    problem: str | None = None


def _dims(values: Sequence[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    if len(values) != 3:
        raise ValueError(f"dimensions need three values (L, W, H), got {list(values)}")
    a, b, c = sorted((Decimal(str(v)) for v in values), reverse=True)
    return a, b, c


def _ships(line: LineItem) -> bool:
    return line.requires_shipping and line.quantity > 0


def _line_grams(line: LineItem) -> int | None:
    return line.grams if line.grams and line.grams > 0 else None


def unit_grams(line: LineItem, known: Measure | None) -> int | None:
    """One unit's weight: the line's own, else the catalog's; ``None`` when neither says."""
    own = _line_grams(line)
    if own is not None:
        return own
    if known is not None and known.grams and known.grams > 0:
        return known.grams
    return None


def unweighed(lines: Sequence[LineItem], known: Mapping[str, Measure] | None = None) -> list[LineItem]:
    """The lines that ship and whose weight neither the line nor the catalog gives."""
    known = known or {}
    return [line for line in lines if _ships(line) and unit_grams(line, known.get(line.line_id)) is None]


def pack_items(
    lines: Sequence[LineItem],
    dims: Mapping[str, Sequence[Decimal]],
    default_grams: int,
    default_cm: Sequence[Decimal],
    known: Mapping[str, Measure] | None = None,
) -> list[PackItem]:
    """One PackItem per unit of every line that needs shipping."""
    fallback = _dims(default_cm)
    known = known or {}
    items: list[PackItem] = []
    for line in lines:
        if not _ships(line):
            continue
        sku = (line.sku or "").strip()
        measured = known.get(line.line_id)
        grams = unit_grams(line, measured) or default_grams
        if sku and sku in dims:
            size = _dims(dims[sku])
        elif measured is not None and measured.dims_cm is not None:
            size = _dims(measured.dims_cm)
        else:
            size = fallback
        unit = PackItem(
            sku=sku or line.title,
            grams=grams,
            dims_cm=size,
            line_id=line.line_id,
            value=line.unit_price.amount,
        )
        items.extend([unit] * line.quantity)
    return items


def _volume(item: PackItem) -> Decimal:
    a, b, c = item.dims_cm
    return a * b * c


def _fits(item: PackItem, box: BoxSpec) -> bool:
    return all(i <= b for i, b in zip(sorted(item.dims_cm, reverse=True), box.dims, strict=True)) and (
        item.grams <= box.capacity_g
    )


def holds(box: BoxSpec, items: Sequence[PackItem]) -> bool:
    """Whether ``box`` holds all of ``items`` (each fits, total volume and weight within limits)."""
    return (
        all(_fits(i, box) for i in items)
        and sum((_volume(i) for i in items), Decimal("0")) <= box.volume
        and sum(i.grams for i in items) <= box.capacity_g
    )


def _order(boxes: Sequence[BoxSpec]) -> list[BoxSpec]:
    return sorted(boxes, key=lambda b: (b.volume, b.cost, b.name))


def _parcel(box: BoxSpec, items: Sequence[PackItem]) -> Parcel:
    return Parcel(
        box=box.name,
        length_cm=box.length_cm,
        width_cm=box.width_cm,
        height_cm=box.height_cm,
        weight_g=box.tare_g + sum(i.grams for i in items),
        items=tuple(items),
    )


def _describe(item: PackItem) -> str:
    a, b, c = item.dims_cm
    return f"{item.sku} ({a:g}x{b:g}x{c:g} cm, {item.grams} g)"


def choose_parcels(items: Sequence[PackItem], boxes: Sequence[BoxSpec]) -> PackPlan:
    """The parcels for ``items``: one box if any holds them all, else as few as first-fit finds."""
    if not items:
        return PackPlan((), "nothing to ship: no line needs shipping")
    if not boxes:
        return PackPlan((), "no boxes are configured (shipping.boxes)")
    ranked = _order(boxes)
    for box in ranked:
        if holds(box, items):
            return PackPlan((_parcel(box, items),))
    misfits = [i for i in items if not any(_fits(i, b) for b in ranked)]
    if misfits:
        largest = max(ranked, key=lambda b: (b.volume, b.capacity_g))
        seen: dict[str, PackItem] = {}
        for i in misfits:
            seen.setdefault(i.sku, i)
        names = ", ".join(_describe(i) for i in seen.values())
        a, b, c = largest.dims
        return PackPlan(
            (),
            f"{names} fits no box (largest: {largest.name}, {a:g}x{b:g}x{c:g} cm, "
            f"{largest.capacity_g} g of contents)",
        )
    # First-fit decreasing: the bulkiest units first, each into the first open parcel that
    # still holds it in the box that can take it, else a new parcel.
    bins: list[list[PackItem]] = []
    for item in sorted(items, key=lambda i: (_volume(i), i.grams), reverse=True):
        for contents in bins:
            if any(holds(box, [*contents, item]) for box in ranked):
                contents.append(item)
                break
        else:
            bins.append([item])
    parcels = []
    for contents in bins:
        box = next(b for b in ranked if holds(b, contents))
        parcels.append(_parcel(box, contents))
    return PackPlan(tuple(parcels))


@dataclass(frozen=True)
class CustomsLine:
    description: str
    sku: str
    quantity: int
    value: Decimal
    weight_g: int
    origin_country: str


def needs_customs(from_country: str | None, to_country: str | None) -> bool:
    """A customs declaration is needed when both countries are known and differ."""
    if not from_country or not to_country:
        return False
    return from_country.strip().upper() != to_country.strip().upper()


def customs_lines(parcel: Parcel, titles: Mapping[str, str], origin_country: str) -> list[CustomsLine]:
    """One line per SKU in the parcel: quantity, total value and weight."""
    grouped: dict[str, list[PackItem]] = {}
    for item in parcel.items:
        grouped.setdefault(item.sku, []).append(item)
    return [
        CustomsLine(
            description=(titles.get(sku) or sku)[:255],
            sku=sku,
            quantity=len(units),
            value=sum((u.value for u in units), Decimal("0")),
            weight_g=sum(u.grams for u in units),
            origin_country=origin_country.upper(),
        )
        for sku, units in sorted(grouped.items())
    ]

"""Pick lists and packing verification.

Pure. A pick list walks the warehouse once: units grouped by SKU across the batch's
orders, sorted by bin in natural order (A2 before A10), SKUs without a bin last. Packing
verification compares what was scanned (SKUs or barcodes) with what the order holds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.orders import Order


@dataclass(frozen=True)
class PickLine:
    bin: str | None
    sku: str
    title: str
    quantity: int
    orders: tuple[str, ...]


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key where digit runs compare as numbers: A2 < A10 < B1."""
    parts = re.split(r"(\d+)", text.lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def pick_list(orders: Sequence[tuple[str, Order]], bins: Mapping[str, str]) -> list[PickLine]:
    """Every unit to pick for ``orders`` (reference, order), one line per SKU, in walking order."""
    qty: Counter[str] = Counter()
    titles: dict[str, str] = {}
    refs: dict[str, list[str]] = {}
    for ref, order in orders:
        for line in order.line_items:
            if not line.requires_shipping or line.quantity <= 0:
                continue
            sku = (line.sku or "").strip()
            key = sku or f"\0{line.title}"  # lines without SKU are grouped by title
            qty[key] += line.quantity
            titles.setdefault(key, line.title)
            seen = refs.setdefault(key, [])
            if ref not in seen:
                seen.append(ref)
    lines = [
        PickLine(
            bin=_bin(bins, key) if not key.startswith("\0") else None,
            sku="" if key.startswith("\0") else key,
            title=titles[key],
            quantity=qty[key],
            orders=tuple(refs[key]),
        )
        for key in qty
    ]
    return sorted(
        lines,
        key=lambda p: (p.bin is None, natural_key(p.bin or ""), natural_key(p.sku), p.title),
    )


def _bin(bins: Mapping[str, str], sku: str) -> str | None:
    """The SKU's bin; a blank one is no bin (walked last, not first)."""
    return (bins.get(sku) or "").strip() or None


@dataclass(frozen=True)
class PackCheck:
    ok: bool
    missing: Mapping[str, int] = field(default_factory=dict)
    extra: Mapping[str, int] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    message: str = ""


def verify_packing(
    expected: Mapping[str, int], scanned: Sequence[str], barcodes: Mapping[str, str] | None = None
) -> PackCheck:
    """Compare the scanned codes (SKUs or barcodes) with the order's units per SKU."""
    codes = {k.strip(): v for k, v in (barcodes or {}).items()}
    want = Counter({sku: n for sku, n in expected.items() if n > 0})
    got: Counter[str] = Counter()
    unknown: list[str] = []
    for raw in scanned:
        code = raw.strip()
        if not code:
            continue
        sku = codes.get(code, code)
        if sku in want or code in codes:
            got[sku] += 1
        else:
            unknown.append(code)
    missing = dict(sorted((want - got).items()))
    extra = dict(sorted((got - want).items()))
    ok = not missing and not extra and not unknown
    if ok:
        message = f"contents verified: {sum(want.values())} unit(s) of {len(want)} SKU(s)"
    else:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"{n} x {s}" for s, n in missing.items()))
        if extra:
            parts.append("extra " + ", ".join(f"{n} x {s}" for s, n in extra.items()))
        if unknown:
            parts.append("not in this order: " + ", ".join(unknown))
        message = "; ".join(parts)
    return PackCheck(ok, missing, extra, tuple(unknown), message)


def expected_units(order: Order) -> dict[str, int]:
    """The units the parcel must hold, per SKU (title when a line has none)."""
    units: Counter[str] = Counter()
    for line in order.line_items:
        if line.requires_shipping and line.quantity > 0:
            units[(line.sku or "").strip() or line.title] += line.quantity
    return dict(units)

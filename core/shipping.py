"""Canonical shipping types: what a parcel holds, a carrier's rate, a bought label.

Plain data shared by the box chooser (core/parcels.py), the rate chooser
(core/rates.py), the EasyPost connector (connectors/easypost/) and the shipping flow
(sync/shipping/). Weights in grams, lengths in centimetres, money as
:class:`core.money.Money`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.money import Money


@dataclass(frozen=True)
class PackItem:
    """One unit of one SKU to pack (a line of quantity 3 is three PackItems)."""

    sku: str
    grams: int
    dims_cm: tuple[Decimal, Decimal, Decimal]  # any order; the chooser sorts them
    line_id: str = ""
    value: Decimal = Decimal("0")  # unit price, for customs and insurance


@dataclass(frozen=True)
class Parcel:
    """A packed box: its inside and outside figures and what went in it."""

    box: str
    length_cm: Decimal
    width_cm: Decimal
    height_cm: Decimal
    weight_g: int  # contents + tare
    items: tuple[PackItem, ...] = ()

    @property
    def value(self) -> Decimal:
        return sum((i.value for i in self.items), Decimal("0"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": self.box,
            "length_cm": str(self.length_cm),
            "width_cm": str(self.width_cm),
            "height_cm": str(self.height_cm),
            "weight_g": self.weight_g,
            "items": [{"sku": i.sku, "line_id": i.line_id, "grams": i.grams} for i in self.items],
        }


@dataclass(frozen=True)
class Rate:
    """One carrier service's price for one shipment."""

    rate_id: str
    carrier: str
    service: str
    price: Money
    delivery_days: int | None  # None: the carrier does not promise a time

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate_id": self.rate_id,
            "carrier": self.carrier,
            "service": self.service,
            "price": self.price.to_dict(),
            "delivery_days": self.delivery_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rate:
        days = data.get("delivery_days")
        return cls(
            rate_id=str(data["rate_id"]),
            carrier=str(data["carrier"]),
            service=str(data["service"]),
            price=Money.from_dict(dict(data["price"])),
            delivery_days=int(days) if days is not None else None,
        )


@dataclass(frozen=True)
class Considered:
    """A rate as the chooser saw it: eligible or not, and why."""

    rate: Rate
    eligible: bool
    reason: str  # "cheapest meeting 3 days", "denied carrier", "too slow: 5 days > 3", ...

    def to_dict(self) -> dict[str, Any]:
        return {**self.rate.to_dict(), "eligible": self.eligible, "reason": self.reason}


@dataclass(frozen=True)
class RateChoice:
    """The winner (None when nothing is eligible), the ranked fallbacks, and every rate considered."""

    chosen: Rate | None
    fallbacks: tuple[Rate, ...]
    considered: tuple[Considered, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen.to_dict() if self.chosen else None,
            "fallbacks": [r.to_dict() for r in self.fallbacks],
            "considered": [c.to_dict() for c in self.considered],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AddressCheck:
    """What address verification said: deliverable or not, the carrier's words, a correction."""

    deliverable: bool
    messages: tuple[str, ...] = ()
    suggestion: dict[str, str] | None = None  # the corrected address's fields, when one was offered


@dataclass(frozen=True)
class Label:
    """A purchased label."""

    shipment_id: str
    tracking_code: str
    carrier: str
    service: str
    label_url: str
    price: Money | None = None
    tracker_id: str | None = None
    tracking_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shipment_id": self.shipment_id,
            "tracking_code": self.tracking_code,
            "carrier": self.carrier,
            "service": self.service,
            "label_url": self.label_url,
            "price": self.price.to_dict() if self.price else None,
            "tracker_id": self.tracker_id,
            "tracking_url": self.tracking_url,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Label:
        price = data.get("price")
        return cls(
            shipment_id=str(data["shipment_id"]),
            tracking_code=str(data["tracking_code"]),
            carrier=str(data["carrier"]),
            service=str(data["service"]),
            label_url=str(data.get("label_url") or ""),
            price=Money.from_dict(dict(price)) if price else None,
            tracker_id=data.get("tracker_id"),
            tracking_url=data.get("tracking_url"),
        )


def parcel_to_json(parcel: Parcel) -> dict[str, Any]:
    """``Parcel.to_dict()`` plus what rebuilding it needs (each unit's size and value)."""
    data = parcel.to_dict()
    data["value"] = str(parcel.value)
    for out, item in zip(data["items"], parcel.items, strict=True):
        out["dims_cm"] = [str(d) for d in item.dims_cm]
        out["value"] = str(item.value)
    return data


def parcel_from_json(data: Mapping[str, Any]) -> Parcel:
    """The parcel :func:`parcel_to_json` wrote."""
    items = tuple(
        PackItem(
            sku=str(i["sku"]),
            grams=int(i["grams"]),
            dims_cm=_three([Decimal(str(d)) for d in i.get("dims_cm") or (0, 0, 0)]),
            line_id=str(i.get("line_id") or ""),
            value=Decimal(str(i.get("value") or "0")),
        )
        for i in data.get("items") or []
    )
    return Parcel(
        box=str(data["box"]),
        length_cm=Decimal(str(data["length_cm"])),
        width_cm=Decimal(str(data["width_cm"])),
        height_cm=Decimal(str(data["height_cm"])),
        weight_g=int(data["weight_g"]),
        items=items,
    )


def _three(values: Sequence[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    a, b, c = (list(values) + [Decimal("0")] * 3)[:3]
    return a, b, c

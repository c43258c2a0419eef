"""One shipment's tracking as people read it: the tracking page, the API and the CLI.

:func:`view_of` gathers what Waybill knows about a parcel (its delivery state in plain
words, the carrier's estimate, the scans newest first, the exceptions still open, the
items in the box and the destination city) into a :class:`TrackingView`. The public page
shows a part of it (no exception reasons meant for the merchant); the API shows it all.
Nothing here is personal data beyond the destination city: no name, e-mail or address.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.orders import Order
from db.models import DeliveryException, Shipment, TrackingScan
from db.models import Order as OrderRow

UNFINISHED = ("open", "acknowledged")  # exception states that still ask for attention

# A delivery state (core.tracking.DeliveryState) in the words a customer reads.
STATE_WORDS: dict[str, str] = {
    "pre_transit": "Label created: the carrier has not picked it up yet",
    "in_transit": "On its way",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered",
    "available_for_pickup": "Ready for pickup at the carrier's location",
    "return_to_sender": "Being returned to the sender",
    "failure": "Delivery failed",
    "cancelled": "Shipment cancelled",
    "error": "The carrier reported a problem",
    "unknown": "Waiting for the carrier's first scan",
}
NO_STATE_WORDS = "Preparing your parcel"  # no label (or no carrier word) yet

# What the tracking page tells the customer about an exception (core.tracking.ExceptionKind);
# the merchant's reason and recommended action stay on the API and the CLI.
NOTICE_WORDS: dict[str, str] = {
    "failure": "The carrier could not deliver this parcel. We are looking into it.",
    "return_to_sender": "This parcel is on its way back to us. We will be in touch.",
    "available_for_pickup": "This parcel is waiting for you at the carrier's pickup point.",
    "attempted_delivery": "The carrier tried to deliver this parcel and will try again.",
    "carrier_error": "The carrier reported a problem with this parcel. We are looking into it.",
    "late": "This parcel is running late. We are keeping an eye on it.",
    "stalled": "This parcel has not moved for a while. We are looking into it.",
}
NOTICE_DEFAULT = "There is a problem with this delivery. We are looking into it."


def state_words(state: str | None) -> str:
    return STATE_WORDS.get(state or "", NO_STATE_WORDS)


def notice_words(kind: str) -> str:
    return NOTICE_WORDS.get(kind, NOTICE_DEFAULT)


def place_text(place: dict[str, Any] | None) -> str | None:
    """ "Memphis, TN, US" from a scan's place (a carrier facility; the postal code is left out)."""
    if not place:
        return None
    parts = [str(place[k]).strip() for k in ("city", "state", "country") if place.get(k)]
    return ", ".join(p for p in parts if p) or None


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


@dataclass(frozen=True)
class ScanLine:
    happened_at: datetime
    status: str
    detail: str | None
    message: str | None
    place: str | None

    @property
    def status_words(self) -> str:
        return state_words(self.status)

    def to_json(self) -> dict[str, Any]:
        return {
            "happened_at": self.happened_at.isoformat(),
            "status": self.status,
            "status_detail": self.detail,
            "message": self.message,
            "place": self.place,
        }


@dataclass(frozen=True)
class Notice:
    """An exception that still asks for attention (open or acknowledged)."""

    exception_id: int
    kind: str
    state: str
    reason: str
    action: str
    opened_at: datetime

    @property
    def customer_words(self) -> str:
        return notice_words(self.kind)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.exception_id,
            "kind": self.kind,
            "state": self.state,
            "reason": self.reason,
            "action": self.action,
            "opened_at": self.opened_at.isoformat(),
        }


@dataclass(frozen=True)
class TrackingView:
    shipment_id: int
    account_id: int
    order_id: int
    order_number: str
    package: int
    tracking_code: str | None
    carrier: str | None
    service: str | None
    route_class: str | None
    state: str | None
    est_delivery_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    last_scan_at: datetime | None
    scans: tuple[ScanLine, ...]  # newest first
    notices: tuple[Notice, ...]
    items: tuple[tuple[str, int], ...]  # (title, quantity) in the box
    destination_city: str | None

    @property
    def state_words(self) -> str:
        return state_words(self.state)

    def to_json(self) -> dict[str, Any]:
        return {
            "shipment_id": self.shipment_id,
            "order_id": self.order_id,
            "order_number": self.order_number,
            "package": self.package,
            "tracking_code": self.tracking_code,
            "carrier": self.carrier,
            "service": self.service,
            "route_class": self.route_class,
            "state": self.state,
            "state_words": self.state_words,
            "est_delivery_at": _iso(self.est_delivery_at),
            "shipped_at": _iso(self.shipped_at),
            "delivered_at": _iso(self.delivered_at),
            "last_scan_at": _iso(self.last_scan_at),
            "scans": [scan.to_json() for scan in self.scans],
            "exceptions": [notice.to_json() for notice in self.notices],
            "items": [{"title": title, "quantity": qty} for title, qty in self.items],
            "destination_city": self.destination_city,
        }


def _scans(s: Session, shipment_id: int) -> tuple[ScanLine, ...]:
    rows = s.scalars(
        select(TrackingScan)
        .where(TrackingScan.shipment_id == shipment_id)
        .order_by(TrackingScan.happened_at.desc(), TrackingScan.id.desc())
    )
    return tuple(
        ScanLine(r.happened_at, r.status, r.status_detail, r.message, place_text(r.place)) for r in rows
    )


def _notices(s: Session, shipment_id: int) -> tuple[Notice, ...]:
    rows = s.scalars(
        select(DeliveryException)
        .where(DeliveryException.shipment_id == shipment_id, DeliveryException.state.in_(UNFINISHED))
        .order_by(DeliveryException.opened_at, DeliveryException.id)
    )
    return tuple(Notice(r.id, r.kind, r.state, r.reason, r.action, r.opened_at) for r in rows)


def _items(order: Order, shipment: Shipment) -> tuple[tuple[str, int], ...]:
    """Titles and quantities of what is in this parcel (the whole order's shipped lines when
    the parcel does not say which units it holds)."""
    lines = [line for line in order.line_items if line.requires_shipping and line.quantity > 0]
    titles = {line.line_id: line.title or "Item" for line in lines}
    units = Counter(
        str(item.get("line_id"))
        for item in (shipment.parcel or {}).get("items", [])
        if isinstance(item, dict) and str(item.get("line_id")) in titles
    )
    if units:
        return tuple((titles[line_id], qty) for line_id, qty in units.items())
    return tuple((line.title or "Item", line.quantity) for line in lines)


def _city(row: OrderRow, order: Order) -> str | None:
    if row.redacted_at is not None or order.shipping_address is None:
        return None
    return (order.shipping_address.city or "").strip() or None


def view_of(s: Session, shipment: Shipment) -> TrackingView:
    row = s.get(OrderRow, shipment.order_id)
    if row is None:  # the order went (cascades take its shipments with it)
        raise NotFound(f"no shipment {shipment.id}")
    order = Order.from_dict(row.data)
    return TrackingView(
        shipment_id=shipment.id,
        account_id=shipment.account_id,
        order_id=row.id,
        order_number=row.number,
        package=shipment.package,
        tracking_code=shipment.tracking_code,
        carrier=shipment.carrier,
        service=shipment.service,
        route_class=shipment.route_class,
        state=shipment.delivery_state,
        est_delivery_at=shipment.est_delivery_at,
        shipped_at=shipment.shipped_at,
        delivered_at=shipment.delivered_at,
        last_scan_at=shipment.last_scan_at,
        scans=_scans(s, shipment.id),
        notices=_notices(s, shipment.id),
        items=_items(order, shipment),
        destination_city=_city(row, order),
    )


def shipment_view(s: Session, account_id: int | None, shipment_id: int) -> TrackingView:
    """The shipment's view; another account's shipment (when ``account_id`` is given) is not found."""
    shipment = s.get(Shipment, shipment_id)
    if shipment is None or (account_id is not None and shipment.account_id != account_id):
        raise NotFound(f"no shipment {shipment_id}")
    return view_of(s, shipment)


def order_views(s: Session, account_id: int | None, order_id: int) -> list[TrackingView]:
    """Every parcel of the order, in package order; another account's order is not found."""
    order = s.get(OrderRow, order_id)
    if order is None or (account_id is not None and order.account_id != account_id):
        raise NotFound(f"no order {order_id}")
    rows = s.scalars(select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.package))
    return [view_of(s, row) for row in rows]

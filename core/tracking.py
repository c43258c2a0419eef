"""Where a parcel is, from what its carrier says: scans, delivery state, milestones, exceptions.

Pure: no I/O, no platform. A carrier's report on one parcel (:class:`TrackerReport`, mapped
from EasyPost by ``connectors/easypost/mappers.py``) carries its scans; :func:`merge` adds
a report's scans to those already known (each scan once, by :attr:`Scan.key`; carrier time
decides the order, never arrival), :func:`state_of` says where the parcel is,
:func:`changes` which scans change what the storefront shows (:class:`Milestone`, the
words of ``connectors.storefront.writes.TrackingStatus``), and the findings say when a
parcel needs a person: the carrier's bad news (:func:`carrier_finding`), an estimate
passed (:func:`late_finding`), no scan for too long (:func:`stall_finding`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any


class DeliveryState(StrEnum):
    """A parcel's delivery state (EasyPost's tracker statuses)."""

    unknown = "unknown"
    pre_transit = "pre_transit"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    available_for_pickup = "available_for_pickup"
    return_to_sender = "return_to_sender"
    failure = "failure"
    cancelled = "cancelled"
    error = "error"


# No more movement expected. A failure is not final: carriers often try again.
FINAL = frozenset({DeliveryState.delivered, DeliveryState.return_to_sender, DeliveryState.cancelled})
# Not expected to move until someone acts (final, or held for the customer at a pickup
# point): never late, never stalled.
WAITING = FINAL | {DeliveryState.available_for_pickup}
# Reported by the carrier as a problem: its own exception waits for a person, not for a
# scan; never called late or stalled on top of it (until it moves again).
REPORTED = frozenset({DeliveryState.failure, DeliveryState.error})


class Milestone(StrEnum):
    """What the storefront shows of a parcel (the values of the storefront's TrackingStatus)."""

    picked_up = "picked_up"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    attempted_delivery = "attempted_delivery"
    delayed = "delayed"
    ready_for_pickup = "ready_for_pickup"
    delivered = "delivered"
    failure = "failure"


# Milestones a merchant's settings call "exception" (customer notes, notices).
EXCEPTION_MILESTONES = frozenset(
    {Milestone.failure, Milestone.attempted_delivery, Milestone.ready_for_pickup, Milestone.delayed}
)
# Carrier details (EasyPost ``status_detail``) that mean a delay or a failed attempt.
DELAY_DETAILS = frozenset({"delayed", "weather_delay", "transit_exception", "held", "awaiting_information"})
ATTEMPT_DETAILS = frozenset({"attempted_delivery", "delivery_attempted", "notice_left"})
# The milestone of a scan by its state, when its detail says nothing more.
STATE_MILESTONE: dict[DeliveryState, Milestone | None] = {
    DeliveryState.unknown: None,
    DeliveryState.pre_transit: None,  # the fulfilment already said the parcel shipped
    DeliveryState.in_transit: Milestone.in_transit,
    DeliveryState.out_for_delivery: Milestone.out_for_delivery,
    DeliveryState.delivered: Milestone.delivered,
    DeliveryState.available_for_pickup: Milestone.ready_for_pickup,
    DeliveryState.return_to_sender: Milestone.failure,
    DeliveryState.failure: Milestone.failure,
    DeliveryState.cancelled: None,
    DeliveryState.error: None,
}
# States whose scans a detail may turn into a delay or an attempted delivery.
MOVING = frozenset({DeliveryState.in_transit, DeliveryState.out_for_delivery, DeliveryState.failure})


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a carrier time needs a zone")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Place:
    """Where a scan happened, as the carrier names it (any part may be missing)."""

    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "city": self.city,
            "state": self.state,
            "country": self.country,
            "postal_code": self.postal_code,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Place | None:
        """The place stored by :meth:`to_dict`; None for no place (or one with no part)."""
        if not isinstance(data, dict):
            return None
        parts = {
            k: (str(data[k]) if data.get(k) else None) for k in ("city", "state", "country", "postal_code")
        }
        return cls(**parts) if any(parts.values()) else None


@dataclass(frozen=True)
class Scan:
    """One tracking detail: when (carrier time, UTC), the status, the carrier's detail and words."""

    happened_at: datetime
    status: DeliveryState
    detail: str = ""
    message: str = ""
    place: Place | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "happened_at", _utc(self.happened_at))
        object.__setattr__(self, "status", DeliveryState(self.status))

    @property
    def key(self) -> str:
        """A stable digest of time, status, detail and words: the same scan in any report."""
        text = "|".join((self.happened_at.isoformat(), str(self.status), self.detail, self.message))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TrackerReport:
    """What a carrier says about one parcel: its tracker, status, estimate and scans."""

    tracker_id: str
    tracking_code: str
    carrier: str
    service: str | None
    status: DeliveryState
    status_detail: str
    est_delivery_at: datetime | None
    scans: tuple[Scan, ...]
    updated_at: datetime | None = None
    public_url: str | None = None


def merge(known: Sequence[Scan], incoming: Iterable[Scan]) -> tuple[list[Scan], list[Scan]]:
    """(the scans of ``incoming`` not known yet, every scan sorted by carrier time).

    Each scan counts once (by key, also within ``incoming``); ties in carrier time keep the
    known scans first, then the carrier's list order."""
    seen = {scan.key for scan in known}
    new: list[Scan] = []
    for scan in incoming:
        if scan.key not in seen:
            seen.add(scan.key)
            new.append(scan)
    merged = sorted([*known, *new], key=lambda scan: scan.happened_at)
    return new, merged


def state_of(scans: Sequence[Scan], reported: DeliveryState) -> DeliveryState:
    """The status of the latest scan by carrier time (the last of a tie); ``reported`` when
    there is no scan."""
    if not scans:
        return reported
    latest = max(range(len(scans)), key=lambda i: (scans[i].happened_at, i))
    return scans[latest].status


def milestone(scan: Scan, picked_up_before: bool) -> Milestone | None:
    """What the storefront shows for ``scan``: a delay or an attempted delivery by its
    detail, ``picked_up`` for the first scan in transit, else by its state (None: nothing)."""
    if scan.status in MOVING:
        if scan.detail in ATTEMPT_DETAILS:
            return Milestone.attempted_delivery
        if scan.detail in DELAY_DETAILS:
            return Milestone.delayed
    if scan.status is DeliveryState.in_transit and not picked_up_before:
        return Milestone.picked_up
    return STATE_MILESTONE[scan.status]


def changes(scans: Sequence[Scan]) -> list[tuple[Scan, Milestone]]:
    """The scans (sorted by carrier time) at which what the storefront shows changes, each with
    its milestone: consecutive scans of one milestone collapse, scans of none are skipped."""
    out: list[tuple[Scan, Milestone]] = []
    first = next((i for i, scan in enumerate(scans) if scan.status is DeliveryState.in_transit), len(scans))
    for i, scan in enumerate(scans):
        mapped = milestone(scan, i > first)
        if mapped is None or (out and out[-1][1] is mapped):
            continue
        out.append((scan, mapped))
    return out


def latest_scan_at(scans: Sequence[Scan]) -> datetime | None:
    return max((scan.happened_at for scan in scans), default=None)


class ExceptionKind(StrEnum):
    """Why a parcel needs attention."""

    failure = "failure"
    return_to_sender = "return_to_sender"
    available_for_pickup = "available_for_pickup"
    attempted_delivery = "attempted_delivery"
    carrier_error = "carrier_error"
    late = "late"
    stalled = "stalled"


CARRIER_KINDS = frozenset(
    {
        ExceptionKind.failure,
        ExceptionKind.return_to_sender,
        ExceptionKind.available_for_pickup,
        ExceptionKind.attempted_delivery,
        ExceptionKind.carrier_error,
    }
)


@dataclass(frozen=True)
class Finding:
    """An exception to open: its kind, why (for a person) and what we recommend doing."""

    kind: ExceptionKind
    reason: str
    action: str


# kind -> (reason, recommended action) for what the carrier itself reports.
CARRIER_TEXTS: dict[ExceptionKind, tuple[str, str]] = {
    ExceptionKind.failure: (
        "The carrier reports a delivery failure",
        "Contact the carrier and the customer; reship or refund",
    ),
    ExceptionKind.return_to_sender: (
        "The carrier is returning the parcel to the sender",
        "Confirm the address with the customer; reship or refund once it is back",
    ),
    ExceptionKind.available_for_pickup: (
        "The parcel waits for the customer at a pickup point",
        "Remind the customer to collect it before the carrier sends it back",
    ),
    ExceptionKind.attempted_delivery: (
        "The carrier tried to deliver and could not",
        "Ask the customer to arrange a redelivery or collect the parcel",
    ),
    ExceptionKind.carrier_error: (
        "The carrier reports an error for this tracking number",
        "Check the tracking number with the carrier; reship if the parcel is lost",
    ),
}
STATE_KINDS = {
    DeliveryState.failure: ExceptionKind.failure,
    DeliveryState.return_to_sender: ExceptionKind.return_to_sender,
    DeliveryState.available_for_pickup: ExceptionKind.available_for_pickup,
    DeliveryState.error: ExceptionKind.carrier_error,
}
LATE_ACTION = "Ask the carrier for news and tell the customer about the delay"
STALL_ACTION = "Open a trace with the carrier and tell the customer; reship if it does not move"


def carrier_finding(state: DeliveryState, latest: Scan | None) -> Finding | None:
    """The exception the carrier's own news makes: failure, return to sender, held for
    pickup, an error, or an attempted delivery (the latest scan's detail); None otherwise."""
    kind = STATE_KINDS.get(state)
    if kind is None and latest is not None and latest.detail in ATTEMPT_DETAILS and state not in FINAL:
        kind = ExceptionKind.attempted_delivery
    if kind is None:
        return None
    reason, action = CARRIER_TEXTS[kind]
    if latest is not None and latest.message:
        reason = f"{reason}: {latest.message}"
    return Finding(kind, reason, action)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f}"


def late_finding(
    est: datetime | None, now: datetime, state: DeliveryState | None, grace: timedelta
) -> Finding | None:
    """Late: undelivered more than ``grace`` after the carrier's estimate (never a parcel
    that waits for nobody but the customer, or is done moving)."""
    if est is None or state in WAITING or state in REPORTED:
        return None
    overdue = (_utc(now) - _utc(est)).total_seconds()
    if overdue <= grace.total_seconds():
        return None
    reason = (
        f"The estimated delivery ({_utc(est):%Y-%m-%d %H:%M} UTC) passed "
        f"{_hours(overdue)} h ago and the parcel is not delivered"
    )
    return Finding(ExceptionKind.late, reason, LATE_ACTION)


def stall_finding(
    last_scan_at: datetime | None, now: datetime, threshold_s: float, state: DeliveryState | None
) -> Finding | None:
    """Stalled: no scan for longer than ``threshold_s`` (what this carrier and service
    usually take between scans on this route), for a parcel still expected to move."""
    if last_scan_at is None or state in WAITING or state in REPORTED:
        return None
    quiet = (_utc(now) - _utc(last_scan_at)).total_seconds()
    if quiet <= threshold_s:
        return None
    reason = (
        f"No carrier scan for {_hours(quiet)} h; this carrier usually scans within "
        f"{_hours(threshold_s)} h on this route"
    )
    return Finding(ExceptionKind.stalled, reason, STALL_ACTION)

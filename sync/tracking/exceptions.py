"""Delivery exceptions: opened from a finding (core/tracking.py), cleared when the parcel
moves again or is delivered, acknowledged and resolved by a person.

Every change happens under the shipment's row lock (the caller holds it): at most one
unfinished (open or acknowledged) exception per shipment and kind. An exception remembers
its cause (``data["cause"]``: the carrier's scan, the estimate, the last scan before a
stall); once one of a cause was opened, the same cause never opens another, so a person's
resolution is not undone by the next refresh. Every change is on the order's timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.tracking import CARRIER_KINDS, WAITING, DeliveryState, ExceptionKind, Finding
from db.models import DeliveryException, Shipment
from db.timeline import record

ACTOR = "tracking"
UNFINISHED = ("open", "acknowledged")


def unfinished(s: Session, shipment_id: int) -> list[DeliveryException]:
    return list(
        s.scalars(
            select(DeliveryException)
            .where(DeliveryException.shipment_id == shipment_id, DeliveryException.state.in_(UNFINISHED))
            .order_by(DeliveryException.id)
        )
    )


def _note(s: Session, sh: Shipment, action: str, reason: str, data: dict[str, Any]) -> None:
    record(s, sh.account_id, f"order:{sh.order_id}", ACTOR, action, reason, {"shipment_id": sh.id, **data})


def open_exception(
    s: Session, sh: Shipment, finding: Finding, now: datetime, data: dict[str, Any]
) -> DeliveryException | None:
    """Open ``finding`` on the shipment unless one of its kind is unfinished or its cause was
    opened before; returns the new exception (None: nothing opened)."""
    cause = str(data.get("cause") or "")
    earlier = s.scalars(
        select(DeliveryException).where(
            DeliveryException.shipment_id == sh.id, DeliveryException.kind == str(finding.kind)
        )
    )
    for exc in earlier:
        if exc.state in UNFINISHED or (exc.data or {}).get("cause", "") == cause:
            return None
    exc = DeliveryException(
        account_id=sh.account_id,
        shipment_id=sh.id,
        order_id=sh.order_id,
        kind=str(finding.kind),
        reason=finding.reason,
        action=finding.action,
        state="open",
        data={**data, "cause": cause},
        opened_at=now,
    )
    s.add(exc)
    _note(
        s, sh, "tracking.exception_opened", f"{finding.kind}: {finding.reason}", {"kind": str(finding.kind)}
    )
    return exc


def clear(s: Session, exc: DeliveryException, sh: Shipment, now: datetime, why: str) -> None:
    exc.state, exc.cleared_at = "cleared", now
    _note(s, sh, "tracking.exception_cleared", f"{exc.kind}: {why}", {"kind": exc.kind})


def settle(
    s: Session,
    sh: Shipment,
    state: DeliveryState | None,
    now: datetime,
    moved: bool,
    carrier_kind: ExceptionKind | None,
) -> None:
    """Clear what the parcel's news resolves: everything once it is done moving or waits for
    the customer (but the pickup exception itself); a stall and the carrier's earlier news
    once it moved again; being late once the estimate is ahead again."""
    for exc in unfinished(s, sh.id):
        kind = ExceptionKind(exc.kind)
        if state in WAITING and kind is not carrier_kind:
            clear(s, exc, sh, now, f"the parcel is {state}")
        elif moved and kind is ExceptionKind.stalled:
            clear(s, exc, sh, now, "the parcel moved again")
        elif moved and kind in CARRIER_KINDS and kind is not carrier_kind:
            clear(s, exc, sh, now, f"the carrier reports it {state} again")
        elif kind is ExceptionKind.late and not still_late(exc, sh):
            clear(s, exc, sh, now, "the carrier's estimate moved ahead")


def still_late(exc: DeliveryException, sh: Shipment) -> bool:
    """Whether the estimate the late exception was opened for is still the shipment's."""
    cause = (exc.data or {}).get("cause")
    return sh.est_delivery_at is None or cause == sh.est_delivery_at.isoformat()


def listed(s: Session, account_id: int, states: Iterable[str] = UNFINISHED) -> list[DeliveryException]:
    """The account's exceptions in ``states`` (oldest first)."""
    return list(
        s.scalars(
            select(DeliveryException)
            .where(DeliveryException.account_id == account_id, DeliveryException.state.in_(list(states)))
            .order_by(DeliveryException.opened_at, DeliveryException.id)
        )
    )

"""What every shipping operation shares: the stages it works in, its errors, the order's
stage change and timeline note, holds, and the jobs it hands work to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput
from core.lifecycle import SHIPPABLE, Stage
from db.models import Order as OrderRow
from db.models import Shipment, TimelineEntry
from db.timeline import record, write_pending
from sync.jobs import safe_job_id
from sync.lifecycle import advance

if TYPE_CHECKING:
    from connectors.easypost.client import EasyPost
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.shipping")

ACTOR = "shipping"
AWAITING_SCAN = "awaiting_pack_scan"
HOLD_PREFIX = "shipping: "
OPEN_STATES = ("planned", "created")  # no label yet
PACK_ACTIONS = ("pack.verified", "pack.mismatch")
MAX_PROBLEM = 900
# Every parcel of one order (built once: read at each label and each write-back).
_ORDER_SHIPMENTS = select(Shipment).where(Shipment.order_id == bindparam("w_order"))


class ShippingError(Conflict):
    """A pick or pack request the order's state does not allow now."""


class ShippingInputError(InvalidInput):
    """A pick or pack request whose input is refused (scanned SKUs, who packed)."""


def move(s: Session, row: OrderRow, stage: Stage, reason: str | None, data: Any = None) -> None:
    """Shipping's step of the order's life cycle (:func:`sync.lifecycle.advance`), as ``shipping``."""
    advance(s, row, stage, ACTOR, reason, data)


def note(s: Session, row: OrderRow, action: str, reason: str | None, data: Any = None) -> None:
    record(s, row.account_id, f"order:{row.id}", ACTOR, action, reason, data)


def order_shipments(s: Session, order_id: int) -> list[Shipment]:
    """Every parcel of the order (voided ones too), as objects of the session."""
    return list(s.scalars(_ORDER_SHIPMENTS, {"w_order": order_id}))


def was_cancelled(row: OrderRow) -> bool:
    return row.stage == Stage.CANCELLED or row.cancelled_at is not None


def ship_soon(rt: Runtime, order_id: int) -> None:
    rt.enqueue("ship_order", job_id=safe_job_id("ship", order_id), order_id=order_id)


def write_back_job_id(shipment_id: int) -> str:
    return safe_job_id("fulfil", shipment_id)


def write_back_soon(rt: Runtime, shipment_id: int) -> None:
    rt.enqueue("write_back_fulfillment", job_id=write_back_job_id(shipment_id), shipment_id=shipment_id)


def scan_passed(s: Session, order_id: int) -> bool:
    """Whether the order's latest pack scan matched."""
    write_pending(s)  # a scan recorded earlier in this transaction counts
    last = s.scalar(
        select(TimelineEntry.action)
        .where(TimelineEntry.subject == f"order:{order_id}", TimelineEntry.action.in_(PACK_ACTIONS))
        .order_by(TimelineEntry.id.desc())
        .limit(1)
    )
    return last == "pack.verified"


def stop_reason(rt: Runtime, order_id: int) -> str | None:
    """The stage when the order may no longer ship (cancelled or held meanwhile), else None."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        if row is None:
            return "missing"
        if was_cancelled(row) or row.hold_reason is not None or row.stage not in SHIPPABLE:
            return row.stage
        return None


def hold(rt: Runtime, order_id: int, problem: str) -> str:
    """Holds the order with ``shipping: <problem>``; returns its stage."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        if row is None:
            return "missing"
        if was_cancelled(row) or row.stage not in SHIPPABLE:
            return row.stage
        row.hold_reason = (HOLD_PREFIX + problem)[:MAX_PROBLEM]
        move(s, row, Stage.ON_HOLD, row.hold_reason)
    log.info("shipping.held", order_id=order_id, problem=problem[:200])
    return Stage.ON_HOLD


def easypost(rt: Runtime) -> EasyPost:
    from sync.carriers import easypost_client

    return easypost_client(rt)

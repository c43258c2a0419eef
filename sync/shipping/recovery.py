"""Recovery: an operator resuming a shipping hold, and the sweep that enqueues again the
shipping work the database says is due and no job carries."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from core.errors import OrderNotFound
from core.lifecycle import WRITING_BACK, Stage
from db.models import Order as OrderRow
from db.models import Shipment, utcnow
from sync.jobs import safe_job_id
from sync.lifecycle import advance
from sync.shipping.common import HOLD_PREFIX, scan_passed, ship_soon, write_back_soon
from sync.shipping.labels import ship_order

if TYPE_CHECKING:
    from sync.runtime import Runtime

STALLED_AFTER = timedelta(seconds=60)  # due work this old with no live job is enqueued again
SWEEP_LIMIT = 500


def resume(rt: Runtime, order_id: int, actor: str) -> str:
    """Release a shipping hold (the merchant fixed boxes, carriers or the address) and ship now.

    Returns the stage ``ship_order`` left the order in. Holds that are not shipping's
    (review, oversold) are left to their owners.
    """
    _release(rt, order_id, actor)
    return str(ship_order(rt, order_id))


def resume_soon(rt: Runtime, order_id: int, actor: str) -> str:
    """:func:`resume` for a web request: release a shipping hold now and leave the buying and
    writing back to the ``ship`` job (no outside call inside the request). Returns the
    order's stage after the release."""
    stage = _release(rt, order_id, actor)
    ship_soon(rt, order_id)
    return stage


def _release(rt: Runtime, order_id: int, actor: str) -> str:
    """Release the order's shipping hold, if it has one; returns its stage after."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        if row is None:
            raise OrderNotFound(f"order {order_id} not found")
        if row.stage == Stage.ON_HOLD and (row.hold_reason or "").startswith(HOLD_PREFIX):
            was = row.hold_reason
            row.hold_reason = None
            advance(s, row, Stage.READY_TO_SHIP, actor, f"released: {was}")
        return str(row.stage)


def resume_stalled(rt: Runtime) -> int:
    """Work the database says is due and no job carries (a lost job, an embedded restart):
    orders waiting to ship and labels not yet written back. Returns how many were enqueued."""
    cutoff = utcnow() - STALLED_AFTER
    # Without auto_ship an operator starts each order: only orders already started resume.
    stalled = (Stage.READY_TO_SHIP, Stage.PACKED) if rt.settings.shipping.auto_ship else (Stage.PACKED,)
    with rt.session() as s:
        orders = list(
            s.scalars(
                select(OrderRow.id)
                .where(
                    OrderRow.stage.in_(stalled),
                    OrderRow.hold_reason.is_(None),
                    OrderRow.updated_at <= cutoff,
                )
                .limit(SWEEP_LIMIT)
            )
        )
        parcels = list(
            s.scalars(
                select(Shipment.id)
                .join(OrderRow, OrderRow.id == Shipment.order_id)
                .where(
                    Shipment.state == "purchased",
                    Shipment.updated_at <= cutoff,
                    OrderRow.stage.in_(WRITING_BACK),
                )
                .limit(SWEEP_LIMIT)
            )
        )
    enqueued = 0
    for order_id in orders:
        if not rt.queue.is_live(safe_job_id("ship", order_id)) and _may_start(rt, order_id):
            ship_soon(rt, order_id)
            enqueued += 1
    for shipment_id in parcels:
        if not rt.queue.is_live(safe_job_id("fulfil", shipment_id)):
            write_back_soon(rt, shipment_id)
            enqueued += 1
    return enqueued


def _may_start(rt: Runtime, order_id: int) -> bool:
    """Whether shipping may start without a person: packed orders were started already; a
    ready one needs its pack scan (``verify_packing``) or ``auto_ship``."""
    settings = rt.settings.shipping
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        if row is None or row.stage not in (Stage.READY_TO_SHIP, Stage.PACKED):
            return False
        if row.stage == Stage.PACKED:
            return True
        if settings.verify_packing:
            return scan_passed(s, order_id)
        return settings.auto_ship

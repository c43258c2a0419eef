"""What a return's refund waits for: the facts of its parcel and customer, the evidence
rules' flags (core.returns.evidence_flags) and whether the refund may go out now
(core.returns.refund_ready)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.orders import Order
from core.returns import (
    EvidenceFacts,
    Flag,
    Readiness,
    ReturnPolicy,
    ReturnState,
    evidence_flags,
    refund_ready,
)
from db.models import Order as OrderRow
from db.models import Return, ReturnItem
from sync.catalog import measures_for
from sync.returns.requests import sent_times

GRAMS_PER_OZ = Decimal("28.349523125")
NOT_COUNTED = (ReturnState.refused.value, ReturnState.closed.value)


@dataclass(frozen=True)
class Judgement:
    facts: EvidenceFacts
    flags: tuple[Flag, ...]
    readiness: Readiness


def judge(s: Session, ret: Return, items: list[ReturnItem], policy: ReturnPolicy, now: datetime) -> Judgement:
    """The return's evidence at ``now`` (Waybill's clock): facts, flags and readiness."""
    row = s.get(OrderRow, ret.order_id)
    assert row is not None
    facts = gather(s, ret, row, items, policy, now)
    flags = evidence_flags(policy, facts)
    reviewed = bool(ret.review and ret.review.get("decision") == "approve")
    readiness = refund_ready(
        policy,
        flags,
        scanned=ret.first_scan_at is not None,
        delivered=ret.delivered_at is not None or ret.received_at is not None,
        inspected=ret.inspected_at is not None,
        reviewed=reviewed,
    )
    return Judgement(facts, flags, readiness)


def gather(
    s: Session, ret: Return, row: OrderRow, items: list[ReturnItem], policy: ReturnPolicy, now: datetime
) -> EvidenceFacts:
    delivered_at, _ = sent_times(s, row)
    orders, returns, recent = _customer_counts(s, ret, row, now - timedelta(days=policy.serial_days))
    arrival = Decimal(str(ret.arrival_weight_oz)) if ret.arrival_weight_oz is not None else None
    return EvidenceFacts(
        shipped_weight_oz=_shipped_weight(s, row, items),
        arrival_weight_oz=arrival,
        label_created_at=ret.label_sent_at,
        original_delivered_at=delivered_at,
        customer_orders=orders,
        customer_returns=returns,
        account_returns_recent=recent,
    )


def _shipped_weight(s: Session, row: OrderRow, items: list[ReturnItem]) -> Decimal | None:
    """What the returned units weighed when they went out (None when a unit's weight is unknown)."""
    lines = {line.line_id: line for line in Order.from_dict(row.data).line_items}
    wanted = [lines[i.line_id] for i in items if i.line_id in lines]
    known = measures_for(s, row.store_id, wanted)
    grams = Decimal(0)
    for item in items:
        line = lines.get(item.line_id)
        unit = line.grams if line is not None and line.grams else None
        if unit is None and line is not None and line.line_id in known:
            unit = known[line.line_id].grams
        if not unit:
            return None
        grams += Decimal(unit) * item.quantity
    return (grams / GRAMS_PER_OZ).quantize(Decimal("0.01"))


def _customer_counts(s: Session, ret: Return, row: OrderRow, since: datetime) -> tuple[int, int, int]:
    """(the customer's orders at the account, those with a return, their returns since ``since``),
    by the order's e-mail; an order without one counts only itself."""
    if not row.email:
        return 1, 1, 1
    mine = select(OrderRow.id).where(OrderRow.account_id == ret.account_id, OrderRow.email == row.email)
    orders = s.scalar(select(func.count()).select_from(mine.subquery())) or 0
    counted = select(Return).where(
        Return.account_id == ret.account_id, Return.order_id.in_(mine), Return.state.not_in(NOT_COUNTED)
    )
    returned = s.scalar(select(func.count(func.distinct(counted.subquery().c.order_id)))) or 0
    recent = counted.where(Return.requested_at >= since).subquery()
    return int(orders), int(returned), int(s.scalar(select(func.count()).select_from(recent)) or 0)

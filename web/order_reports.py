"""What Waybill holds about orders, for the API, the console and the CLI: an order in a list,
an order with its verdict, parcels and timeline, the newest orders of an account, and its
trusted customers. Reads only; every query is scoped to one account.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Order, Shipment, TrustedCustomer
from db.timeline import entries


def order_line(o: Order) -> dict[str, Any]:
    """One order in a list: where it stands and why."""
    return {
        "id": o.id,
        "store_id": o.store_id,
        "platform": str(o.platform),
        "platform_order_id": o.platform_order_id,
        "number": o.number,
        "stage": o.stage,
        "hold_reason": o.hold_reason,
        "financial_status": o.financial_status,
        "fulfillment_status": o.fulfillment_status,
        "total": o.data.get("total"),
        "score": (o.risk or {}).get("score"),
        "updated_at": o.platform_updated_at.isoformat(),
    }


def shipment_json(sh: Shipment) -> dict[str, Any]:
    """A parcel: its box, every rate considered and the one chosen, its label."""
    rates = sh.rates or {}
    return {
        "id": sh.id,
        "package": sh.package,
        "state": sh.state,
        "parcel": sh.parcel,
        "easypost_id": sh.easypost_id,
        "rates_considered": rates.get("considered", []),
        "rate_chosen": rates.get("chosen"),
        "rate_reason": rates.get("reason"),
        "label": sh.label,
        "tracking_code": sh.tracking_code,
        "fulfillment_ref": sh.fulfillment_ref,
        "problem": sh.problem,
    }


def order_detail(s: Session, o: Order) -> dict[str, Any]:
    """The order as held, its risk verdict with the facts, review, shipments and timeline."""
    shipments = s.scalars(select(Shipment).where(Shipment.order_id == o.id).order_by(Shipment.package))
    timeline = [
        {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "reason": e.reason, "data": e.data}
        for e in entries(s, o.account_id, f"order:{o.id}")
    ]
    return {
        **order_line(o),
        "risk": o.risk,
        "review": o.review,
        "shipments": [shipment_json(sh) for sh in shipments],
        "order": o.data,
        "timeline": timeline,
    }


def list_orders(s: Session, account_id: int, stage: str | None, limit: int) -> list[dict[str, Any]]:
    """The account's orders (of one stage when given), newest first, at most ``limit``."""
    query = select(Order).where(Order.account_id == account_id)
    if stage is not None:
        query = query.where(Order.stage == stage)
    query = query.order_by(Order.platform_updated_at.desc(), Order.id.desc()).limit(limit)
    return [order_line(o) for o in s.scalars(query)]


def trusted_customers(s: Session, account_id: int) -> list[dict[str, Any]]:
    """The account's trusted customers (never held by the risk rules), by e-mail."""
    rows = s.scalars(
        select(TrustedCustomer)
        .where(TrustedCustomer.account_id == account_id)
        .order_by(TrustedCustomer.email)
    )
    return [{"email": r.email, "note": r.note, "created_at": r.created_at.isoformat()} for r in rows]

"""Orders in the JSON API: the order with its verdict and shipments, review, trusted customers.

Routes join the API blueprint of web/api.py; each is typed by web/api_models.py, which makes
the OpenAPI document (web/api_doc.py).
An order is looked up in the caller's account only: another merchant's order is not found.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.lifecycle import NAMES
from db.models import Order, Shipment, TrustedCustomer
from db.timeline import entries
from sync import review
from web import api_models as m
from web.api import _error, authenticated, bp, runtime
from web.api_doc import operation

LIST_LIMIT = 500


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


@bp.get("/orders")
@authenticated
@operation(m.OrderList, query=m.OrdersQuery, tag="orders")
def orders() -> Any:
    """Orders, newest first; ?stage=on_hold for the review queue."""
    stage = request.args.get("stage")
    if stage is not None and stage not in NAMES:
        return _error(400, f"stage must be one of: {', '.join(NAMES)}")
    try:
        limit = min(LIST_LIMIT, max(1, int(request.args.get("limit", "100"))))
    except ValueError:
        return _error(400, "limit must be a whole number")
    query = select(Order).where(Order.account_id == g.account_id)
    if stage is not None:
        query = query.where(Order.stage == stage)
    query = query.order_by(Order.platform_updated_at.desc(), Order.id.desc()).limit(limit)
    with runtime().session() as s:
        return jsonify(orders=[order_line(o) for o in s.scalars(query)])


@bp.get("/orders/<bigid:order_id>")
@authenticated
@operation(m.OrderDetail, tag="orders")
def order(order_id: int) -> Any:
    """One order: stage, hold reason, risk verdict with its facts, review, parcels with the rates
    considered and chosen, timeline."""
    with runtime().session() as s:
        row = s.get(Order, order_id)
        if row is None or row.account_id != g.account_id:
            return _error(404, "not found")
        return jsonify(order_detail(s, row))


def _decide(order_id: int, decide: Any, decision: m.ReviewRequest) -> Any:
    decide(runtime(), g.account_id, order_id, decision.reviewer, decision.reason)  # refusals: web/errors.py
    with runtime().session() as s:
        row = s.get(Order, order_id)
        assert row is not None
        return jsonify(order_detail(s, row))


_DECIDED = "decided (or already decided the same way): the order"
_NOT_HELD = {409: "not on hold, decided otherwise, or still short of stock"}


@bp.post("/orders/<bigid:order_id>/approve")
@authenticated
@operation(m.OrderDetail, json=m.ReviewRequest, ok_words=_DECIDED, refusals=_NOT_HELD, tag="orders")
def approve(order_id: int, json: m.ReviewRequest) -> Any:
    """Approve a held order: it resumes at ready_to_ship."""
    return _decide(order_id, review.approve, json)


@bp.post("/orders/<bigid:order_id>/reject")
@authenticated
@operation(m.OrderDetail, json=m.ReviewRequest, ok_words=_DECIDED, refusals=_NOT_HELD, tag="orders")
def reject(order_id: int, json: m.ReviewRequest) -> Any:
    """Reject a held order: it is cancelled on the storefront."""
    return _decide(order_id, review.reject, json)


def _email() -> str | None:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else request.args.get("email")
    return email if isinstance(email, str) else None


@bp.post("/trusted-customers")
@authenticated
@operation(
    m.TrustedCustomer,
    status=201,
    ok_words="added",
    also={200: (m.TrustedCustomer, "already trusted")},
    json=m.TrustRequest,
    tag="orders",
)
def trust(json: m.TrustRequest) -> Any:
    """Trust a customer: their orders are never held by the risk rules."""
    added = review.trust(runtime(), g.account_id, json.email, json.note)  # refusals: web/errors.py
    return jsonify(email=json.email.strip().lower(), trusted=True), 201 if added else 200


@bp.delete("/trusted-customers")
@authenticated
@operation(m.TrustedCustomer, ok_words="removed", query=m.EmailQuery, tag="orders")
def untrust() -> Any:
    """Stop trusting a customer (e-mail in the JSON body or ?email=)."""
    email = _email()
    if email is None:
        return _error(400, "email is required (JSON body or ?email=)")
    if not review.untrust(runtime(), g.account_id, email):
        return _error(404, "not found")
    return jsonify(email=email.strip().lower(), trusted=False)


@bp.get("/trusted-customers")
@authenticated
@operation(m.TrustedCustomerList, tag="orders")
def trusted() -> Response:
    """The merchant's trusted customers (never held by the risk rules)."""
    with runtime().session() as s:
        rows = s.scalars(
            select(TrustedCustomer)
            .where(TrustedCustomer.account_id == g.account_id)
            .order_by(TrustedCustomer.email)
        )
        return jsonify(
            customers=[
                {"email": r.email, "note": r.note, "created_at": r.created_at.isoformat()} for r in rows
            ]
        )

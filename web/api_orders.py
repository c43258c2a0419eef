"""Orders in the JSON API: the order with its verdict and shipments, review, trusted customers.

Routes join the API blueprint of web/api.py; every one is listed in web/openapi.py.
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
from sync import pipeline, review
from web.api import _error, authenticated, bp, runtime

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
def orders() -> Any:
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
def order(order_id: int) -> Any:
    with runtime().session() as s:
        row = s.get(Order, order_id)
        if row is None or row.account_id != g.account_id:
            return _error(404, "not found")
        return jsonify(order_detail(s, row))


def _decision(body: Any) -> tuple[str, str] | str:
    """(reviewer, reason) from the body, or what is wrong with it."""
    if not isinstance(body, dict):
        return "expected a JSON object: {reviewer, reason}"
    reviewer, reason = body.get("reviewer"), body.get("reason")
    if not isinstance(reviewer, str) or not reviewer.strip():
        return "reviewer is required (text)"
    if not isinstance(reason, str) or not reason.strip():
        return "reason is required (text)"
    if len(reason) > pipeline.MAX_REASON:
        return f"reason is longer than {pipeline.MAX_REASON} characters"
    return reviewer, reason


def _decide(order_id: int, decide: Any) -> Any:
    parsed = _decision(request.get_json(silent=True))
    if isinstance(parsed, str):
        return _error(400, parsed)
    decide(runtime(), g.account_id, order_id, *parsed)  # refusals: web/errors.py
    with runtime().session() as s:
        row = s.get(Order, order_id)
        assert row is not None
        return jsonify(order_detail(s, row))


@bp.post("/orders/<bigid:order_id>/approve")
@authenticated
def approve(order_id: int) -> Any:
    """Release a held order: it resumes at ready_to_ship."""
    return _decide(order_id, review.approve)


@bp.post("/orders/<bigid:order_id>/reject")
@authenticated
def reject(order_id: int) -> Any:
    """Refuse a held order: it is cancelled on the storefront."""
    return _decide(order_id, review.reject)


def _email() -> str | None:
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else request.args.get("email")
    return email if isinstance(email, str) else None


@bp.post("/trusted-customers")
@authenticated
def trust() -> Any:
    email = _email()
    body = request.get_json(silent=True)
    note = body.get("note") if isinstance(body, dict) else None
    if email is None:
        if isinstance(body, dict):
            return _error(400, "email is required (text)")
        return _error(400, "expected a JSON object: {email, note}")
    if note is not None and not isinstance(note, str):
        return _error(400, "note must be text")
    added = review.trust(runtime(), g.account_id, email, note)  # refusals: web/errors.py
    return jsonify(email=email.strip().lower(), trusted=True), 201 if added else 200


@bp.delete("/trusted-customers")
@authenticated
def untrust() -> Any:
    email = _email()
    if email is None:
        return _error(400, "email is required (JSON body or ?email=)")
    if not review.untrust(runtime(), g.account_id, email):
        return _error(404, "not found")
    return jsonify(email=email.strip().lower(), trusted=False)


@bp.get("/trusted-customers")
@authenticated
def trusted() -> Response:
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

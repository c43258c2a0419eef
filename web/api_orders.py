"""Orders in the JSON API: the order with its verdict and shipments, review, trusted customers.

Routes join the API blueprint of web/api.py; each is typed by web/api_models.py, which makes
the OpenAPI document (web/api_doc.py).
An order is looked up in the caller's account only: another merchant's order is not found.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from core.lifecycle import NAMES
from db.models import Order
from sync import review
from web import api_models as m
from web.api import _error, authenticated, bp, runtime
from web.api_doc import operation
from web.order_reports import list_orders, order_detail, order_line, shipment_json, trusted_customers

LIST_LIMIT = 500
__all__ = ["order_detail", "order_line", "shipment_json"]  # what the console and the CLI used from here


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
    with runtime().session() as s:
        return jsonify(orders=list_orders(s, g.account_id, stage, limit))


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
        return jsonify(customers=trusted_customers(s, g.account_id))

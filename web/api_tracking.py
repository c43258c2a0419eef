"""Tracking in the JSON API: delivery exceptions (list, acknowledge, resolve), a shipment's
tracking, and carrier performance.

Routes join the API blueprint of web/api.py; each is typed by web/api_models.py, which makes
the OpenAPI document (web/api_doc.py). Everything
is looked up in the caller's account only: another merchant's id is not found. Refusals
from ``sync.tracking`` (NotFound, Conflict, InvalidInput) are answered by web/errors.py.
The actor kept on the order's timeline is ``user:<actor>`` (the body's ``actor``, else the
account's name).
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from core.errors import InvalidInput
from sync.tracking import desk, performance, timeline
from web import api_models as m
from web.api import authenticated, bp, runtime
from web.api_doc import operation
from web.edge import MAX_BIG_ID


def _query_int(name: str, default: int | None) -> int | None:
    """The query parameter as a whole number (0 .. 2**63-1), its default when absent."""
    raw = request.args.get(name)
    if raw is None:
        return default
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > MAX_BIG_ID:
        raise InvalidInput(f"{name} must be a whole number")
    return int(text)


@bp.get("/exceptions")
@authenticated
@operation(m.DeliveryExceptionPage, query=m.ExceptionsQuery, tag="tracking")
def exceptions() -> Any:
    """Delivery exceptions, oldest first, a page at a time.

    ?limit= at a time (clamped to 1..500); pass the answer's ``next_after`` as ?after= for the
    next page."""
    limit = _query_int("limit", desk.DEFAULT_LIMIT) or 1
    page = desk.list_exceptions(
        runtime(),
        g.account_id,
        state=request.args.get("state") or None,
        kind=request.args.get("kind") or None,
        limit=min(limit, desk.MAX_LIMIT),
        after=_query_int("after", None),
    )
    return jsonify(page.to_json())


@bp.get("/exceptions/<int:exception_id>")
@authenticated
@operation(m.DeliveryException, tag="tracking")
def exception(exception_id: int) -> Any:
    """One delivery exception."""
    return jsonify(desk.get_exception(runtime(), g.account_id, exception_id))


def _actor(step: m.ExceptionStep) -> str:
    """Who acted, as kept on the order's timeline: the body's actor, else the account's name."""
    who = step.actor.strip() if step.actor and step.actor.strip() else g.account_name
    return f"user:{who}"


@bp.post("/exceptions/<int:exception_id>/acknowledge")
@authenticated
@operation(
    m.DeliveryException,
    json=m.ExceptionStep,
    ok_words="acknowledged: the exception",
    refusals={409: "the exception is not open (acknowledged, resolved or cleared already): nothing changed"},
    tag="tracking",
)
def acknowledge(exception_id: int, json: m.ExceptionStep) -> Any:
    """Acknowledge an open exception (someone is on it); the note is optional.

    open -> acknowledged; 409 when it is not open any more."""
    return jsonify(desk.acknowledge(runtime(), g.account_id, exception_id, _actor(json), json.note))


@bp.post("/exceptions/<int:exception_id>/resolve")
@authenticated
@operation(
    m.DeliveryException,
    json=m.ExceptionStep,
    ok_words="resolved: the exception",
    refusals={409: "the exception is resolved or cleared already: nothing changed"},
    tag="tracking",
)
def resolve(exception_id: int, json: m.ExceptionStep) -> Any:
    """Resolve an open or acknowledged exception with a note saying how.

    open or acknowledged -> resolved, with a note (required); 409 when already finished."""
    return jsonify(desk.resolve(runtime(), g.account_id, exception_id, _actor(json), json.note or ""))


@bp.get("/shipments/<int:shipment_id>/tracking")
@authenticated
@operation(m.ShipmentTracking, tag="tracking")
def shipment_tracking(shipment_id: int) -> Any:
    """A parcel's tracking: state, estimate, scans newest first, open exceptions, items."""
    with runtime().session() as s:
        return jsonify(timeline.shipment_view(s, g.account_id, shipment_id).to_json())


@bp.get("/carriers/performance")
@authenticated
@operation(m.CarrierPerformance, query=m.PerformanceQuery, tag="tracking")
def carrier_performance() -> Any:
    """On-time rate and transit days per carrier, service and route class (delivered parcels)."""
    rows = performance.performance_rows(
        runtime(),
        g.account_id,
        carrier=request.args.get("carrier") or None,
        route_class=request.args.get("route_class") or None,
    )
    return jsonify(performance=rows)

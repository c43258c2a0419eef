"""Tracking in the JSON API: delivery exceptions (list, acknowledge, resolve), a shipment's
tracking, and carrier performance.

Routes join the API blueprint of web/api.py; each is listed in web/openapi.py. Everything
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
from web.api import _error, authenticated, bp, runtime
from web.edge import MAX_BIG_ID

MAX_ACTOR_INPUT = 64  # characters of the body's actor


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
def exceptions() -> Any:
    """Delivery exceptions, oldest first, ?limit= at a time (clamped to 1..500); pass the
    answer's ``next_after`` as ?after= for the next page."""
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
def exception(exception_id: int) -> Any:
    return jsonify(desk.get_exception(runtime(), g.account_id, exception_id))


def _step(body: Any) -> tuple[str, str | None] | str:
    """(actor, note) from the body, or what is wrong with it."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        return "expected a JSON object: {note, actor}"
    note, actor = body.get("note"), body.get("actor")
    if note is not None and not isinstance(note, str):
        return "note must be text"
    if actor is not None and (not isinstance(actor, str) or len(actor) > MAX_ACTOR_INPUT):
        return f"actor must be text of at most {MAX_ACTOR_INPUT} characters"
    who = actor.strip() if isinstance(actor, str) and actor.strip() else g.account_name
    return f"user:{who}", note


@bp.post("/exceptions/<int:exception_id>/acknowledge")
@authenticated
def acknowledge(exception_id: int) -> Any:
    """open -> acknowledged; 409 when it is not open any more."""
    step = _step(request.get_json(silent=True))
    if isinstance(step, str):
        return _error(400, step)
    actor, note = step
    return jsonify(desk.acknowledge(runtime(), g.account_id, exception_id, actor, note))


@bp.post("/exceptions/<int:exception_id>/resolve")
@authenticated
def resolve(exception_id: int) -> Any:
    """open or acknowledged -> resolved, with a note (required); 409 when already finished."""
    step = _step(request.get_json(silent=True))
    if isinstance(step, str):
        return _error(400, step)
    actor, note = step
    return jsonify(desk.resolve(runtime(), g.account_id, exception_id, actor, note or ""))


@bp.get("/shipments/<int:shipment_id>/tracking")
@authenticated
def shipment_tracking(shipment_id: int) -> Any:
    with runtime().session() as s:
        return jsonify(timeline.shipment_view(s, g.account_id, shipment_id).to_json())


@bp.get("/carriers/performance")
@authenticated
def carrier_performance() -> Any:
    """On-time rate and transit days per carrier, service and route class (delivered parcels)."""
    rows = performance.performance_rows(
        runtime(),
        g.account_id,
        carrier=request.args.get("carrier") or None,
        route_class=request.args.get("route_class") or None,
    )
    return jsonify(performance=rows)

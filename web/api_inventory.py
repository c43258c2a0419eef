"""The stock ledger in the JSON API: levels, one SKU's movements and forecast, adjustments, counts.

Routes join the API blueprint of web/api.py; every one is listed in web/openapi.py.
A SKU is looked up in the caller's account only: another merchant's SKU is not found.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, g, jsonify, request

from sync import stock_admin
from sync.stock_reports import forecast_json, sku_detail, sku_forecasts, stock_rows
from web.api import _error, authenticated, bp, runtime

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _today() -> Any:
    return datetime.now(UTC).date()


@bp.get("/inventory")
@authenticated
def inventory() -> Response:
    inv = runtime().settings.inventory
    with runtime().session() as s:
        rows = stock_rows(s, g.account_id, inv.location, inv.default_buffer)
    return jsonify(location=inv.location, items=rows)


@bp.get("/inventory/forecast")
@authenticated
def inventory_forecast() -> Response:
    with runtime().session() as s:
        found = sku_forecasts(s, g.account_id, runtime().settings, _today())
    return jsonify(forecasts=[forecast_json(f) for f in found])


@bp.get("/inventory/<sku>")
@authenticated
def inventory_sku(sku: str) -> Any:
    settings = runtime().settings
    try:
        limit = min(500, max(1, int(request.args.get("limit", "50"))))
    except ValueError:
        return _error(400, "limit must be a whole number")
    with runtime().session() as s:
        detail = sku_detail(
            s, g.account_id, sku, settings.inventory.location, limit, settings.inventory.default_buffer
        )
        if detail is None:
            return _error(404, "not found")
        found = sku_forecasts(s, g.account_id, settings, _today(), [sku])
    detail["forecast"] = forecast_json(found[0]) if found else None
    return jsonify(detail)


def _body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _key(kind: str, sku: str) -> str | None:
    """A client's idempotency key makes a retried POST change nothing the second time."""
    raw = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    return f"api-{kind}:{sku}:{raw}"[:255] if raw else None


def _level_json(result: stock_admin.Level) -> dict[str, Any]:
    return {
        "sku": result.sku,
        "on_hand": result.on_hand,
        "reserved": result.reserved,
        "available": result.available,
        "on_hand_delta": result.on_hand_delta,
        "applied": result.applied,
    }


def _answer(result: stock_admin.Level) -> tuple[Response, int]:
    return jsonify(_level_json(result)), 201 if result.applied else 200


@bp.post("/inventory/<sku>/adjustments")
@authenticated
def inventory_adjust(sku: str) -> Any:
    body = _body()
    if body is None:
        return _error(400, "expected a JSON object: {delta, note}")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        return _error(400, "note must be text")
    result = stock_admin.adjust(
        runtime(), g.account_id, sku, body.get("delta"), note, actor="api", key=_key("adjust", sku)
    )  # refusals (bad input, unknown SKU): web/errors.py
    return _answer(result)


@bp.post("/inventory/<sku>/counts")
@authenticated
def inventory_count(sku: str) -> Any:
    body = _body()
    if body is None:
        return _error(400, "expected a JSON object: {on_hand, note}")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        return _error(400, "note must be text")
    if "on_hand" not in body:
        return _error(400, "on_hand is required")
    result = stock_admin.count(
        runtime(), g.account_id, sku, body["on_hand"], note, actor="api", key=_key("count", sku)
    )  # refusals (bad input, unknown SKU): web/errors.py
    return _answer(result)

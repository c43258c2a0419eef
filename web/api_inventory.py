"""The stock ledger in the JSON API: levels, one SKU's movements and forecast, adjustments, counts.

Routes join the API blueprint of web/api.py; each is typed by web/api_models.py, which makes
the OpenAPI document (web/api_doc.py).
A SKU is looked up in the caller's account only: another merchant's SKU is not found.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, g, jsonify, request

from sync import stock_admin
from sync.stock_reports import forecast_json, sku_detail, sku_forecasts, stock_rows
from web import api_models as m
from web.api import _error, authenticated, bp, runtime
from web.api_doc import operation

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _today() -> Any:
    return datetime.now(UTC).date()


@bp.get("/inventory")
@authenticated
@operation(m.InventoryList, tag="stock")
def inventory() -> Response:
    """Every SKU in the stock ledger: on hand, reserved, available, what each channel shows."""
    inv = runtime().settings.inventory
    with runtime().session() as s:
        rows = stock_rows(s, g.account_id, inv.location, inv.default_buffer)
    return jsonify(location=inv.location, items=rows)


@bp.get("/inventory/forecast")
@authenticated
@operation(m.ForecastList, tag="stock")
def inventory_forecast() -> Response:
    """Per SKU: sales velocity, days of cover and reorder point."""
    with runtime().session() as s:
        found = sku_forecasts(s, g.account_id, runtime().settings, _today())
    return jsonify(forecasts=[forecast_json(f) for f in found])


@bp.get("/inventory/<sku>")
@authenticated
@operation(m.InventoryDetail, query=m.SkuMovementsQuery, tag="stock")
def inventory_sku(sku: str) -> Any:
    """One SKU: levels, channels, latest movements (?limit=, default 50) and forecast."""
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


_APPLIED = {"status": 201, "ok_words": "applied", "headers": m.IdempotencyHeader, "tag": "stock"}
_AGAIN = {200: (m.StockLevel, "already applied under this Idempotency-Key")}


@bp.post("/inventory/<sku>/adjustments")
@authenticated
@operation(m.StockLevel, json=m.AdjustmentRequest, also=_AGAIN, **_APPLIED)  # type: ignore[arg-type]
def inventory_adjust(sku: str, json: m.AdjustmentRequest) -> Any:
    """Move on hand by a delta (manual adjustment); every channel is updated."""
    result = stock_admin.adjust(
        runtime(), g.account_id, sku, json.delta, json.note, actor="api", key=_key("adjust", sku)
    )  # refusals (bad input, unknown SKU): web/errors.py
    return _answer(result)


@bp.post("/inventory/<sku>/counts")
@authenticated
@operation(m.StockLevel, json=m.CountRequest, also=_AGAIN, **_APPLIED)  # type: ignore[arg-type]
def inventory_count(sku: str, json: m.CountRequest) -> Any:
    """Set on hand to a counted quantity (count correction); every channel is updated."""
    result = stock_admin.count(
        runtime(), g.account_id, sku, json.on_hand, json.note, actor="api", key=_key("count", sku)
    )  # refusals (bad input, unknown SKU): web/errors.py
    return _answer(result)

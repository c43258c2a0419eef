"""The OpenAPI document of /api/v1. Every route added to web/api.py (or web/api_inventory.py) is listed here
(a test fails when one is missing)."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "description": "error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_AUTH: list[dict[str, list[str]]] = [{"bearer": []}]


def _get(
    summary: str, schema: str, auth: bool = True, params: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {
                "description": "ok",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
            },
        },
    }
    if auth:
        op["security"] = _AUTH
        op["responses"]["401"] = _ERROR
    if params:
        op["parameters"] = params
        op["responses"]["404"] = _ERROR
    return {"get": op}


def _post(summary: str, request: str, schema: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    ok = {
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    return {
        "post": {
            "summary": summary,
            "security": _AUTH,
            "parameters": [
                *params,
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "a retried request with the same key changes nothing (answers 200)",
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{request}"}}},
            },
            "responses": {
                "201": {"description": "applied", **ok},
                "200": {"description": "already applied under this Idempotency-Key", **ok},
                "400": _ERROR,
                "401": _ERROR,
                "404": _ERROR,
            },
        }
    }


_SKU = [{"name": "sku", "in": "path", "required": True, "schema": {"type": "string"}}]

_STORE_ID = [{"name": "store_id", "in": "path", "required": True, "schema": {"type": "integer"}}]

_EXPORT_ID = [{"name": "export_id", "in": "path", "required": True, "schema": {"type": "integer"}}]

PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": _get("This document", "Object", auth=False),
    "/api/v1/account": _get("The merchant account the token belongs to", "Account"),
    "/api/v1/stores": _get("The merchant's connected stores", "StoreList"),
    "/api/v1/stores/{store_id}": _get("One store", "Store", params=_STORE_ID),
    "/api/v1/stores/{store_id}/timeline": _get(
        "What happened to a store, and why", "Timeline", params=_STORE_ID
    ),
    "/api/v1/data-exports": _get("Privacy data requests prepared for the merchant", "DataExportList"),
    "/api/v1/data-exports/{export_id}": _get("One privacy data export", "DataExport", params=_EXPORT_ID),
    "/api/v1/inventory": _get(
        "Every SKU in the stock ledger: on hand, reserved, available, what each channel shows",
        "InventoryList",
    ),
    "/api/v1/inventory/forecast": _get(
        "Per SKU: sales velocity, days of cover and reorder point", "ForecastList"
    ),
    "/api/v1/inventory/{sku}": _get(
        "One SKU: levels, channels, latest movements (?limit=, default 50) and forecast",
        "InventoryDetail",
        params=_SKU,
    ),
    "/api/v1/inventory/{sku}/adjustments": _post(
        "Move on hand by a delta (manual adjustment); every channel is updated",
        "AdjustmentRequest",
        "StockLevel",
        _SKU,
    ),
    "/api/v1/inventory/{sku}/counts": _post(
        "Set on hand to a counted quantity (count correction); every channel is updated",
        "CountRequest",
        "StockLevel",
        _SKU,
    ),
}

_INT = {"type": "integer"}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_INVENTORY_ITEM = {
    "type": "object",
    "properties": {
        "sku": {"type": "string"},
        "location": {"type": "string"},
        "on_hand": _INT,
        "reserved": _INT,
        "available": {**_INT, "description": "on_hand - reserved; negative when oversold"},
        "low_stock": {"type": "boolean"},
        "low_stock_since": _TIME_OR_NULL,
        "threshold": {"type": ["integer", "null"], "description": "the SKU's own low-stock threshold"},
        "channels": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "store_id": _INT,
                    "platform": {"type": "string", "enum": ["shopify", "woocommerce"]},
                    "domain": {"type": "string"},
                    "tracked": {"type": "boolean"},
                    "published": {
                        "type": ["integer", "null"],
                        "description": "max(0, available - the channel's buffer); null when not tracked",
                    },
                    "channel_qty": {"type": ["integer", "null"], "description": "what the channel shows"},
                    "channel_qty_at": _TIME_OR_NULL,
                },
            },
        },
    },
}
_MOVEMENT = {
    "type": "object",
    "properties": {
        "reason": {"type": "string"},
        "source": {"type": "string"},
        "on_hand_delta": _INT,
        "reserved_delta": _INT,
        "on_hand_after": _INT,
        "reserved_after": _INT,
        "available_after": _INT,
        "at": {"type": "string", "format": "date-time"},
        "order_id": {"type": ["integer", "null"]},
        "store_id": {"type": ["integer", "null"]},
        "note": {"type": ["string", "null"]},
    },
}

_EXPORT_SUMMARY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "store_id": {"type": "integer"},
        "request_id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}

SCHEMAS: dict[str, Any] = {
    "InventoryList": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "items": {"type": "array", "items": _INVENTORY_ITEM}},
    },
    "InventoryDetail": {
        "allOf": [
            _INVENTORY_ITEM,
            {
                "type": "object",
                "properties": {
                    "movements": {"type": "array", "items": _MOVEMENT, "description": "newest first"},
                    "forecast": {"$ref": "#/components/schemas/Forecast"},
                },
            },
        ]
    },
    "Forecast": {
        "type": "object",
        "properties": {
            "sku": {"type": "string"},
            "velocity": {"type": "number", "description": "units/day, exponentially weighted"},
            "sigma": {"type": "number", "description": "standard deviation of daily sales"},
            "days_of_cover": {"type": ["number", "null"], "description": "null when nothing sells"},
            "safety_stock": {"type": "number"},
            "reorder_point": _INT,
            "reorder_now": {"type": "boolean"},
        },
    },
    "ForecastList": {
        "type": "object",
        "properties": {"forecasts": {"type": "array", "items": {"$ref": "#/components/schemas/Forecast"}}},
    },
    "AdjustmentRequest": {
        "type": "object",
        "required": ["delta", "note"],
        "properties": {"delta": {**_INT, "not": {"const": 0}}, "note": {"type": "string", "minLength": 1}},
    },
    "CountRequest": {
        "type": "object",
        "required": ["on_hand"],
        "properties": {"on_hand": {**_INT, "minimum": 0}, "note": {"type": "string"}},
    },
    "StockLevel": {
        "type": "object",
        "properties": {
            "sku": {"type": "string"},
            "on_hand": _INT,
            "reserved": _INT,
            "available": _INT,
            "on_hand_delta": _INT,
            "applied": {"type": "boolean"},
        },
    },
    "DataExportList": {
        "type": "object",
        "properties": {"exports": {"type": "array", "items": _EXPORT_SUMMARY}},
    },
    "DataExport": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "store_id": {"type": "integer"},
            "request_id": {"type": "string"},
            "data": {"type": "object", "description": "the customer's orders and their timelines"},
        },
    },
    "Object": {"type": "object"},
    "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
    "Account": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
    "Store": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "platform": {"type": "string", "enum": ["shopify", "woocommerce"]},
            "domain": {"type": "string"},
            "state": {"type": "string", "enum": ["installing", "active", "uninstalled"]},
            "scopes": {"type": ["string", "null"]},
            "installed_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "StoreList": {
        "type": "object",
        "properties": {"stores": {"type": "array", "items": {"$ref": "#/components/schemas/Store"}}},
    },
    "Timeline": {
        "type": "object",
        "properties": {
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "actor": {"type": "string"},
                        "action": {"type": "string"},
                        "reason": {"type": ["string", "null"]},
                        "data": {"type": "object"},
                    },
                },
            }
        },
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Waybill API", "version": "1"},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }

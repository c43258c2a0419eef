"""The OpenAPI document of /api/v1. Every route added to web/api.py is listed here
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

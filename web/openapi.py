"""The OpenAPI document of /api/v1. Every route added to web/api.py (or web/api_inventory.py,
web/api_orders.py, web/api_shipping.py, web/api_tracking.py, web/api_returns.py) is listed
here (a test fails when one is missing).

Error answers are listed for every operation by ``_with_errors`` (what web/edge.py and the
views answer: 400, 401, 404, 413, 415), each ``{"error": "..."}``; the fuzz test
(tests/integration/test_api_fuzz.py) holds the API to this document.
"""

from __future__ import annotations

from typing import Any

from core.lifecycle import NAMES
from core.returns import ReturnState

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


def _decide(summary: str) -> dict[str, Any]:
    """POST /orders/{id}/approve|reject: idempotent for the same decision, 409 for another."""
    return {
        "post": {
            "summary": summary,
            "security": _AUTH,
            "parameters": _ORDER_ID,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReviewRequest"}}},
            },
            "responses": {
                "200": {
                    "description": "decided (or already decided the same way): the order",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderDetail"}}},
                },
                "400": _ERROR,
                "401": _ERROR,
                "404": _ERROR,
                "409": {**_ERROR, "description": "not on hold, decided otherwise, or still short of stock"},
            },
        }
    }


# web/edge.py: a larger id in a path is not found (INTEGER ids; orders are BIGINT)
_ID = {"type": "integer", "format": "int32", "minimum": 1, "maximum": 2**31 - 1}
_BIG_ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
_ORDER_ID = [{"name": "order_id", "in": "path", "required": True, "schema": _BIG_ID}]
_STAGE = {"type": "string", "enum": list(NAMES)}  # an order's stage (core/lifecycle.py)
_STAGE_QUERY = [
    {"name": "stage", "in": "query", "required": False, "schema": _STAGE},
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "1 to 500 (default 100); values outside are clamped",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
    },
]
_TRUSTED_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TrustedCustomerRequest"}}},
}
_TRUSTED_OK = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TrustedCustomer"}}},
}
_TRUSTED: dict[str, Any] = {
    **_get("The merchant's trusted customers (never held by the risk rules)", "TrustedCustomerList"),
    "post": {
        "summary": "Trust a customer: their orders are never held by the risk rules",
        "security": _AUTH,
        "requestBody": _TRUSTED_BODY,
        "responses": {
            "201": {"description": "added", **_TRUSTED_OK},
            "200": {"description": "already trusted", **_TRUSTED_OK},
            "400": _ERROR,
            "401": _ERROR,
        },
    },
    "delete": {
        "summary": "Stop trusting a customer (e-mail in the JSON body or ?email=)",
        "security": _AUTH,
        "parameters": [{"name": "email", "in": "query", "required": False, "schema": {"type": "string"}}],
        "responses": {
            "200": {"description": "removed", **_TRUSTED_OK},
            "400": _ERROR,
            "401": _ERROR,
            "404": _ERROR,
        },
    },
}

_SKU = [{"name": "sku", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}]

_STORE_ID = [{"name": "store_id", "in": "path", "required": True, "schema": _ID}]

_EXPORT_ID = [{"name": "export_id", "in": "path", "required": True, "schema": _ID}]

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
    "/api/v1/orders": {
        "get": {
            **_get("Orders, newest first; ?stage=on_hold for the review queue", "OrderList")["get"],
            "parameters": _STAGE_QUERY,
        }
    },
    "/api/v1/orders/{order_id}": _get(
        "One order: stage, hold reason, risk verdict with its facts, review, parcels with the rates "
        "considered and chosen, timeline",
        "OrderDetail",
        params=_ORDER_ID,
    ),
    "/api/v1/orders/{order_id}/approve": _decide("Approve a held order: it resumes at ready_to_ship"),
    "/api/v1/orders/{order_id}/reject": _decide("Reject a held order: it is cancelled on the storefront"),
    "/api/v1/trusted-customers": _TRUSTED,
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

_FACT = {
    "type": "object",
    "properties": {"rule": {"type": "string"}, "weight": _INT, "detail": {"type": "string"}},
}
_ORDER_LINE = {
    "type": "object",
    "properties": {
        "id": _INT,
        "store_id": _INT,
        "platform": {"type": "string", "enum": ["shopify", "woocommerce"]},
        "platform_order_id": {"type": "string"},
        "number": {"type": "string"},
        "stage": _STAGE,
        "hold_reason": {"type": ["string", "null"], "description": "why it must not ship yet"},
        "financial_status": {"type": "string"},
        "fulfillment_status": {"type": "string"},
        "total": {"type": "object", "description": "{amount (decimal string), currency}"},
        "score": {"type": ["integer", "null"], "description": "the risk score, once verified"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
_SHIPMENT = {
    "type": "object",
    "properties": {
        "id": _INT,
        "package": _INT,
        "state": {"type": "string"},
        "parcel": {"type": "object"},
        "easypost_id": {"type": ["string", "null"]},
        "rates_considered": {
            "type": "array",
            "items": {"type": "object", "description": "a rate, whether it was eligible, and why"},
        },
        "rate_chosen": {"type": ["object", "null"]},
        "rate_reason": {"type": ["string", "null"]},
        "label": {"type": ["object", "null"]},
        "tracking_code": {"type": ["string", "null"]},
        "fulfillment_ref": {"type": ["string", "null"]},
        "problem": {"type": ["string", "null"]},
    },
}

SCHEMAS: dict[str, Any] = {
    "OrderList": {"type": "object", "properties": {"orders": {"type": "array", "items": _ORDER_LINE}}},
    "OrderDetail": {
        "allOf": [
            _ORDER_LINE,
            {
                "type": "object",
                "properties": {
                    "risk": {
                        "type": ["object", "null"],
                        "properties": {
                            "score": _INT,
                            "decision": {"type": "string", "enum": ["approve", "hold", "reject"]},
                            "facts": {"type": "array", "items": _FACT},
                            "reason": {"type": "string"},
                        },
                    },
                    "review": {
                        "type": ["object", "null"],
                        "properties": {
                            "reviewer": {"type": "string"},
                            "decision": {"type": "string", "enum": ["approve", "reject"]},
                            "reason": {"type": "string"},
                            "at": {"type": "string", "format": "date-time"},
                        },
                    },
                    "shipments": {"type": "array", "items": _SHIPMENT},
                    "order": {"type": "object", "description": "the canonical order"},
                    "timeline": {"$ref": "#/components/schemas/Timeline/properties/entries"},
                },
            },
        ]
    },
    "ReviewRequest": {
        "type": "object",
        "required": ["reviewer", "reason"],
        "properties": {
            "reviewer": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "minLength": 1, "maxLength": 1000},
        },
    },
    "TrustedCustomerRequest": {
        "type": "object",
        "required": ["email"],
        "properties": {"email": {"type": "string", "format": "email"}, "note": {"type": "string"}},
    },
    "TrustedCustomer": {
        "type": "object",
        "properties": {"email": {"type": "string"}, "trusted": {"type": "boolean"}},
    },
    "TrustedCustomerList": {
        "type": "object",
        "properties": {
            "customers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "email": {"type": "string"},
                        "note": {"type": ["string", "null"]},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
            }
        },
    },
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


# --- pick and pack (web/api_shipping.py) ---------------------------------------------------

_PICK_QUERY = [
    {
        "name": "order",
        "in": "query",
        "required": False,
        "description": "an order id; repeat for several (default: every ready_to_ship order)",
        "schema": {"type": "array", "items": _BIG_ID},
        "style": "form",
        "explode": True,
    }
]
_PACK_RESULT = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/PackResult"}}}}
PATHS["/api/v1/pick-list"] = {
    "get": {
        **_get("What to pick for a batch of orders: one line per SKU, in bin order", "PickList")["get"],
        "parameters": _PICK_QUERY,
    }
}
PATHS["/api/v1/pick-list"]["get"]["responses"].update({"400": _ERROR, "404": _ERROR})
PATHS["/api/v1/orders/{order_id}/pack"] = {
    "post": {
        "summary": "Record a pack scan: the scanned SKUs are checked against the order before its label",
        "security": _AUTH,
        "parameters": _ORDER_ID,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PackRequest"}}},
        },
        "responses": {
            "200": {"description": "contents verified: the label is bought next", **_PACK_RESULT},
            "422": {"description": "contents do not match: the order stays ready_to_ship", **_PACK_RESULT},
            "400": _ERROR,
            "401": _ERROR,
            "404": _ERROR,
            "409": {**_ERROR, "description": "the order is not ready to pack (stage or hold)"},
        },
    }
}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}, "description": "SKU: units"}
SCHEMAS.update(
    {
        "PickList": {
            "type": "object",
            "properties": {
                "lines": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "bin": {"type": ["string", "null"]},
                            "sku": {"type": "string"},
                            "title": {"type": "string"},
                            "quantity": {"type": "integer"},
                            "orders": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {"id": {"type": "integer"}, "number": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
                "orders": {"type": "array", "items": {"type": "integer"}},
                "units": {"type": "integer"},
            },
        },
        "PackRequest": {
            "type": "object",
            "required": ["scanned", "actor"],
            "properties": {
                "scanned": {"type": "array", "items": {"type": "string"}, "description": "SKUs scanned"},
                "actor": {"type": "string", "minLength": 1, "description": "who packed the parcel"},
            },
        },
        "PackResult": {
            "type": "object",
            "properties": {
                "order_id": {"type": "integer"},
                "ok": {"type": "boolean"},
                "message": {"type": "string"},
                "missing": _COUNTS,
                "extra": _COUNTS,
                "unknown": {"type": "array", "items": {"type": "string"}},
                "stage": _STAGE,
                "error": {"type": "string", "description": "present when the contents do not match"},
            },
        },
    }
)

# API tokens: listing (never the tokens themselves) and revoking one, which also ends
# every console session signed in with it.
_TOKEN_ID = [{"name": "token_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
PATHS["/api/v1/tokens"] = _get("The account's API tokens (prefixes only, never the tokens)", "ApiTokenList")
PATHS["/api/v1/tokens/{token_id}/revoke"] = {
    "post": {
        "summary": "Revoke a token: it stops working at once and its console sessions end",
        "security": _AUTH,
        "parameters": _TOKEN_ID,
        "responses": {
            "200": {
                "description": "revoked (or already revoked): the token",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiToken"}}},
            },
            "401": _ERROR,
            "404": _ERROR,
        },
    }
}
SCHEMAS.update(
    {
        "ApiToken": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "prefix": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "last_used_at": _TIME_OR_NULL,
                "revoked_at": _TIME_OR_NULL,
            },
        },
        "ApiTokenList": {
            "type": "object",
            "properties": {"tokens": {"type": "array", "items": {"$ref": "#/components/schemas/ApiToken"}}},
        },
    }
)


# --- tracking (web/api_tracking.py) --------------------------------------------------------

_EXCEPTION_ID = [{"name": "exception_id", "in": "path", "required": True, "schema": _ID}]
_SHIPMENT_ID = [{"name": "shipment_id", "in": "path", "required": True, "schema": _ID}]
_EXCEPTION_STATES = ["open", "acknowledged", "resolved", "cleared"]
_EXCEPTION_KINDS = [
    "failure",
    "return_to_sender",
    "available_for_pickup",
    "attempted_delivery",
    "carrier_error",
    "late",
    "stalled",
]
_ROUTE_CLASSES = ["local", "domestic", "international"]
_EXCEPTION_QUERY = [
    {
        "name": "state",
        "in": "query",
        "required": False,
        "description": "unfinished (default: open or acknowledged), all, or one state",
        "schema": {"type": "string", "enum": ["unfinished", "all", *_EXCEPTION_STATES]},
    },
    {
        "name": "kind",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": _EXCEPTION_KINDS},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "1 to 500 (default 50); values outside are clamped",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
    },
    {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "the previous page's next_after: exceptions with a larger id",
        "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
    },
]
_EXCEPTION_OK = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeliveryException"}}}
}


def _exception_step(summary: str, done: str, conflict: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": _AUTH,
            "parameters": _EXCEPTION_ID,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ExceptionStep"}}},
            },
            "responses": {
                "200": {"description": done, **_EXCEPTION_OK},
                "400": _ERROR,
                "401": _ERROR,
                "404": _ERROR,
                "409": {**_ERROR, "description": conflict},
            },
        }
    }


PATHS["/api/v1/exceptions"] = {
    "get": {
        **_get("Delivery exceptions, oldest first, a page at a time", "DeliveryExceptionPage")["get"],
        "parameters": _EXCEPTION_QUERY,
    }
}
PATHS["/api/v1/exceptions"]["get"]["responses"]["400"] = _ERROR
PATHS["/api/v1/exceptions/{exception_id}"] = _get(
    "One delivery exception", "DeliveryException", params=_EXCEPTION_ID
)
PATHS["/api/v1/exceptions/{exception_id}/acknowledge"] = _exception_step(
    "Acknowledge an open exception (someone is on it); the note is optional",
    "acknowledged: the exception",
    "the exception is not open (acknowledged, resolved or cleared already): nothing changed",
)
PATHS["/api/v1/exceptions/{exception_id}/resolve"] = _exception_step(
    "Resolve an open or acknowledged exception with a note saying how",
    "resolved: the exception",
    "the exception is resolved or cleared already: nothing changed",
)
PATHS["/api/v1/shipments/{shipment_id}/tracking"] = _get(
    "A parcel's tracking: state, estimate, scans newest first, open exceptions, items",
    "ShipmentTracking",
    params=_SHIPMENT_ID,
)
PATHS["/api/v1/carriers/performance"] = {
    "get": {
        **_get(
            "On-time rate and transit days per carrier, service and route class (delivered parcels)",
            "CarrierPerformance",
        )["get"],
        "parameters": [
            {
                "name": "carrier",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "maxLength": 32},
            },
            {
                "name": "route_class",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": _ROUTE_CLASSES},
            },
        ],
    }
}
PATHS["/api/v1/carriers/performance"]["get"]["responses"]["400"] = _ERROR
_STRING_OR_NULL = {"type": ["string", "null"]}
_DECIMAL = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$", "description": "a decimal, exact"}
SCHEMAS.update(
    {
        "DeliveryException": {
            "type": "object",
            "properties": {
                "id": _INT,
                "shipment_id": _INT,
                "order_id": _INT,
                "order_number": _STRING_OR_NULL,
                "kind": {"type": "string", "enum": _EXCEPTION_KINDS},
                "state": {"type": "string", "enum": _EXCEPTION_STATES},
                "reason": {"type": "string"},
                "action": {"type": "string", "description": "what to do about it"},
                "data": {"type": "object"},
                "opened_at": {"type": "string", "format": "date-time"},
                "acknowledged_at": _TIME_OR_NULL,
                "resolved_at": _TIME_OR_NULL,
                "cleared_at": _TIME_OR_NULL,
                "note": _STRING_OR_NULL,
                "actor": _STRING_OR_NULL,
            },
        },
        "DeliveryExceptionPage": {
            "type": "object",
            "properties": {
                "exceptions": {"type": "array", "items": {"$ref": "#/components/schemas/DeliveryException"}},
                "next_after": {"type": ["integer", "null"], "description": "?after= for the next page"},
            },
        },
        "ExceptionStep": {
            "type": "object",
            "properties": {
                "note": {"type": "string", "maxLength": 2000, "description": "required to resolve"},
                "actor": {"type": "string", "maxLength": 64, "description": "who (default: the account)"},
            },
        },
        "ShipmentTracking": {
            "type": "object",
            "properties": {
                "shipment_id": _INT,
                "order_id": _INT,
                "order_number": {"type": "string"},
                "package": _INT,
                "tracking_code": _STRING_OR_NULL,
                "carrier": _STRING_OR_NULL,
                "service": _STRING_OR_NULL,
                "route_class": _STRING_OR_NULL,
                "state": {**_STRING_OR_NULL, "description": "the delivery state; null before the first word"},
                "state_words": {"type": "string"},
                "est_delivery_at": _TIME_OR_NULL,
                "shipped_at": _TIME_OR_NULL,
                "delivered_at": _TIME_OR_NULL,
                "last_scan_at": _TIME_OR_NULL,
                "scans": {
                    "type": "array",
                    "description": "newest first",
                    "items": {
                        "type": "object",
                        "properties": {
                            "happened_at": {"type": "string", "format": "date-time"},
                            "status": {"type": "string"},
                            "status_detail": _STRING_OR_NULL,
                            "message": _STRING_OR_NULL,
                            "place": _STRING_OR_NULL,
                        },
                    },
                },
                "exceptions": {
                    "type": "array",
                    "description": "open or acknowledged",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": _INT,
                            "kind": {"type": "string"},
                            "state": {"type": "string"},
                            "reason": {"type": "string"},
                            "action": {"type": "string"},
                            "opened_at": {"type": "string", "format": "date-time"},
                        },
                    },
                },
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"title": {"type": "string"}, "quantity": _INT},
                    },
                },
                "destination_city": _STRING_OR_NULL,
            },
        },
        "CarrierPerformance": {
            "type": "object",
            "properties": {
                "performance": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "carrier": {"type": "string"},
                            "service": {"type": "string"},
                            "route_class": {"type": "string", "enum": _ROUTE_CLASSES},
                            "shipments": {**_INT, "description": "delivered parcels"},
                            "estimated": {**_INT, "description": "of them, with an estimate"},
                            "on_time": _INT,
                            "on_time_rate": {
                                "type": ["string", "null"],
                                "description": "on_time / estimated (0..1, 4 places); null without estimates",
                            },
                            "transit_days_p50": _DECIMAL,
                            "transit_days_p90": _DECIMAL,
                        },
                    },
                }
            },
        },
    }
)


# --- returns (web/api_returns.py) ---------------------------------------------------------

_RETURN_ID = [{"name": "return_id", "in": "path", "required": True, "schema": _ID}]
_RETURN_STATES = [state.value for state in ReturnState]  # core.returns: the one list
_RETURN_OK = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReturnDetail"}}}}
_OBJECT_OR_NULL = {"type": ["object", "null"]}
_TEXT_OR_NULL = {"type": ["string", "null"]}


def _return_step(summary: str, body: str, conflict: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": _AUTH,
            "parameters": _RETURN_ID,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
            },
            "responses": {
                "200": {"description": "done (or already done the same way): the return", **_RETURN_OK},
                "400": _ERROR,
                "401": _ERROR,
                "404": _ERROR,
                "409": {**_ERROR, "description": conflict},
            },
        }
    }


PATHS["/api/v1/returns"] = {
    "get": {
        **_get("The account's returns, newest first", "ReturnList")["get"],
        "parameters": [
            {
                "name": "state",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": _RETURN_STATES},
            },
            {
                "name": "held",
                "in": "query",
                "required": False,
                "description": "true: only returns held for a person's review; false: only the others",
                "schema": {"type": "string", "enum": ["true", "false"]},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": "1 to 500 (default 100); values outside are clamped",
                "schema": {"type": "integer", "minimum": 1, "maximum": 500},
            },
        ],
    },
    "post": {
        **_post(
            "Ask for a return on a customer's behalf (decided by the policy at once)",
            "ReturnRequest",
            "ReturnDetail",
            [],
        )["post"],
    },
}
PATHS["/api/v1/returns"]["get"]["responses"]["400"] = _ERROR
PATHS["/api/v1/returns/{return_id}"] = _get(
    "One return: items, decision, evidence, label, refund and its timeline", "ReturnDetail", params=_RETURN_ID
)
PATHS["/api/v1/returns/{return_id}/override"] = _return_step(
    "Approve a refused return anyway, with a note (required)",
    "ReturnNote",
    "the return is not refused: nothing changed",
)
PATHS["/api/v1/returns/{return_id}/receive"] = _return_step(
    "Receive and inspect the parcel: a condition for each item; resellable units go back to stock",
    "ReturnReceive",
    "nothing to receive in its state, or already inspected otherwise",
)
PATHS["/api/v1/returns/{return_id}/approve"] = _return_step(
    "Release a return held for review (its refund or exchange follows its evidence)",
    "ReturnReason",
    "not held, or already decided otherwise",
)
PATHS["/api/v1/returns/{return_id}/reject"] = _return_step(
    "Refuse a return held for review: no refund, the return is closed",
    "ReturnReason",
    "not held, or already decided otherwise",
)
PATHS["/api/v1/returns/{return_id}/close"] = _return_step(
    "Close a return that is not finished", "ReturnReason", "the return is finished (refunded or exchanged)"
)

_RETURN_PROPERTIES: dict[str, Any] = {
    "id": _INT,
    "order_id": _INT,
    "store_id": _INT,
    "state": {"type": "string", "enum": _RETURN_STATES},
    "resolution": {"type": "string", "enum": ["refund", "exchange"]},
    "source": {"type": "string", "enum": ["portal", "storefront", "merchant"]},
    "platform_return_id": _TEXT_OR_NULL,
    "decision": {
        "type": "object",
        "description": "the policy's decision: accepted, refusals [{rule, reason}]",
    },
    "override": _OBJECT_OR_NULL,
    "hold_reason": _TEXT_OR_NULL,
    "evidence": _OBJECT_OR_NULL,
    "review": _OBJECT_OR_NULL,
    "label": {**_OBJECT_OR_NULL, "description": "the return label once bought (label_url, tracking_code...)"},
    "tracking_code": _TEXT_OR_NULL,
    "carrier": _TEXT_OR_NULL,
    "delivery_state": _TEXT_OR_NULL,
    "refund": {**_OBJECT_OR_NULL, "description": "amounts as decimal strings"},
    "refund_ref": _TEXT_OR_NULL,
    "exchange_shipment_id": {"type": ["integer", "null"]},
    "problem": _TEXT_OR_NULL,
    "requested_at": _TIME_OR_NULL,
    "label_sent_at": _TIME_OR_NULL,
    "received_at": _TIME_OR_NULL,
    "inspected_at": _TIME_OR_NULL,
    "refunded_at": _TIME_OR_NULL,
    "closed_at": _TIME_OR_NULL,
}
_RETURN_ITEM = {
    "type": "object",
    "properties": {
        "id": _INT,
        "line_id": {"type": "string"},
        "sku": _TEXT_OR_NULL,
        "title": {"type": "string"},
        "quantity": _INT,
        "unit_price": {"type": "string"},
        "currency": {"type": "string"},
        "reason": {"type": "string"},
        "note": _TEXT_OR_NULL,
        "exchange_sku": _TEXT_OR_NULL,
        "exchange_price": _TEXT_OR_NULL,
        "condition": {
            "type": ["string", "null"],
            "enum": ["resellable", "damaged", "wrong_item", "missing", None],
        },
    },
}
_ACTOR = {"type": "string", "maxLength": 64, "description": "who (default: the account's name)"}
SCHEMAS.update(
    {
        "Return": {"type": "object", "properties": _RETURN_PROPERTIES},
        "ReturnList": {
            "type": "object",
            "properties": {"returns": {"type": "array", "items": {"$ref": "#/components/schemas/Return"}}},
        },
        "ReturnDetail": {
            "type": "object",
            "properties": {
                **_RETURN_PROPERTIES,
                "items": {"type": "array", "items": _RETURN_ITEM},
                "timeline": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "at": {"type": "string", "format": "date-time"},
                            "actor": {"type": "string"},
                            "action": {"type": "string"},
                            "reason": _TEXT_OR_NULL,
                        },
                    },
                },
            },
        },
        "ReturnRequest": {
            "type": "object",
            "required": ["order_id", "items"],
            "properties": {
                "order_id": _BIG_ID,
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 100,
                    "items": {
                        "type": "object",
                        "required": ["line_id", "quantity", "reason"],
                        "properties": {
                            "line_id": {
                                "type": "string",
                                "maxLength": 40,
                                "description": "the order line's id",
                            },
                            "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
                            "reason": {
                                "type": "string",
                                "maxLength": 32,
                                "description": "one of returns.reasons",
                            },
                            "note": {"type": "string", "maxLength": 1000},
                            "photo_url": {"type": "string", "maxLength": 2000},
                            "exchange_sku": {"type": "string", "maxLength": 128},
                            "exchange_price": {"type": "string", "description": "a decimal amount"},
                        },
                    },
                },
                "resolution": {"type": "string", "enum": ["refund", "exchange"]},
                "actor": _ACTOR,
            },
        },
        "ReturnNote": {
            "type": "object",
            "required": ["note"],
            "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 1000}, "actor": _ACTOR},
        },
        "ReturnReason": {
            "type": "object",
            "required": ["reason"],
            "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 1000}, "actor": _ACTOR},
        },
        "ReturnReceive": {
            "type": "object",
            "required": ["conditions"],
            "properties": {
                "conditions": {
                    "type": "object",
                    "description": "item id -> its condition",
                    "additionalProperties": {
                        "type": "string",
                        "enum": ["resellable", "damaged", "wrong_item", "missing"],
                    },
                },
                "weight_oz": {"type": ["number", "string"], "description": "the parcel's weight on arrival"},
                "actor": _ACTOR,
            },
        },
    }
)


_ERRORS = {
    "400": "bad input: the message names the parameter or field",
    "401": "missing, invalid or revoked bearer token",
    "404": "not found (another merchant's id is not found either)",
    "413": "the body is larger than the limit",
    "415": "the body is not JSON (send Content-Type: application/json)",
}


def _with_errors(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation with the error answers it can give, each an ``Error`` object."""
    out: dict[str, Any] = {}
    for path, item in paths.items():
        out[path] = {}
        for method, op in item.items():
            codes = ["400"]
            if op.get("security"):
                codes.append("401")
            if "{" in path or op["responses"].get("404"):
                codes.append("404")
            if "requestBody" in op:
                codes += ["413", "415"]
            responses = dict(op["responses"])
            for code in codes:
                known = responses.get(code)
                description = known["description"] if known and known is not _ERROR else _ERRORS[code]
                responses[code] = {**_ERROR, "description": description}
            out[path][method] = {**op, "responses": responses}
    return out


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Waybill API", "version": "1"},
        "paths": _with_errors(PATHS),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }

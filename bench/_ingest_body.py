"""The webhook bench/ingest sends: a realistic ~16 KB orders/create body, signed as
Shopify signs it, with Shopify's delivery headers."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "shopify" / "webhooks"
SHOP = "bench.myshopify.com"
API_SECRET = "bench-shopify-app-secret"
BODY_BYTES = 16 * 1024


def order_body(size: int = BODY_BYTES) -> bytes:
    """A realistic orders/create body of about ``size`` bytes: Shopify's own sample, with
    more line items (copies of its first, with their own ids) until it is large enough;
    a generated order of the same shape when the reference data is absent."""
    sample = REFERENCE / "orders__create.json"
    order = json.loads(sample.read_text())["response"] if sample.exists() else _generated_order()
    items = order["line_items"]
    template = items[0]
    n = 0
    while len(json.dumps(order, separators=(",", ":"))) < size:
        n += 1
        item = copy.deepcopy(template)
        item["id"] = 487817672276298554 + n
        item["admin_graphql_api_id"] = f"gid://shopify/LineItem/{item['id']}"
        item["sku"] = f"BENCH-{n:04d}"
        item["title"] = f"{template.get('title', 'Item')} #{n}"
        items.append(item)
    return json.dumps(order, separators=(",", ":")).encode()


def _generated_order() -> dict[str, Any]:
    money = {"shop_money": {"amount": "19.99", "currency_code": "USD"}}
    address = {
        "first_name": "Ada",
        "last_name": "Byron",
        "address1": "1 Main St",
        "city": "Ottawa",
        "zip": "K1A 0B1",
        "province_code": "ON",
        "country_code": "CA",
        "phone": "555-0100",
    }
    item = {
        "id": 1,
        "admin_graphql_api_id": "gid://shopify/LineItem/1",
        "title": "Tee",
        "sku": "TEE-1",
        "variant_id": 2,
        "product_id": 3,
        "quantity": 1,
        "price": "19.99",
        "grams": 200,
        "price_set": {**money, "presentment_money": money["shop_money"]},
        "tax_lines": [],
    }
    return {
        "id": 820982911946154508,
        "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "email": "ada@example.com",
        "currency": "USD",
        "total_price": "19.99",
        "total_price_set": money,
        "financial_status": "paid",
        "fulfillment_status": None,
        "created_at": "2026-11-28T10:00:00-05:00",
        "updated_at": "2026-11-28T10:00:00-05:00",
        "billing_address": address,
        "shipping_address": address,
        "line_items": [item],
        "shipping_lines": [],
        "tags": "",
        "note": None,
    }


def sign(body: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256 of the raw body with the app secret."""
    return base64.b64encode(hmac.new(API_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def delivery_headers(body: bytes) -> dict[str, str]:
    """Shopify's headers for an orders/create delivery of ``body`` (the ids are added per request)."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": sign(body),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
    }

"""Shopify answers in the shapes the Admin GraphQL API sends, and a client on a fake clock."""

from __future__ import annotations

from typing import Any

from connectors.shopify.client import ShopifyClient
from tests.contract.conftest import FakeTime

SHOP = "demo.myshopify.com"
TOKEN = "shpat_contract_secret_token"
URL = f"https://{SHOP}/admin/api/2026-10/graphql.json"
SHOP_DATA = {"shop": {"id": "gid://shopify/Shop/1", "name": "Demo"}}


def cost(
    requested: int | None, actual: int | None, available: float, maximum: float = 2000.0, rate: float = 100.0
) -> dict[str, Any]:
    """``extensions`` with a cost and ``throttleStatus``."""
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": rate,
            },
        }
    }


def ok(data: dict[str, Any], extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"data": data, "extensions": extensions or cost(5, 3, 1997)}


def throttled(
    requested: int, available: float, maximum: float = 2000.0, rate: float = 100.0
) -> dict[str, Any]:
    """HTTP 200 with a THROTTLED error: no data, the cost not charged."""
    error = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
    return {"errors": [error], "extensions": cost(requested, None, available, maximum, rate)}


def client(fake_time: FakeTime, **kwargs: Any) -> ShopifyClient:
    return ShopifyClient(SHOP, TOKEN, clock=fake_time.clock, sleep=fake_time.sleep, **kwargs)

"""Query cost and the leaky bucket, checked exactly with a fake clock."""

from __future__ import annotations

import pytest

from sandbox.harness import FakeClock
from sandbox.shopify import ShopifySimulator
from sandbox.shopify.cost import PLANS, LeakyBucket
from tests.sandbox.shopify.support import SHOP, GraphQL, document

# 2 + 250 x 1 = 252 requested; with 250 variants in the shop it is also the actual cost.
EXPENSIVE = "{ productVariants(first: 250) { nodes { id sku } } }"


@pytest.fixture
def big_catalog(sim: ShopifySimulator) -> None:
    variants = [{"sku": f"BULK-{i:03d}", "price": "1.00"} for i in range(248)]
    sim.add_product(SHOP, "Bulk", variants)  # 2 from the fixture + 248 = 250


def test_burst_is_throttled_exactly_where_the_bucket_runs_out(
    big_catalog: None, gql: GraphQL, clock: FakeClock
) -> None:
    available = []
    for _ in range(7):
        _, body = gql(EXPENSIVE)
        assert body["extensions"]["cost"]["actualQueryCost"] == 252
        available.append(body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"])
    assert available == [2000 - 252 * n for n in range(1, 8)]  # ... 236 left
    status, body = gql(EXPENSIVE)
    assert status == 200
    assert "data" not in body
    assert body["errors"][0]["message"] == "Throttled"
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 252,
        "actualQueryCost": None,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 236, "restoreRate": 100.0},
    }
    clock.advance(0.15)  # 236 + 15 = 251: still one short
    assert gql(EXPENSIVE)[1]["errors"][0]["extensions"]["code"] == "THROTTLED"
    clock.advance(0.01)  # 252: exactly enough
    _, body = gql(EXPENSIVE)
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0


def test_unused_requested_cost_is_refunded(gql: GraphQL) -> None:
    _, body = gql(EXPENSIVE)  # the shop has 2 variants: actual 2 + 2 x 1
    cost = body["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["actualQueryCost"]) == (252, 4)
    assert cost["throttleStatus"]["currentlyAvailable"] == 2000 - 4


def test_mutation_costs_ten(gql: GraphQL) -> None:
    _, body = gql(document("webhook_subscription_delete"), {"id": "gid://shopify/WebhookSubscription/1"})
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    assert body["extensions"]["cost"]["actualQueryCost"] == 10


def test_query_over_1000_points_is_refused_without_charge(gql: GraphQL) -> None:
    # 2 + 250 x 3 for the variants, 2 + 250 x 1 for the orders
    query = (
        "{ productVariants(first: 250) { nodes { id product { id } inventoryItem { id } } }"
        " orders(first: 250) { nodes { id } } }"
    )
    _, body = gql(query)
    assert body["errors"][0]["extensions"] == {"code": "MAX_COST_EXCEEDED", "cost": 1004, "maxCost": 1000}
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 2000


def test_http_429_mode_sends_retry_after(big_catalog: None, sim: ShopifySimulator, gql: GraphQL) -> None:
    sim.throttle_mode = "http"
    for _ in range(7):
        gql(EXPENSIVE)
    from werkzeug.test import Client

    from tests.sandbox.shopify.support import ENDPOINT, TOKEN

    resp = Client(sim).post(ENDPOINT, json={"query": EXPENSIVE}, headers={"X-Shopify-Access-Token": TOKEN})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"  # (252 - 236) / 100 s, rounded up


def test_bucket_refills_to_its_size_only(clock: FakeClock) -> None:
    bucket = LeakyBucket(PLANS["advanced"], clock)
    assert bucket.take(4000)
    clock.advance(100)
    assert bucket.status() == {"maximumAvailable": 4000.0, "currentlyAvailable": 4000, "restoreRate": 200.0}

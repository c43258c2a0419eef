"""An order read through the GraphQL order documents maps to the same canonical order as its webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from connectors.shopify.orders import order_from_graphql, order_from_webhook
from core.orders import Order
from sandbox.harness import FakeClock, RunningServer, serve
from sandbox.shopify import ShopifySimulator
from tests.sandbox.shopify.support import SHOP, GraphQL, document

# The cap on a single query's requested cost (shopify.dev, "API rate limits").
MAX_QUERY_COST = 1000
# sync/reconcile.py reads orders 10 a page.
RECONCILE_PAGE = 10


class Receiver:
    """A webhook endpoint that keeps the raw body of every delivery, by topic."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.bodies.append((request.headers["X-Shopify-Topic"], request.get_data()))
        return Response("", status=200)(environ, start_response)

    def last(self, topic: str) -> dict[str, Any]:
        body: dict[str, Any] = json.loads([b for t, b in self.bodies if t == topic][-1])
        return body


@pytest.fixture
def hooks(sim: ShopifySimulator, gql: GraphQL) -> Iterator[Receiver]:
    """Every order topic delivered to a local endpoint."""
    app = Receiver()
    with serve(app) as server:
        for topic in ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_CANCELLED"):
            _subscribe(gql, topic, server)
        yield app


def _subscribe(gql: GraphQL, topic: str, server: RunningServer) -> None:
    _, body = gql(
        document("webhook_subscription_create"),
        {"topic": topic, "webhookSubscription": {"uri": server.url + "/hooks", "format": "JSON"}},
    )
    assert body["data"]["webhookSubscriptionCreate"]["userErrors"] == []


@pytest.fixture
def catalog(sim: ShopifySimulator) -> None:
    """A product with named variants and one with only its default variant, both with weights."""
    sim.add_product(
        SHOP,
        "Canvas Bag",
        [
            {"sku": "BAG-RED", "title": "Red", "price": "31.00", "available": 9, "grams": 450},
            {"sku": "BAG-BLUE", "title": "Blue", "price": "32.50", "available": 9, "grams": 475},
        ],
    )
    sim.add_product(SHOP, "Tote", [{"sku": "TOTE", "price": "12.25", "available": 9, "grams": 180}])


def graphql_order(gql: GraphQL, order_id: int) -> Order:
    status, body = gql(document("order"), {"id": f"gid://shopify/Order/{order_id}"})
    assert status == 200 and "errors" not in body, body
    return order_from_graphql(body["data"]["order"])


def test_placed_order_maps_the_same_from_its_webhook_and_from_graphql(
    sim: ShopifySimulator, gql: GraphQL, hooks: Receiver, catalog: None
) -> None:
    address = {"name": "Grace Hopper", "company": "Navy", "address1": "1 Yard St", "city": "Arlington"}
    placed = sim.place_order(
        SHOP,
        [("BAG-RED", 2), ("TOTE", 1), ("BAG-BLUE", 3)],
        email="grace@example.com",
        shipping_address={**address, "province_code": "VA", "country_code": "US", "zip": "22202"},
        shipping_price="7.95",
    )
    sim.deliver_due()

    from_webhook = order_from_webhook(hooks.last("orders/create"))
    from_graphql = graphql_order(gql, placed.id)

    assert from_graphql.to_dict() == from_webhook.to_dict()
    assert from_graphql == from_webhook
    # Nothing compared above is merely absent on both sides.
    assert from_graphql.customer_id is not None
    assert from_graphql.billing_address is not None and from_graphql.shipping_address is not None
    assert from_graphql.shipping_address.province_code == "VA"
    assert from_graphql.shipping_method is not None and str(from_graphql.total_shipping.amount) == "7.95"
    assert [(li.product_id is not None, li.grams) for li in from_graphql.line_items] == [
        (True, 450),
        (True, 180),
        (True, 475),
    ]


def test_line_names_agree_and_omit_the_default_variant(
    sim: ShopifySimulator, gql: GraphQL, hooks: Receiver, catalog: None
) -> None:
    placed = sim.place_order(SHOP, [("TOTE", 1), ("BAG-BLUE", 1)])
    sim.deliver_due()
    webhook_lines = hooks.last("orders/create")["line_items"]
    _, body = gql(document("order"), {"id": f"gid://shopify/Order/{placed.id}"})
    graphql_names = [li["name"] for li in body["data"]["order"]["lineItems"]["nodes"]]
    assert graphql_names == [li["name"] for li in webhook_lines] == ["Tote", "Canvas Bag - Blue"]
    assert [li["variant_title"] for li in webhook_lines] == [None, "Blue"]
    assert [li["title"] for li in webhook_lines] == ["Tote", "Canvas Bag"]


def test_updated_and_cancelled_orders_map_the_same_from_webhook_and_graphql(
    sim: ShopifySimulator, gql: GraphQL, hooks: Receiver, catalog: None, clock: FakeClock
) -> None:
    placed = sim.place_order(SHOP, [("BAG-RED", 1), ("TOTE", 2)])
    clock.advance(30)
    sim.update_order(SHOP, placed.id, note="gift wrap", tags=["vip", "gift"])
    sim.deliver_due()
    assert graphql_order(gql, placed.id) == order_from_webhook(hooks.last("orders/updated"))

    clock.advance(30)
    sim.cancel_order(SHOP, placed.id, reason="customer")
    sim.deliver_due()
    cancelled = graphql_order(gql, placed.id)
    assert cancelled == order_from_webhook(hooks.last("orders/cancelled"))
    assert cancelled.cancel_reason == "customer" and cancelled.cancelled_at is not None


def test_reconciliation_page_maps_each_order_as_its_webhook_did(
    sim: ShopifySimulator, gql: GraphQL, hooks: Receiver, catalog: None
) -> None:
    placed = [sim.place_order(SHOP, [("BAG-RED", 1 + n), ("TOTE", 1)]) for n in range(3)]
    sim.deliver_due()
    webhooks = {
        str(body["id"]): order_from_webhook(body)
        for body in (json.loads(raw) for topic, raw in hooks.bodies if topic == "orders/create")
    }
    query = "updated_at:>'2000-01-01T00:00:00Z'"
    _, body = gql(document("orders_updated_since"), {"query": query, "first": RECONCILE_PAGE})
    nodes = body["data"]["orders"]["nodes"]
    assert [node["legacyResourceId"] for node in nodes] == [str(o.id) for o in placed]
    for node in nodes:
        order = order_from_graphql(node)
        assert order.to_dict() == webhooks[order.order_id].to_dict()


def test_a_reconciliation_page_stays_under_the_query_cost_cap(gql: GraphQL) -> None:
    _, body = gql(document("orders_updated_since"), {"query": "", "first": RECONCILE_PAGE})
    requested = body["extensions"]["cost"]["requestedQueryCost"]
    # 2 for the connection + 10 orders x (19 + 12 lines x 6).
    assert requested == 912 < MAX_QUERY_COST

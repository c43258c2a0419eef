"""Webhooks out: real headers, signature verified independently, retries, removal of failing subscriptions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from sandbox.harness import FakeClock, RunningServer, serve
from sandbox.shopify import ShopifySimulator
from sandbox.shopify.store import ShopData
from tests.sandbox.shopify.support import SECRET, SHOP, GraphQL, document


class Receiver:
    """A webhook endpoint that records deliveries and answers ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict[str, str], bytes]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.received.append((dict(request.headers), request.get_data()))
        return Response("", status=self.status)(environ, start_response)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, RunningServer]]:
    app = Receiver()
    with serve(app) as server:
        yield app, server


def _subscribe(gql: GraphQL, topic: str, uri: str) -> str:
    _, body = gql(
        document("webhook_subscription_create"),
        {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}},
    )
    assert body["data"]["webhookSubscriptionCreate"]["userErrors"] == []
    return str(body["data"]["webhookSubscriptionCreate"]["webhookSubscription"]["id"])


def test_order_webhook_is_signed_with_the_app_secret(
    sim: ShopifySimulator, gql: GraphQL, receiver: tuple[Receiver, RunningServer]
) -> None:
    app, server = receiver
    _subscribe(gql, "ORDERS_CREATE", server.url + "/hooks")
    order = sim.place_order(SHOP, [("TOTE-RED", 1)])
    sim.deliver_due()
    [(headers, body)] = app.received
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["X-Shopify-Hmac-Sha256"], digest)
    assert headers["X-Shopify-Topic"] == "orders/create"
    assert headers["X-Shopify-Shop-Domain"] == SHOP
    assert headers["X-Shopify-Api-Version"] == "2026-10"
    assert headers["X-Shopify-Triggered-At"] == "2027-01-15T08:00:00.000Z"
    assert headers["X-Shopify-Webhook-Id"] and headers["X-Shopify-Event-Id"]
    payload = json.loads(body)
    assert payload["id"] == order.id > 2**53  # an exact integer, not a rounded float
    assert payload["admin_graphql_api_id"] == f"gid://shopify/Order/{order.id}"


def test_failed_delivery_is_retried_with_the_same_ids_then_the_subscription_is_removed(
    sim: ShopifySimulator,
    gql: GraphQL,
    clock: FakeClock,
    shop: ShopData,
    receiver: tuple[Receiver, RunningServer],
) -> None:
    app, server = receiver
    app.status = 500
    _subscribe(gql, "ORDERS_CREATE", server.url + "/hooks")
    sim.place_order(SHOP, [("TOTE-RED", 1)])
    sim.deliver_due()
    clock.advance(59)
    sim.deliver_due()
    assert len(app.received) == 1  # the first retry is due after 60 s
    clock.advance(1)
    sim.deliver_due()
    clock.advance(600)
    sim.deliver_due()
    assert len(app.received) == 3  # first delivery and the two retries of the schedule
    ids = {(h["X-Shopify-Webhook-Id"], h["X-Shopify-Event-Id"]) for h, _ in app.received}
    assert len(ids) == 1
    assert shop.subscriptions == {}
    assert [s.topic for s in shop.removed_subscriptions] == ["ORDERS_CREATE"]


def test_a_success_stops_the_retries(
    sim: ShopifySimulator,
    gql: GraphQL,
    clock: FakeClock,
    shop: ShopData,
    receiver: tuple[Receiver, RunningServer],
) -> None:
    app, server = receiver
    app.status = 503
    _subscribe(gql, "INVENTORY_LEVELS_UPDATE", server.url + "/hooks")
    sim.set_inventory(SHOP, "TOTE-RED", 3)
    sim.deliver_due()
    app.status = 200
    clock.advance(60)
    sim.deliver_due()
    clock.advance(600)
    sim.deliver_due()
    assert len(app.received) == 2
    assert len(shop.subscriptions) == 1


def test_compliance_topics_go_to_the_app_setting(
    sim: ShopifySimulator, receiver: tuple[Receiver, RunningServer]
) -> None:
    app, server = receiver
    sim.set_compliance_uri(server.url + "/privacy")
    sim.place_order(SHOP, [("TOTE-RED", 1)], email="grace@example.com")
    sim.request_customer_data(SHOP, "grace@example.com")
    sim.redact_customer(SHOP, "grace@example.com")
    sim.redact_shop(SHOP)
    sim.deliver_due()
    topics = [h["X-Shopify-Topic"] for h, _ in app.received]
    assert topics == ["customers/data_request", "customers/redact", "shop/redact"]


def test_subscription_list_and_delete(gql: GraphQL, shop: ShopData) -> None:
    sub_id = _subscribe(gql, "APP_UNINSTALLED", "https://waybill.example/hooks")
    _, dup = gql(
        document("webhook_subscription_create"),
        {"topic": "APP_UNINSTALLED", "webhookSubscription": {"uri": "https://waybill.example/hooks"}},
    )
    assert dup["data"]["webhookSubscriptionCreate"]["userErrors"][0]["message"] == (
        "Address for this topic has already been taken"
    )
    _, listed = gql(document("webhook_subscriptions"), {"first": 10})
    assert [n["id"] for n in listed["data"]["webhookSubscriptions"]["nodes"]] == [sub_id]
    _, deleted = gql(document("webhook_subscription_delete"), {"id": sub_id})
    assert deleted["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"] == sub_id
    assert shop.subscriptions == {}


def test_a_retry_scale_compresses_the_schedule_and_the_deliveries_route_lists_each_attempt(
    sim: ShopifySimulator,
    gql: GraphQL,
    clock: FakeClock,
    receiver: tuple[Receiver, RunningServer],
) -> None:
    app, server = receiver
    app.status = 503
    _subscribe(gql, "ORDERS_CREATE", server.url + "/hooks")
    client = Client(sim)
    assert client.post("/_sandbox/webhooks", json={"retry_scale": 0.1}).get_json() == {"retry_scale": 0.1}
    order = sim.place_order(SHOP, [("TOTE-RED", 1)])
    sim.deliver_due()
    clock.advance(5.9)
    sim.deliver_due()
    assert len(app.received) == 1  # the first retry, 60 s on the schedule, is due after 6 s
    app.status = 200
    clock.advance(0.1)
    sim.deliver_due()
    assert len(app.received) == 2
    listed = client.get("/_sandbox/deliveries").get_json()
    assert [(d["status"], d["topic"], d["resource_id"]) for d in listed["deliveries"]] == [
        (503, "orders/create", str(order.id)),
        (200, "orders/create", str(order.id)),
    ]
    assert listed["next"] == 2
    assert client.get("/_sandbox/deliveries?since=1").get_json()["deliveries"] == listed["deliveries"][1:]

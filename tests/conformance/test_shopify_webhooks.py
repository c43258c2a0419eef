"""Webhook bodies the Shopify simulator sends have the keys and JSON types of Shopify's samples.

For every field that is not null in the sample, the simulator's body has the key
with the same JSON type (int and float are both "number"); lists compare their
first elements when both are non-empty. Fields null in the sample are skipped.
ALLOWED_NULL lists the fields the sample fills but a real shop leaves null in the
situation the simulator reproduces (an order that is not cancelled, a refund with
no return, a shop without a custom domain...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.harness import FakeClock
from sandbox.shopify import ShopifySimulator

SHOP = "conformance.myshopify.com"
ALLOWED_NULL = {
    "cancel_reason",
    "cancelled_at",
    "return",
    "sales_line_item_group_id",
    "variant_title",
    "vendor",
    "variant_id",
    "variant_inventory_management",
    "product_id",
    "location_id",
    "message",
    "processed_at",
    "user_id",
    "name",
    "company",
    "note",
    "phone",
    "compare_at_price",
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def mismatches(sample: Any, ours: Any, path: str = "$") -> list[str]:
    """Differences in keys and JSON types between a sample and our body."""
    if sample is None:
        return []
    if ours is None and path.rsplit(".", 1)[-1] in ALLOWED_NULL:
        return []
    if _json_type(sample) != _json_type(ours):
        return [f"{path}: sample {_json_type(sample)}, ours {_json_type(ours)}"]
    if isinstance(sample, dict):
        out = []
        for key, value in sample.items():
            if key not in ours:
                if value is not None:
                    out.append(f"{path}.{key}: missing")
                continue
            out += mismatches(value, ours[key], f"{path}.{key}")
        return out
    if isinstance(sample, list) and sample and ours:
        return mismatches(sample[0], ours[0], f"{path}[0]")
    return []


@pytest.fixture(scope="module")
def bodies() -> dict[str, dict[str, Any]]:
    """The first body the simulator sent for each topic, after a scripted day in a shop."""
    sim = ShopifySimulator(clock=FakeClock())
    sim.add_shop(SHOP, token="shpat_conformance")
    sim.add_product(
        SHOP, "Aviator sunglasses", [{"sku": "SKU-1", "price": "89.99", "available": 5, "grams": 100}]
    )
    shop = sim.shop(SHOP)
    captured: dict[str, dict[str, Any]] = {}
    sim.emit = lambda s, topic, payload: captured.setdefault(topic, json.loads(json.dumps(payload)))  # type: ignore[method-assign]
    order = sim.place_order(SHOP, [("SKU-1", 3)])  # three units: three returns that keep them
    sim.update_order(SHOP, order.id, note="gift")
    sim.update_product(SHOP, min(shop.products), title="Aviators")
    _fulfil_and_return(sim, order.id)
    sim.cancel_order(SHOP, sim.place_order(SHOP, [("SKU-1", 1)]).id)
    sim.set_compliance_uri("https://waybill.example/privacy")
    sim.request_customer_data(SHOP, "ada@example.com")
    sim.redact_customer(SHOP, "ada@example.com")
    sim.redact_shop(SHOP)
    sim.uninstall_app(SHOP)
    return captured


def _fulfil_and_return(sim: ShopifySimulator, order_id: int) -> None:
    from werkzeug.test import Client

    shop = sim.shop(SHOP)
    client = Client(sim)
    endpoint = "/admin/api/2026-10/graphql.json"
    headers = {"X-Shopify-Access-Token": shop.token}
    fo = shop.fulfillment_orders[shop.orders[order_id].fulfillment_order_ids[0]]
    mutation = (
        "mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }"
    )
    fulfillment = {
        "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": f"gid://shopify/FulfillmentOrder/{fo.id}"}]
    }
    client.post(endpoint, json={"query": mutation, "variables": {"f": fulfillment}}, headers=headers)
    [fulfilment] = shop.fulfillments.values()
    requested = sim.request_return(SHOP, order_id, [(fulfilment.lines[0].id, 1)])
    rid = f"gid://shopify/Return/{requested.id}"
    approve = "mutation($id: ID!) { returnApproveRequest(input: {id: $id}) { userErrors { message } } }"
    client.post(endpoint, json={"query": approve, "variables": {"id": rid}}, headers=headers)
    process = """mutation($id: ID!, $line: ID!) {
      returnProcess(input: {returnId: $id, returnLineItems: [{id: $line, quantity: 1}],
        financialTransfer: {issueRefund: {orderTransactions: []}}}) { userErrors { message } }
    }"""
    line = f"gid://shopify/ReturnLineItem/{requested.lines[0].id}"
    client.post(endpoint, json={"query": process, "variables": {"id": rid, "line": line}}, headers=headers)
    second = sim.request_return(SHOP, order_id, [(fulfilment.lines[0].id, 1)])
    decline = """mutation($id: ID!) {
      returnDeclineRequest(input: {id: $id, declineReason: RETURN_PERIOD_ENDED, declineNote: "Too late"}) {
        userErrors { message }
      }
    }"""
    client.post(
        endpoint,
        json={"query": decline, "variables": {"id": f"gid://shopify/Return/{second.id}"}},
        headers=headers,
    )
    third = sim.request_return(SHOP, order_id, [(fulfilment.lines[0].id, 1)])
    client.post(
        endpoint,
        json={"query": approve, "variables": {"id": f"gid://shopify/Return/{third.id}"}},
        headers=headers,
    )
    close = "mutation($id: ID!) { returnClose(id: $id) { userErrors { message } } }"
    client.post(
        endpoint,
        json={"query": close, "variables": {"id": f"gid://shopify/Return/{third.id}"}},
        headers=headers,
    )
    sim.cancel_return(SHOP, sim.request_return(SHOP, order_id, [(fulfilment.lines[0].id, 1)]).id)


TOPICS = [
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "refunds/create",
    "inventory_levels/update",
    "products/update",
    "returns/request",
    "returns/approve",
    "returns/decline",
    "returns/close",
    "returns/cancel",
    "app/uninstalled",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
]


@pytest.mark.parametrize("topic", TOPICS)
def test_body_has_the_keys_and_types_of_shopifys_sample(
    reference_dir: Path, bodies: dict[str, dict[str, Any]], topic: str
) -> None:
    sample = json.loads(
        (reference_dir / "shopify" / "webhooks" / f"{topic.replace('/', '__')}.json").read_text()
    )
    assert topic in bodies, f"the simulator never sent {topic}"
    assert mismatches(sample["response"], bodies[topic]) == []


def test_ids_in_bodies_are_exact_integers(bodies: dict[str, dict[str, Any]]) -> None:
    order = bodies["orders/create"]
    assert isinstance(order["id"], int) and order["id"] > 2**53
    assert order["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"

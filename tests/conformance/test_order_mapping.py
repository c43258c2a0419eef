"""Every real order sample in the reference data maps to a canonical order with the sample's numbers.

Shopify: every ``orders__*.json`` webhook sample whose body is a full order; the others
(``orders/delete``, ``orders/edited``, ``orders/risk_assessment_changed`` carry only
ids or a change set) are listed and must be refused with ``MappingError``, never
another exception. WooCommerce: every full order object in the REST v3 docs'
``orders__*.json`` examples, batch responses included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors import MappingError
from connectors.shopify.orders import order_from_webhook
from connectors.woocommerce.orders import order_from_rest

SHOPIFY_NOT_ORDER_BODIES = {"orders__delete", "orders__edited", "orders__risk_assessment_changed"}


def shopify_samples(reference_dir: Path) -> dict[str, Any]:
    folder = reference_dir / "shopify" / "webhooks"
    return {p.stem: json.loads(p.read_text())["response"] for p in sorted(folder.glob("orders__*.json"))}


def gid_number(gid: str) -> str:
    return gid.rsplit("/", 1)[1]


def test_shopify_order_samples_map_with_the_samples_numbers(reference_dir: Path) -> None:
    samples = shopify_samples(reference_dir)
    full = {name: body for name, body in samples.items() if "line_items" in body}
    assert set(samples) - set(full) == SHOPIFY_NOT_ORDER_BODIES
    assert len(full) >= 5
    for name, body in full.items():
        order = order_from_webhook(body)
        assert order.order_id == gid_number(body["admin_graphql_api_id"]), name
        assert order.number == body["name"], name
        assert order.total.amount == Decimal(body["total_price"]), name
        assert order.subtotal.amount == Decimal(body["subtotal_price"]), name
        assert order.total_tax.amount == Decimal(body["total_tax"]), name
        assert order.total_discounts.amount == Decimal(body["total_discounts"]), name
        shipping = body["total_shipping_price_set"]["shop_money"]["amount"]
        assert order.total_shipping.amount == Decimal(shipping), name
        assert {m.currency for m in (order.total, order.subtotal)} == {body["currency"]}, name
        assert [line.line_id for line in order.line_items] == [
            gid_number(line["admin_graphql_api_id"]) for line in body["line_items"]
        ], name
        assert sum(line.quantity for line in order.line_items) == sum(
            line["quantity"] for line in body["line_items"]
        ), name


@pytest.mark.parametrize("name", sorted(SHOPIFY_NOT_ORDER_BODIES))
def test_shopify_bodies_that_are_not_orders_are_refused_cleanly(name: str, reference_dir: Path) -> None:
    with pytest.raises(MappingError):
        order_from_webhook(shopify_samples(reference_dir)[name])


def woocommerce_orders(document: Any) -> Iterator[dict[str, Any]]:
    """Full order objects in a docs example: one order, a list, or a batch response."""
    if isinstance(document, list):
        for item in document:
            yield from woocommerce_orders(item)
    elif isinstance(document, dict) and "line_items" in document and "id" in document:
        yield document
    elif isinstance(document, dict):
        for key in ("create", "update", "delete"):
            yield from woocommerce_orders(document.get(key) or [])


def test_woocommerce_order_examples_map_with_the_examples_numbers(reference_dir: Path) -> None:
    files = sorted((reference_dir / "woocommerce").glob("orders__*.json"))
    examples = [(p.stem, o) for p in files for o in woocommerce_orders(json.loads(p.read_text()))]
    assert len({name for name, _ in examples}) == len(files)  # every example file holds orders
    for name, body in examples:
        order = order_from_rest(body)
        assert order.order_id == str(body["id"]), name
        assert order.total.amount == Decimal(body["total"]), name
        assert order.total_tax.amount == Decimal(body["total_tax"]), name
        assert order.total_shipping.amount == Decimal(body["shipping_total"]), name
        assert order.total_discounts.amount == Decimal(body["discount_total"]), name
        assert len(order.line_items) == len(body["line_items"]), name
        assert [line.line_id for line in order.line_items] == [str(li["id"]) for li in body["line_items"]], (
            name
        )
        expected_total = order.subtotal.amount + order.total_shipping.amount + order.total_tax.amount
        fees = sum((Decimal(fee["total"]) for fee in body.get("fee_lines") or []), Decimal(0))
        assert expected_total + fees == order.total.amount, name


def selection(shape: dict[str, Any]) -> str:
    """A GraphQL selection set with the keys of a JSON object (connections get ``first: 5``)."""
    parts = []
    for key, value in shape.items():
        args = "(first: 5)" if key == "lineItems" else ""
        if isinstance(value, list):
            value = value[0] if value and isinstance(value[0], dict) else None
        parts.append(f"{key}{args} {selection(value)}" if isinstance(value, dict) else key)
    return "{ " + " ".join(parts) + " }"


def test_every_field_the_graphql_mapper_can_read_exists_in_admin_2026_10(reference_dir: Path) -> None:
    """The all-fields node fixture is a valid answer shape, so documents may select any of its fields."""
    from graphql import parse, validate

    from sandbox.shopify.trim_schema import load_full_schema

    fixture = (
        Path(__file__).resolve().parents[1] / "fixtures" / "shopify" / "order_node__cancelled_all_fields.json"
    )
    node = json.loads(fixture.read_text(encoding="utf-8"))
    document = 'query { order(id: "gid://shopify/Order/1") ' + selection(node) + " }"
    errors = validate(load_full_schema(reference_dir), parse(document))
    assert [e.message for e in errors] == []

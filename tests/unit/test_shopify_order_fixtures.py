"""Shopify order webhooks and GraphQL nodes, one fixture per variant, each mapped exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.shopify.orders import order_from_graphql, order_from_webhook
from core.addresses import Address
from core.money import Money
from core.orders import FinancialStatus, FulfillmentStatus, LineItem, Order, ShippingMethod

WEBHOOK_FIXTURES = [
    "orders_create__basic",
    "orders_create__multi_item_with_discount",
    "orders_create__no_shipping_address",
    "orders_create__big_ids",
    "orders_create__international",
    "orders_updated__paid",
    "orders_cancelled__customer",
]
GRAPHQL_FIXTURES = ["order_node__basic"]


@pytest.mark.parametrize("name", WEBHOOK_FIXTURES)
def test_webhook_fixture_maps_to_its_expected_order(name: str, payload: Any, expected: Any) -> None:
    assert order_from_webhook(payload("shopify", name)).to_dict() == expected("shopify", name)


@pytest.mark.parametrize("name", GRAPHQL_FIXTURES)
def test_graphql_fixture_maps_to_its_expected_order(name: str, payload: Any, expected: Any) -> None:
    assert order_from_graphql(payload("shopify", name)).to_dict() == expected("shopify", name)


def test_graphql_node_with_every_optional_field_equals_the_webhook_order(payload: Any, expected: Any) -> None:
    """Reconciliation and webhooks must agree on the same order when the node carries all fields."""
    order = order_from_graphql(payload("shopify", "order_node__cancelled_all_fields"))
    assert order.to_dict() == expected("shopify", "orders_cancelled__customer")
    assert order == order_from_webhook(payload("shopify", "orders_cancelled__customer"))


def test_every_fixture_has_a_test(fixtures_of: Callable[[str], set[str]]) -> None:
    covered = {*WEBHOOK_FIXTURES, *GRAPHQL_FIXTURES, "order_node__cancelled_all_fields"}
    assert fixtures_of("shopify") == covered


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_basic_webhook_as_typed_values(payload: Any) -> None:
    """The same basic order, built value by value: types, not just their JSON form."""
    address = Address(
        name="Ana Silva",
        company=None,
        line1="500 Harbor Blvd",
        line2="Apt 4B",
        city="Boston",
        province_code="MA",
        postal_code="02110",
        country_code="US",
        phone="+1 617-555-0142",
    )
    assert order_from_webhook(payload("shopify", "orders_create__basic")) == Order(
        platform="shopify",
        order_id="5719482763301",
        gid="gid://shopify/Order/5719482763301",
        number="#1001",
        currency="USD",
        email="ana.silva@example.com",
        customer_id="7201839456123",
        browser_ip="203.0.113.7",
        billing_address=address,
        shipping_address=address,
        line_items=(
            LineItem(
                line_id="14612345678901",
                sku="TEE-BLU-M",
                product_id="8123456789012",
                variant_id="44123456789012",
                title="Organic Cotton Tee - Blue / M",
                quantity=2,
                unit_price=usd("25.00"),
                grams=180,
                requires_shipping=True,
            ),
        ),
        subtotal=usd("50.00"),
        total=usd("60.40"),
        total_tax=usd("4.50"),
        total_shipping=usd("5.90"),
        total_discounts=usd("0.00"),
        shipping_method=ShippingMethod(code="Standard", title="Standard Shipping", price=usd("5.90")),
        financial_status=FinancialStatus.PENDING,
        fulfillment_status=FulfillmentStatus.UNFULFILLED,
        cancelled_at=None,
        cancel_reason=None,
        tags=(),
        note=None,
        created_at=datetime(2024, 5, 2, 14, 15, 30, tzinfo=UTC),
        updated_at=datetime(2024, 5, 2, 14, 15, 31, tzinfo=UTC),
    )


def test_cancelled_webhook_is_recorded_as_cancelled(payload: Any) -> None:
    order = order_from_webhook(payload("shopify", "orders_cancelled__customer"))
    assert order.is_cancelled is True
    assert order.cancelled_at == datetime(2024, 5, 5, 14, 30, tzinfo=UTC)
    assert order_from_webhook(payload("shopify", "orders_create__basic")).is_cancelled is False

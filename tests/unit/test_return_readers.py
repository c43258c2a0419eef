"""The storefronts' return readers, one fixture per variant (``tests/fixtures/*_returns/``), each
read exactly: Shopify's ``returns/*`` bodies, WooCommerce's order bodies (refunds made in the
admin, not Waybill's) and refund objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectors.shopify.storefront import ShopifyStorefront
from connectors.storefront import event_kind
from connectors.storefront.orders import EventKind
from connectors.woocommerce import returns as woo_returns
from connectors.woocommerce.storefront import WooStorefront

SHOPIFY = [
    "returns_request__two_lines",
    "returns_request__without_lines",
    "returns_approve__fee_and_exchange",
    "returns_decline__return_period_ended",
    "returns_cancel__ids_only",
    "returns_close__ids_only",
]


@pytest.mark.parametrize("name", SHOPIFY)
def test_a_shopify_returns_body_reads_as_its_expected_return(name: str, payload: Any, expected: Any) -> None:
    read = ShopifyStorefront.read_return(payload("shopify_returns", name))
    assert read is not None and read.to_dict() == expected("shopify_returns", name)


@pytest.mark.parametrize("name", SHOPIFY)
def test_a_shopify_returns_body_names_its_order_not_the_return(
    name: str, payload: Any, expected: Any
) -> None:
    named = ShopifyStorefront.orders_named(payload("shopify_returns", name))
    assert named == frozenset({expected("shopify_returns", name)["order_id"]})


@pytest.mark.parametrize(
    "topic", ["returns/request", "returns/approve", "returns/decline", "returns/cancel", "returns/close"]
)
def test_every_shopify_returns_topic_is_a_return_change(topic: str) -> None:
    assert event_kind("shopify", topic) is EventKind.return_changed


@pytest.mark.parametrize(
    "body",
    [
        {"id": 1, "admin_graphql_api_id": "gid://shopify/Return/1", "status": "open"},  # no order
        {"id": 1, "order_id": 2, "status": "archived"},  # a status Waybill does not know
        {"order_id": 2, "status": "closed"},  # no return id
    ],
)
def test_a_shopify_body_that_is_no_return_reads_as_none(body: dict[str, Any]) -> None:
    assert ShopifyStorefront.read_return(body) is None


def test_a_woocommerce_order_shows_only_the_refunds_waybill_did_not_make(payload: Any, expected: Any) -> None:
    name = "order_updated__admin_and_waybill_refunds"
    found = WooStorefront.returns_in_order(payload("woocommerce_returns", name))
    assert [r.to_dict() for r in found] == expected("woocommerce_returns", name)


def test_a_woocommerce_refund_reads_with_the_order_lines_it_gave_back(payload: Any, expected: Any) -> None:
    name = "refund__admin_with_lines"
    read = woo_returns.from_refund("1742", payload("woocommerce_returns", name), "EUR")
    assert read.to_dict() == expected("woocommerce_returns", name)


def test_a_woocommerce_refund_with_waybills_marker_says_its_key(payload: Any) -> None:
    refund = {
        **payload("woocommerce_returns", "refund__admin_with_lines"),
        "reason": "Cracked [waybill refund:41]",
    }
    assert woo_returns.from_refund("1742", refund, "EUR").waybill_key == "refund:41"


def test_woocommerce_has_no_return_events() -> None:
    assert WooStorefront.read_return({"id": 1, "status": "refunded"}) is None
    assert (
        ShopifyStorefront.returns_in_order({"id": 1, "refunds": [{"id": 2, "reason": "", "total": "-1.00"}]})
        == ()
    )


def test_every_returns_fixture_has_a_test(fixtures_of: Callable[[str], set[str]]) -> None:
    assert fixtures_of("shopify_returns") == set(SHOPIFY)
    assert fixtures_of("woocommerce_returns") == {
        "order_updated__admin_and_waybill_refunds",
        "refund__admin_with_lines",
    }


def test_a_shopify_return_read_from_the_store_with_a_status_waybill_does_not_know_is_refused() -> None:
    from connectors import MappingError
    from connectors.shopify.returns import from_node

    node = {"id": "gid://shopify/Return/7", "status": "ARCHIVED", "order": {"id": "gid://shopify/Order/8"}}
    with pytest.raises(MappingError, match="unknown status 'ARCHIVED'"):
        from_node(node)
    assert from_node({**node, "status": "OPEN"}).to_dict() == {
        "platform_return_id": "7",
        "order_id": "8",
        "status": "open",
        "lines": [],
        "refund_total": None,
        "decline_reason": None,
        "waybill_key": None,
    }

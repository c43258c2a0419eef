"""The storefront's order-status verb: which storefront takes a merchant's statuses, and the
clear refusal where one cannot be set (connectors/storefront/writes.py)."""

from __future__ import annotations

import json

import pytest
import responses

from connectors.shopify.storefront import ShopifyStorefront
from connectors.storefront.access import StoreAccess
from connectors.storefront.writes import OrderStatusRefused, Written
from connectors.woocommerce.storefront import WooStorefront
from core.errors import Conflict, Permanent, Retryable

WOO = "https://shop.example"
ORDER = "5000000000000000001"
URL = f"{WOO}/wp-json/wc/v3/orders/{ORDER}"


def woo() -> WooStorefront:
    creds = {"consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40}
    return WooStorefront(StoreAccess(2, "woocommerce", WOO, creds))


def test_which_storefronts_take_custom_statuses() -> None:
    assert WooStorefront.custom_statuses is True
    assert ShopifyStorefront.custom_statuses is False


def test_shopify_refuses_a_custom_status_without_a_call() -> None:
    shop = ShopifyStorefront(StoreAccess(1, "shopify", "north-wind.myshopify.com", {"access_token": "t"}))
    with (
        responses.RequestsMock() as mocked,
        pytest.raises(OrderStatusRefused, match="no custom order statuses"),
    ):
        shop.set_order_status(ORDER, "delivered")
    assert len(mocked.calls) == 0


@responses.activate
def test_woocommerce_puts_the_status() -> None:
    responses.add(responses.PUT, URL, json={"id": int(ORDER), "status": "delivered"})
    assert woo().set_order_status(ORDER, "delivered") == Written(None, {"status": "delivered"})
    assert json.loads(responses.calls[0].request.body or b"{}") == {"status": "delivered"}


@responses.activate
def test_a_status_the_store_lacks_is_a_clear_refusal() -> None:
    error = {"code": "rest_invalid_param", "message": "Invalid parameter(s): status", "data": {"status": 400}}
    responses.add(responses.PUT, URL, status=400, json=error)
    with pytest.raises(
        OrderStatusRefused, match=r"woocommerce refused order status 'delivered' \(does the store have it\?\)"
    ) as caught:
        woo().set_order_status(ORDER, "delivered")
    assert isinstance(caught.value, Permanent) and isinstance(caught.value, Conflict)


@responses.activate
def test_a_server_failure_is_not_a_refusal() -> None:
    responses.add(responses.PUT, URL, status=503, json={})
    with pytest.raises(Retryable) as caught:
        woo().set_order_status(ORDER, "delivered")
    assert not isinstance(caught.value, OrderStatusRefused)

"""Shopify payloads that must map exactly or fail with a clear MappingError, never a wrong order."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from connectors import MappingError
from connectors.shopify.orders import gid_number, order_from_graphql, order_from_webhook
from core.errors import Permanent
from core.orders import FinancialStatus, FulfillmentStatus


def test_ids_above_2_53_survive_from_the_raw_body() -> None:
    body = '{"id": 9007199254740993, "name": "#1", "currency": "USD", "created_at": "2024-01-01T00:00:00Z", '
    body += '"subtotal_price": "0.00", "total_price": "0.00", "total_tax": "0.00", "total_discounts": "0"}'
    order = order_from_webhook(json.loads(body))
    assert order.order_id == "9007199254740993"
    assert order.gid == "gid://shopify/Order/9007199254740993"


def test_the_gid_wins_over_a_rounded_json_id(payload: Any) -> None:
    body = payload("shopify", "orders_create__big_ids")
    body["id"] = 9007199254740992  # what a float-parsing hop would have left
    assert order_from_webhook(body).order_id == "9007199254740993"


def test_the_json_id_is_used_exactly_without_a_gid(payload: Any) -> None:
    body = payload("shopify", "orders_create__big_ids")
    del body["admin_graphql_api_id"]
    for line in body["line_items"]:
        del line["admin_graphql_api_id"]
    order = order_from_webhook(body)
    assert order.order_id == "9007199254740993"
    assert [line.line_id for line in order.line_items] == ["9223372036854775807", "9007199254740995"]


@pytest.mark.parametrize("bad_id", [9.007199254740993e15, 1.0, True, -5, "12a", None])
def test_an_id_that_is_not_an_exact_integer_is_refused(bad_id: object, payload: Any) -> None:
    body = payload("shopify", "orders_create__basic")
    del body["admin_graphql_api_id"]
    body["id"] = bad_id
    with pytest.raises(MappingError, match="id"):
        order_from_webhook(body)


def test_a_float_line_id_is_refused(payload: Any) -> None:
    body = payload("shopify", "orders_create__basic")
    del body["line_items"][0]["admin_graphql_api_id"]
    body["line_items"][0]["id"] = 1.4612345678901e13
    with pytest.raises(MappingError, match="line item"):
        order_from_webhook(body)


def test_a_gid_of_another_kind_is_refused(payload: Any) -> None:
    body = payload("shopify", "orders_create__basic")
    body["admin_graphql_api_id"] = "gid://shopify/Customer/5719482763301"
    with pytest.raises(MappingError, match=r"gid://shopify/Order/"):
        order_from_webhook(body)


@pytest.mark.parametrize("field", ["name", "currency", "created_at", "total_price_set"])
def test_a_missing_required_field_is_named(field: str, payload: Any) -> None:
    body = payload("shopify", "orders_create__basic")
    del body[field]
    if field == "total_price_set":
        del body["total_price"]
    with pytest.raises(MappingError, match="total_price" if field.startswith("total") else field):
        order_from_webhook(body)


@pytest.mark.parametrize("amount", ["12,50", "1e3", "NaN", "", "ten", 12.5])
def test_a_bad_money_value_is_refused(amount: object, payload: Any) -> None:
    body = payload("shopify", "orders_create__basic")
    body["total_price_set"]["shop_money"]["amount"] = amount
    with pytest.raises(MappingError, match="total_price"):
        order_from_webhook(body)


def test_mapping_errors_are_permanent() -> None:
    assert issubclass(MappingError, Permanent)


def test_unknown_status_words_map_to_unknown(payload: Any) -> None:
    body = payload("shopify", "orders_create__basic")
    body["financial_status"] = "some_future_status"
    body["fulfillment_status"] = "teleported"
    order = order_from_webhook(body)
    assert (order.financial_status, order.fulfillment_status) == (
        FinancialStatus.UNKNOWN,
        FulfillmentStatus.UNKNOWN,
    )


def test_a_removed_shipping_line_is_not_the_buyers_method(payload: Any) -> None:
    body = payload("shopify", "orders_create__basic")
    replacement = copy.deepcopy(body["shipping_lines"][0])
    replacement.update({"code": "Express", "title": "Express", "is_removed": False})
    body["shipping_lines"][0]["is_removed"] = True
    body["shipping_lines"].append(replacement)
    method = order_from_webhook(body).shipping_method
    assert method is not None and (method.code, method.title) == ("Express", "Express")


def test_graphql_node_needs_an_order_gid(payload: Any) -> None:
    node = payload("shopify", "order_node__basic")
    node["id"] = "gid://shopify/Order/not-a-number"
    with pytest.raises(MappingError, match="gid://shopify/Order/"):
        order_from_graphql(node)


def test_graphql_node_without_gid_uses_legacy_resource_id(payload: Any) -> None:
    node = payload("shopify", "order_node__basic")
    del node["id"]
    node["legacyResourceId"] = "9007199254740993"
    assert order_from_graphql(node).order_id == "9007199254740993"


def test_graphql_weight_in_ounces_becomes_grams(payload: Any) -> None:
    node = payload("shopify", "order_node__basic")
    node["lineItems"]["nodes"][0]["weight"] = {"unit": "OUNCES", "value": 16.0}
    assert order_from_graphql(node).line_items[0].grams == 454


def test_gid_number_strips_query_suffixes() -> None:
    assert gid_number("gid://shopify/InventoryLevel/17?inventory_item_id=3", "InventoryLevel", "t") == "17"

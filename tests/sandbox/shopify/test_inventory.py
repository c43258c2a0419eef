"""inventorySetQuantities: the required @idempotent directive, replay, compare-and-set, input limits."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.shopify import ShopifySimulator
from sandbox.shopify.store import ShopData
from tests.sandbox.shopify.support import GraphQL, document

NO_DIRECTIVE = """
mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    userErrors { code field message }
  }
}
"""


def _input(shop: ShopData, quantity: int, change_from: int | None, count: int = 1) -> dict[str, Any]:
    variant = shop.variant_by_sku("TOTE-RED")
    assert variant is not None
    one = {
        "inventoryItemId": f"gid://shopify/InventoryItem/{variant.inventory_item_id}",
        "locationId": f"gid://shopify/Location/{min(shop.locations)}",
        "quantity": quantity,
        "changeFromQuantity": change_from,
    }
    return {"name": "available", "reason": "correction", "quantities": [one] * count}


def _available(shop: ShopData) -> int:
    variant = shop.variant_by_sku("TOTE-RED")
    assert variant is not None
    return shop.levels[(variant.inventory_item_id, min(shop.locations))].available


def test_without_idempotent_directive_is_rejected_and_changes_nothing(gql: GraphQL, shop: ShopData) -> None:
    _, body = gql(NO_DIRECTIVE, {"input": _input(shop, 4, 10)})
    assert body["data"] == {"inventorySetQuantities": None}
    assert body["errors"] == [
        {
            "message": "The @idempotent directive is required for this mutation but was not provided.",
            "locations": [{"line": 3, "column": 3}],
            "path": ["inventorySetQuantities"],
            "extensions": {"code": "BAD_REQUEST"},
        }
    ]
    assert _available(shop) == 10
    assert shop.inventory_writes == []


def test_sets_quantity_when_change_from_matches(gql: GraphQL, shop: ShopData) -> None:
    _, body = gql(
        document("inventory_set_quantities"), {"input": _input(shop, 4, 10), "idempotencyKey": "k-1"}
    )
    payload = body["data"]["inventorySetQuantities"]
    assert payload["userErrors"] == []
    assert [
        (c["name"], c["delta"], c["quantityAfterChange"])
        for c in payload["inventoryAdjustmentGroup"]["changes"]
    ] == [
        ("available", -6, 4),
        ("on_hand", -6, 4),
    ]
    assert _available(shop) == 4


def test_repeated_key_returns_first_result_and_applies_once(gql: GraphQL, shop: ShopData) -> None:
    variables = {"input": _input(shop, 4, 10), "idempotencyKey": "k-replay"}
    _, first = gql(document("inventory_set_quantities"), variables)
    _, second = gql(document("inventory_set_quantities"), variables)
    assert second["data"] == first["data"]
    assert len(shop.inventory_writes) == 1
    assert _available(shop) == 4


def test_repeated_key_with_other_parameters_is_a_mismatch(gql: GraphQL, shop: ShopData) -> None:
    gql(document("inventory_set_quantities"), {"input": _input(shop, 4, 10), "idempotencyKey": "k-2"})
    _, body = gql(
        document("inventory_set_quantities"), {"input": _input(shop, 3, 4), "idempotencyKey": "k-2"}
    )
    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert _available(shop) == 4


def test_stale_change_from_quantity_is_refused(gql: GraphQL, shop: ShopData) -> None:
    _, body = gql(
        document("inventory_set_quantities"), {"input": _input(shop, 4, 9), "idempotencyKey": "k-3"}
    )
    payload = body["data"]["inventorySetQuantities"]
    assert payload["inventoryAdjustmentGroup"] is None
    assert payload["userErrors"] == [
        {
            "code": "CHANGE_FROM_QUANTITY_STALE",
            "field": ["input", "quantities", "0", "changeFromQuantity"],
            "message": "The changeFromQuantity value does not match the quantity on record.",
        }
    ]
    assert _available(shop) == 10


def test_null_change_from_quantity_skips_the_check(gql: GraphQL, shop: ShopData) -> None:
    _, body = gql(
        document("inventory_set_quantities"), {"input": _input(shop, 2, None), "idempotencyKey": "k-4"}
    )
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    assert _available(shop) == 2


def test_omitted_change_from_quantity_is_an_error(gql: GraphQL, shop: ShopData) -> None:
    variables = {"input": _input(shop, 2, None), "idempotencyKey": "k-5"}
    del variables["input"]["quantities"][0]["changeFromQuantity"]
    _, body = gql(document("inventory_set_quantities"), variables)
    assert body["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert _available(shop) == 10


@pytest.mark.parametrize(("count", "accepted"), [(250, True), (251, False)])
def test_input_arrays_are_capped_at_250(gql: GraphQL, shop: ShopData, count: int, accepted: bool) -> None:
    variables = {"input": _input(shop, 5, None, count=count), "idempotencyKey": f"k-{count}"}
    _, body = gql(document("inventory_set_quantities"), variables)
    if accepted:
        assert body["data"]["inventorySetQuantities"]["userErrors"] == []
        assert len(shop.inventory_writes) == 250
    else:
        assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
        assert body["errors"][0]["message"] == (
            "The input array size of 251 is greater than the maximum allowed of 250."
        )
        assert shop.inventory_writes == []


def test_refund_create_requires_idempotent_and_replays(
    sim: ShopifySimulator, gql: GraphQL, shop: ShopData
) -> None:
    order = sim.place_order("demo.myshopify.com", [("TOTE-RED", 2)])
    refund_input = {
        "orderId": f"gid://shopify/Order/{order.id}",
        "refundLineItems": [
            {"lineItemId": f"gid://shopify/LineItem/{order.line_items[0].id}", "quantity": 1}
        ],
        "transactions": [
            {
                "orderId": f"gid://shopify/Order/{order.id}",
                "amount": "20.00",
                "gateway": "bogus",
                "kind": "REFUND",
            }
        ],
    }
    bare = document("refund_create").replace(" @idempotent(key: $idempotencyKey)", "")
    bare = bare.replace(", $idempotencyKey: String!", "")
    _, rejected = gql(bare, {"input": refund_input})
    assert rejected["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert shop.refunds == {}
    for _ in range(2):
        _, body = gql(document("refund_create"), {"input": refund_input, "idempotencyKey": "refund-1"})
        assert body["data"]["refundCreate"]["refund"]["totalRefundedSet"]["shopMoney"]["amount"] == "20.00"
    assert len(shop.refunds) == 1
    assert order.financial_status == "PARTIALLY_REFUNDED"

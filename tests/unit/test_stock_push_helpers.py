"""The stock writers' request and answer helpers (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.shopify import inventory as shopify_stock
from connectors.woocommerce import inventory as woo_stock
from connectors.woocommerce.inventory import WooBatch, WooStockUpdate
from sync.stock_push import effect_key


def test_set_quantities_input_compares_and_sets_every_quantity() -> None:
    payload = shopify_stock.set_quantities_input(
        [shopify_stock.SetQuantity(11, 22, 5, None), shopify_stock.SetQuantity(12, 22, 0, 3)], "waybill://x"
    )
    assert payload["name"] == "available" and payload["reason"] == "correction"
    assert payload["quantities"] == [
        {
            "inventoryItemId": "gid://shopify/InventoryItem/11",
            "locationId": "gid://shopify/Location/22",
            "quantity": 5,
            "changeFromQuantity": None,
        },
        {
            "inventoryItemId": "gid://shopify/InventoryItem/12",
            "locationId": "gid://shopify/Location/22",
            "quantity": 0,
            "changeFromQuantity": 3,
        },
    ]


def test_a_refused_call_names_its_stale_quantities() -> None:
    data = {
        "inventorySetQuantities": {
            "inventoryAdjustmentGroup": None,
            "userErrors": [
                {
                    "code": "CHANGE_FROM_QUANTITY_STALE",
                    "field": ["input", "quantities", "1", "changeFromQuantity"],
                    "message": "stale",
                },
                {"code": "INVALID_REASON", "field": ["input", "reason"], "message": "bad"},
            ],
        }
    }
    result = shopify_stock.parse_set_result(data)
    assert not result.applied and result.created_at is None
    assert [(e.index, e.stale) for e in result.errors] == [(1, True), (None, False)]


def test_an_applied_call_carries_the_platform_time() -> None:
    data = {
        "inventorySetQuantities": {
            "inventoryAdjustmentGroup": {"createdAt": "2026-03-01T10:00:00Z"},
            "userErrors": [],
        }
    }
    result = shopify_stock.parse_set_result(data)
    assert result.applied and result.created_at == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_item_level_at_the_location() -> None:
    data = {
        "inventoryItem": {
            "inventoryLevels": {
                "nodes": [
                    {
                        "updatedAt": "2026-03-01T10:00:00Z",
                        "location": {"id": "gid://shopify/Location/1"},
                        "quantities": [{"name": "available", "quantity": 4}],
                    },
                    {
                        "updatedAt": "2026-03-01T11:00:00Z",
                        "location": {"id": "gid://shopify/Location/2"},
                        "quantities": [{"name": "available", "quantity": 9}],
                    },
                ]
            }
        }
    }
    level = shopify_stock.parse_item_level(data, 2)
    assert level == shopify_stock.ShopLevel(9, datetime(2026, 3, 1, 11, tzinfo=UTC))
    assert shopify_stock.parse_item_level(data, 3) is None


def test_woo_batch_paths_and_bodies() -> None:
    simple = WooBatch(None, (WooStockUpdate(5, None, 2),))
    variations = WooBatch(7, (WooStockUpdate(7, 70, 0), WooStockUpdate(7, 71, 3)))
    assert woo_stock.batch_path(None) == "products/batch"
    assert woo_stock.batch_path(7) == "products/7/variations/batch"
    assert woo_stock.batch_body(simple) == {"update": [{"id": 5, "stock_quantity": 2, "manage_stock": True}]}
    assert [u["id"] for u in woo_stock.batch_body(variations)["update"]] == [70, 71]


def test_woo_answer_per_item() -> None:
    reply = {
        "update": [
            {"id": 70, "stock_quantity": 0, "date_modified_gmt": "2026-03-01T10:00:00", "name": "x" * 500},
            {
                "id": 71,
                "error": {"code": "woocommerce_rest_invalid_id", "message": "Invalid ID.", "data": {}},
            },
        ]
    }
    trimmed = woo_stock.trim_reply(reply)
    items = woo_stock.parse_trimmed(trimmed)
    assert items[70].stock_quantity == 0 and items[70].modified_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert items[71].error == "woocommerce_rest_invalid_id"  # the code only: the message is the store's text
    assert woo_stock.missing([70, 71, 72], items) == [72]


def test_effect_keys_follow_the_content() -> None:
    assert effect_key(1, ["a", 1]) == effect_key(1, ["a", 1])
    assert effect_key(1, ["a", 1]) != effect_key(1, ["a", 2]) != effect_key(2, ["a", 1])
    assert effect_key(1, ["a"]).startswith("stock:1:") and len(effect_key(1, ["a"])) <= 255

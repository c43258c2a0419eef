"""Refunds as ``wc_create_refund`` makes them: stock back only for units whose stock was taken
(``wc_restock_refunded_items``, with its note and line meta), and an order set to refunded with
money left refunded for the rest (``wc_order_fully_refunded``)."""

from __future__ import annotations

from typing import Any

from tests.sandbox.woocommerce.conftest import Store


def _meta(item: dict[str, Any], key: str) -> str | None:
    return next((m["value"] for m in item["meta_data"] if m["key"] == key), None)


def _notes(store: Store, order_id: int) -> list[str]:
    return [n["note"] for n in store.api().get(f"orders/{order_id}/notes").json()]


def test_a_restocked_refund_gives_back_what_was_taken_and_says_so(store: Store) -> None:
    pid = store.sim.add_product("Mug", sku="MUG-R", price="12.50", stock=5)
    oid = store.sim.place_order([("MUG-R", 2)])
    item_id = store.sim.order(oid)["line_items"][0]["id"]
    body = {
        "amount": "12.50",
        "line_items": [{"id": item_id, "quantity": 1, "refund_total": 12.5}],
        "api_refund": False,
    }
    assert store.api().post(f"orders/{oid}/refunds", body).status_code == 201
    assert store.sim.product(pid)["stock_quantity"] == 4
    [item] = store.sim.order(oid)["line_items"]
    assert (_meta(item, "_reduced_stock"), _meta(item, "_restock_refunded_items")) == ("1", "1")
    assert f"Item #{pid} stock increased from 3 to 4." in _notes(store, oid)


def test_a_pending_order_took_no_stock_so_its_refund_gives_none_back(store: Store) -> None:
    pid = store.sim.add_product("Towel", sku="TW-R", price="15.00", stock=5)
    oid = store.sim.place_order([("TW-R", 1)], status="pending")
    item_id = store.sim.order(oid)["line_items"][0]["id"]
    body = {"amount": "15.00", "line_items": [{"id": item_id, "quantity": 1}], "api_refund": False}
    assert store.api().post(f"orders/{oid}/refunds", body).status_code == 201
    assert store.sim.product(pid)["stock_quantity"] == 5
    assert not any("stock increased" in n for n in _notes(store, oid))


def test_an_order_set_to_refunded_with_money_left_is_refunded_for_the_rest_by_woocommerce(
    store: Store,
) -> None:
    store.sim.add_product("Plate", sku="PL-R", price="20.00", stock=5)
    oid = store.sim.place_order([("PL-R", 2)])
    api = store.api()
    assert api.post(f"orders/{oid}/refunds", {"amount": "5.00", "api_refund": False}).status_code == 201
    assert api.put(f"orders/{oid}", {"status": "refunded"}).status_code == 200
    order = api.get(f"orders/{oid}").json()
    assert [(r["reason"], r["total"]) for r in order["refunds"]] == [
        ("Order fully refunded.", "-35.00"),
        ("", "-5.00"),
    ]
    assert any(n.startswith("Order status set to refunded.") for n in _notes(store, oid))
    [auto] = [r for r in api.get(f"orders/{oid}/refunds").json() if r["reason"] == "Order fully refunded."]
    assert (auto["refunded_payment"], auto["line_items"]) == (False, [])

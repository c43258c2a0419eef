"""Fields a WooCommerce 10 store's order and product documents carry, with their real JSON types."""

from __future__ import annotations

import json
from typing import Any

from .conftest import Receiver, Store

SIZE = {"id": 1, "name": "Size", "position": 0, "visible": True, "variation": True, "options": ["S", "M"]}
FIT = {"id": 0, "name": "Fit", "position": 1, "visible": True, "variation": True, "options": ["Slim"]}


def _tee(store: Store) -> tuple[int, int]:
    parent = store.sim.add_product("Tee", type="variable", attributes=[SIZE, FIT])
    variation = store.sim.add_variation(
        parent,
        sku="TEE-M",
        price="45.00",
        stock=5,
        attributes=[{"id": 1, "name": "Size", "option": "M"}, {"id": 0, "name": "Fit", "option": "Slim"}],
    )
    return parent, variation


def test_order_flags_and_payment_url_follow_the_status(store: Store) -> None:
    store.sim.add_product("Mug", sku="MUG", price="4.00", stock=9)
    pending = store.sim.place_order([("MUG", 1)], status="pending")
    paid = store.sim.place_order([("MUG", 1)])
    empty = store.sim.place_order([], status="pending")
    api = store.api()
    first, second, third = (api.get(f"orders/{o}").json() for o in (pending, paid, empty))
    flags = ("is_editable", "needs_payment", "needs_processing")
    assert [tuple(o[f] for f in flags) for o in (first, second, third)] == [
        (True, True, True),
        (False, False, True),
        (True, False, False),  # nothing to pay for, nothing to ship
    ]
    assert first["payment_url"] == (
        f"{store.url}/checkout/order-pay/{pending}/?pay_for_order=true&key={first['order_key']}"
    )


def test_shipping_address_has_a_phone(store: Store) -> None:
    oid = store.sim.place_order([], shipping={"first_name": "Ada", "phone": "+1 555 0100"})
    assert store.api().get(f"orders/{oid}").json()["shipping"]["phone"] == "+1 555 0100"
    other = store.sim.place_order([])
    assert store.api().get(f"orders/{other}").json()["shipping"]["phone"] == ""


def test_line_items_carry_parent_name_image_and_variation_attributes(store: Store) -> None:
    parent, variation = _tee(store)
    mug = store.sim.add_product("Mug", sku="MUG", price="10.00", stock=9)
    oid = store.sim.place_order([("TEE-M", 1), ("MUG", 3)])
    tee_line, mug_line = store.api().get(f"orders/{oid}").json()["line_items"]
    assert (tee_line["product_id"], tee_line["variation_id"], tee_line["parent_name"]) == (
        parent,
        variation,
        "Tee",
    )
    assert (mug_line["product_id"], mug_line["parent_name"]) == (mug, None)
    assert tee_line["image"] == {"id": 0, "src": ""} == mug_line["image"]
    assert [
        {k: m[k] for k in ("key", "value", "display_key", "display_value")} for m in tee_line["meta_data"]
    ] == [
        {"key": "pa_size", "value": "m", "display_key": "Size", "display_value": "M"},
        {"key": "fit", "value": "Slim", "display_key": "Fit", "display_value": "Slim"},
        # Paid at placing: the units taken, as a string, shown under its own key.
        {"key": "_reduced_stock", "value": "1", "display_key": "_reduced_stock", "display_value": "1"},
    ]
    assert all(isinstance(m["id"], int) for m in tee_line["meta_data"])
    assert [(m["key"], m["value"]) for m in mug_line["meta_data"]] == [("_reduced_stock", "3")]


def test_line_item_price_is_an_integer_when_whole(store: Store, receiver: Receiver) -> None:
    _tee(store)
    store.sim.add_product("Pin", sku="PIN", price="1.00")
    resp = store.api().post(
        "orders",
        {
            "line_items": [
                {"sku": "TEE-M", "quantity": 2},
                {"sku": "PIN", "quantity": 3, "total": "10.00"},
                {"sku": "PIN", "quantity": 2, "total": "3.00"},
            ]
        },
    )
    assert resp.status_code == 201
    raw = resp.content
    assert b'"price":45,' in raw and b'"price":3.3333333333333335,' in raw and b'"price":1.5,' in raw
    prices = [i["price"] for i in json.loads(raw)["line_items"]]
    assert [type(p) for p in prices] == [int, float, float]


def test_shipping_lines_carry_instance_id_and_tax_status(store: Store) -> None:
    line = {"method_id": "flat_rate", "method_title": "Flat rate", "total": "5.00", "instance_id": "3"}
    created = store.api().post("orders", {"shipping_lines": [line]}).json()
    assert [(s["instance_id"], s["tax_status"]) for s in created["shipping_lines"]] == [("3", "taxable")]
    oid = store.sim.place_order([])
    [shipping] = store.api().get(f"orders/{oid}").json()["shipping_lines"]
    assert (shipping["instance_id"], shipping["tax_status"]) == ("", "taxable")


def _product(store: Store, product_id: int) -> dict[str, Any]:
    body: dict[str, Any] = store.api().get(f"products/{product_id}").json()
    return body


def test_products_carry_the_fields_of_a_current_store(store: Store) -> None:
    kitchen = [{"id": 9, "name": "Kitchen", "slug": "kitchen"}]
    mug = store.sim.add_product("Mug", sku="MUG", stock=9, categories=kitchen, low_stock_amount=2)
    bowl = store.sim.add_product("Bowl", sku="BOWL", categories=kitchen)
    parent, variation = _tee(store)
    first, tee = _product(store, mug), _product(store, parent)
    expected = {
        "brands": [],
        "categories": kitchen,
        "global_unique_id": "",
        "has_options": False,
        "low_stock_amount": 2,
        "post_password": "",
        "related_ids": [bowl],
    }
    assert {k: first[k] for k in expected} == expected
    assert (tee["has_options"], tee["low_stock_amount"], tee["related_ids"], tee["categories"]) == (
        True,
        None,
        [],
        [],
    )
    shown = store.api().get(f"products/{parent}/variations/{variation}").json()
    assert (shown["global_unique_id"], shown["low_stock_amount"]) == ("", None)

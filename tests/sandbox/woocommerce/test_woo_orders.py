"""Orders: checkout stock moves, REST updates, refunds, notes, batches, deletion, filters."""

from __future__ import annotations

from typing import Any

from sandbox.harness import FakeClock

from .conftest import Store


def test_checkout_reduces_stock_and_totals_are_money_strings(store: Store) -> None:
    pid = store.sim.add_product("Shirt", sku="SH-1", price="12.50", stock=5)
    oid = store.sim.place_order([("SH-1", 2)], shipping_total="5.00")
    order = store.api().get(f"orders/{oid}").json()
    assert (order["status"], order["created_via"], order["total"], order["shipping_total"]) == (
        "processing",
        "checkout",
        "30.00",
        "5.00",
    )
    item = order["line_items"][0]
    assert (item["sku"], item["product_id"], item["variation_id"], item["quantity"]) == ("SH-1", pid, 0, 2)
    assert (item["total"], item["subtotal"], item["price"]) == ("25.00", "25.00", 12.5)
    assert order["date_paid_gmt"] is not None and order["date_completed_gmt"] is None
    assert store.sim.product(pid)["stock_quantity"] == 3


def test_pending_order_keeps_stock_until_paid_and_cancel_restores(store: Store) -> None:
    pid = store.sim.add_product("Shirt", sku="SH-1", stock=5)
    oid = store.sim.place_order([("SH-1", 1)], status="pending")
    assert store.sim.product(pid)["stock_quantity"] == 5
    store.sim.edit_order(oid, status="processing")
    assert store.sim.product(pid)["stock_quantity"] == 4
    cancelled = store.api().put(f"orders/{oid}", {"status": "cancelled"}).json()
    assert cancelled["status"] == "cancelled"
    assert store.sim.product(pid)["stock_quantity"] == 5


def reduced_stock(order: dict[str, Any]) -> list[str | None]:
    """Each line's ``_reduced_stock`` meta value (``None``: the line has none)."""
    return [
        next((m["value"] for m in item["meta_data"] if m["key"] == "_reduced_stock"), None)
        for item in order["line_items"]
    ]


def store_clock(store: Store) -> FakeClock:
    """Put the store's dates on a clock the test moves (whole seconds, as WordPress keeps them)."""
    clock = FakeClock(start=1_800_000_000.0)
    store.sim.store.clock = clock
    return clock


def test_a_pending_order_takes_stock_only_when_paid_later_and_records_it_per_line(store: Store) -> None:
    clock = store_clock(store)
    pid = store.sim.add_product("Shirt", sku="SH-1", stock=5)
    free = store.sim.add_product("Gift card", sku="GIFT")  # stock not managed: nothing to take
    oid = store.sim.place_order([("SH-1", 2), ("GIFT", 1)], status="pending")
    pending = store.sim.order(oid)
    assert (pending["status"], pending["date_paid_gmt"], reduced_stock(pending)) == (
        "pending",
        None,
        [None, None],
    )
    assert store.sim.product(pid)["stock_quantity"] == 5

    clock.advance(90)
    assert store.sim.pay_order(oid, transaction_id="ch_123") is True
    paid = store.sim.order(oid)
    assert paid["status"] == "processing" and paid["transaction_id"] == "ch_123"
    assert paid["date_created_gmt"] == "2027-01-15T08:00:00"
    assert paid["date_paid_gmt"] == "2027-01-15T08:01:30"  # the payment's time, not the order's
    assert reduced_stock(paid) == ["2", None]
    assert store.sim.product(pid)["stock_quantity"] == 3
    assert store.sim.product(free)["stock_quantity"] is None

    # Paid again, or moved on to completed: the order's stock was taken once already.
    assert store.sim.pay_order(oid) is False
    store.sim.edit_order(oid, status="completed")
    assert store.sim.product(pid)["stock_quantity"] == 3
    assert reduced_stock(store.sim.order(oid)) == ["2", None]


def test_set_paid_over_rest_is_the_payment(store: Store) -> None:
    clock = store_clock(store)
    pid = store.sim.add_product("Mug", sku="MUG", stock=4)
    oid = store.sim.place_order([("MUG", 1)], status="pending")
    clock.advance(5)
    body = store.api().put(f"orders/{oid}", {"set_paid": True}).json()
    assert (body["status"], body["date_paid_gmt"], reduced_stock(body)) == (
        "processing",
        "2027-01-15T08:00:05",
        ["1"],
    )
    assert store.sim.product(pid)["stock_quantity"] == 3
    again = store.api().put(f"orders/{oid}", {"set_paid": True}).json()
    assert again["date_paid_gmt"] == "2027-01-15T08:00:05"
    assert store.sim.product(pid)["stock_quantity"] == 3


def test_on_hold_takes_stock_without_a_payment_date_and_cancel_gives_back_what_was_taken(
    store: Store,
) -> None:
    pid = store.sim.add_product("Shirt", sku="SH-1", stock=5)
    oid = store.sim.place_order([("SH-1", 2)], status="on-hold", payment_method="bacs")
    held = store.sim.order(oid)
    assert (held["date_paid_gmt"], reduced_stock(held)) == (None, ["2"])
    assert store.sim.product(pid)["stock_quantity"] == 3
    store.sim.edit_order(oid, status="processing")  # the transfer arrived: no second reduction
    assert store.sim.product(pid)["stock_quantity"] == 3
    assert store.sim.order(oid)["date_paid_gmt"] is not None

    store.sim.edit_order(oid, status="cancelled")
    cancelled = store.sim.order(oid)
    assert reduced_stock(cancelled) == [None]  # wc_increase_stock_levels removes the meta
    assert store.sim.product(pid)["stock_quantity"] == 5
    store.sim.edit_order(oid, status="pending")
    store.sim.edit_order(oid, status="cancelled")
    assert store.sim.product(pid)["stock_quantity"] == 5  # given back once


def test_variation_line_item(store: Store) -> None:
    parent = store.sim.add_product("Tee", type="variable")
    vid = store.sim.add_variation(parent, sku="TEE-M", price="20.00", stock=2)
    oid = store.sim.place_order([("TEE-M", 1)])
    item = store.api().get(f"orders/{oid}").json()["line_items"][0]
    assert (item["product_id"], item["variation_id"], item["sku"]) == (parent, vid, "TEE-M")
    assert store.api().get(f"products/{parent}/variations/{vid}").json()["stock_quantity"] == 1


def test_rest_created_order_and_meta_update(store: Store) -> None:
    pid = store.sim.add_product("Mug", sku="MUG", price="4.00", stock=10)
    api = store.api()
    created = api.post(
        "orders",
        {
            "set_paid": True,
            "billing": {"first_name": "João", "email": "j@example.com"},
            "line_items": [{"product_id": pid, "quantity": 3}],
            "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat", "total": "2"}],
        },
    )
    assert created.status_code == 201
    order = created.json()
    assert (order["status"], order["total"], order["billing"]["first_name"]) == (
        "processing",
        "14.00",
        "João",
    )
    assert store.sim.product(pid)["stock_quantity"] == 7
    tracking = [{"tracking_provider": "USPS", "tracking_number": "9400"}]
    updated = api.put(
        f"orders/{order['id']}",
        {"status": "completed", "meta_data": [{"key": "_wc_shipment_tracking_items", "value": tracking}]},
    )
    body = updated.json()
    assert body["status"] == "completed" and body["date_completed_gmt"] is not None
    assert [(m["key"], m["value"]) for m in body["meta_data"]] == [("_wc_shipment_tracking_items", tracking)]
    assert isinstance(body["meta_data"][0]["id"], int)


def test_unknown_order_and_invalid_status(store: Store) -> None:
    api = store.api()
    missing = api.get("orders/424242")
    assert (missing.status_code, missing.json()) == (
        404,
        {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}},
    )
    oid = store.sim.place_order([], status="pending")
    bad = api.put(f"orders/{oid}", {"status": "shipped"})
    assert (bad.status_code, bad.json()["code"]) == (400, "rest_invalid_param")


def test_partial_then_full_refund_with_restock(store: Store) -> None:
    pid = store.sim.add_product("Shirt", sku="SH-1", price="10.00", stock=5)
    oid = store.sim.place_order([("SH-1", 2)])
    item_id = store.sim.order(oid)["line_items"][0]["id"]
    api = store.api()
    partial = api.post(
        f"orders/{oid}/refunds",
        {
            "amount": "10.00",
            "reason": "damaged",
            "api_refund": False,
            "line_items": [{"id": item_id, "quantity": 1, "refund_total": 10}],
        },
    )
    assert partial.status_code == 201
    refund = partial.json()
    assert (refund["amount"], refund["reason"], refund["refunded_payment"]) == ("10.00", "damaged", False)
    assert (refund["line_items"][0]["quantity"], refund["line_items"][0]["total"]) == (-1, "-10.00")
    assert store.sim.product(pid)["stock_quantity"] == 4
    order = api.get(f"orders/{oid}").json()
    assert order["status"] == "processing"
    assert order["refunds"] == [{"id": refund["id"], "reason": "damaged", "total": "-10.00"}]
    too_much = api.post(f"orders/{oid}/refunds", {"amount": "10.01"})
    assert (too_much.status_code, too_much.json()["message"]) == (500, "Invalid refund amount.")
    full = api.post(f"orders/{oid}/refunds", {"amount": "10.00", "api_restock": False})
    assert (full.status_code, full.json()["refunded_payment"]) == (201, True)
    assert api.get(f"orders/{oid}").json()["status"] == "refunded"
    assert [r["id"] for r in api.get(f"orders/{oid}/refunds").json()] == [full.json()["id"], refund["id"]]


def test_refund_errors(store: Store) -> None:
    store.sim.add_product("Shirt", sku="SH-1", price="10.00")
    oid = store.sim.place_order([("SH-1", 1)], payment_method="bacs")
    api = store.api()
    zero = api.post(f"orders/{oid}/refunds", {"amount": "0"})
    assert (zero.status_code, zero.json()["code"]) == (400, "woocommerce_rest_invalid_order_refund")
    gateway = api.post(f"orders/{oid}/refunds", {"amount": "1.00"})
    assert (gateway.status_code, gateway.json()) == (
        500,
        {
            "code": "woocommerce_rest_cannot_create_order_refund",
            "message": "The payment gateway for this order does not support automatic refunds.",
            "data": {"status": 500},
        },
    )
    assert (
        api.post("orders/424242/refunds", {"amount": "1"}).json()["code"]
        == "woocommerce_rest_invalid_order_id"
    )


def test_order_notes(store: Store) -> None:
    oid = store.sim.place_order([], status="pending")
    api = store.api()
    note = api.post(f"orders/{oid}/notes", {"note": "Shipped via USPS 9400", "customer_note": True})
    assert note.status_code == 201
    assert (note.json()["note"], note.json()["customer_note"], note.json()["author"]) == (
        "Shipped via USPS 9400",
        True,
        "system",
    )
    customer = api.get(f"orders/{oid}/notes", params={"type": "customer"}).json()
    assert [n["note"] for n in customer] == ["Shipped via USPS 9400"]
    missing = api.post(f"orders/{oid}/notes", {})
    assert (missing.status_code, missing.json()["code"]) == (400, "rest_missing_callback_param")
    assert api.get("orders/424242/notes").json()["code"] == "woocommerce_rest_order_invalid_id"


def test_status_filter_and_trash(store: Store) -> None:
    a = store.sim.place_order([], status="pending")
    b = store.sim.place_order([], status="processing")
    c = store.sim.place_order([], status="completed")
    api = store.api()
    got = api.get("orders", params={"status": "processing,completed", "orderby": "id", "order": "asc"}).json()
    assert [o["id"] for o in got] == [b, c]
    assert api.delete(f"orders/{a}").json()["status"] == "trash"
    assert [o["id"] for o in api.get("orders", params={"orderby": "id"}).json()] == [c, b]
    assert [o["id"] for o in api.get("orders", params={"status": "trash"}).json()] == [a]
    assert api.delete(f"orders/{a}", params={"force": "true"}).status_code == 200
    assert api.get(f"orders/{a}").status_code == 404


def test_orders_batch(store: Store) -> None:
    store.sim.add_product("Mug", sku="MUG", price="3.00")
    oid = store.sim.place_order([("MUG", 1)])
    body = (
        store.api()
        .post(
            "orders/batch",
            {
                "create": [{"line_items": [{"sku": "MUG", "quantity": 2}]}],
                "update": [{"id": oid, "status": "completed"}],
            },
        )
        .json()
    )
    assert (body["create"][0]["total"], body["update"][0]["status"]) == ("6.00", "completed")
    over = store.api().post("orders/batch", {"update": [{"id": oid}] * 101})
    assert (over.status_code, over.json()["code"]) == (413, "woocommerce_rest_request_entity_too_large")

"""Custom order statuses: refused as WooCommerce refuses an unknown status until a plugin registers one."""

from __future__ import annotations

import requests

from tests.sandbox.woocommerce.conftest import Store

BUILT_IN = ["pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"]


def test_an_unregistered_status_is_refused_as_woocommerce_refuses_it(store: Store) -> None:
    oid = store.sim.place_order([], status="processing")

    refused = store.api().put(f"orders/{oid}", {"status": "delivered"})

    message = "status is not one of pending, processing, on-hold, completed, cancelled, refunded, and failed."
    assert refused.status_code == 400
    assert refused.json() == {
        "code": "rest_invalid_param",
        "message": "Invalid parameter(s): status",
        "data": {
            "status": 400,
            "params": {"status": message},
            "details": {"status": {"code": "rest_not_in_enum", "message": message, "data": None}},
        },
    }
    assert store.sim.order(oid)["status"] == "processing"  # nothing changed


def test_a_registered_status_is_accepted_listed_and_noted(store: Store) -> None:
    oid = store.sim.place_order([], status="processing")
    assert store.sim.register_order_status("wc-delivered", "Delivered") == "delivered"

    moved = store.api().put(f"orders/{oid}", {"status": "delivered"})

    assert (moved.status_code, moved.json()["status"]) == (200, "delivered")
    listed = requests.get(store.url + "/wp-json/wc/v3/orders/statuses", timeout=5)  # public, no key
    assert listed.json() == [{"slug": s, "name": n} for s, n in store.sim.order_statuses().items()]
    assert [s["slug"] for s in listed.json()] == [*BUILT_IN, "delivered"]
    assert listed.json()[-1] == {"slug": "delivered", "name": "Delivered"}
    notes = store.api().get(f"orders/{oid}/notes").json()
    assert notes[0]["note"] == "Order status changed from Processing to Delivered."
    by_status = store.api().get("orders", params={"status": "delivered"}).json()
    assert [o["id"] for o in by_status] == [oid]
    still_refused = store.api().put(f"orders/{oid}", {"status": "shipped"})
    assert "refunded, failed, and delivered." in still_refused.json()["data"]["params"]["status"]


def test_statuses_through_the_control_route_and_bad_ones_refused(store: Store) -> None:
    route = store.url + "/_sandbox/woocommerce/order_statuses"

    created = requests.post(route, json={"slug": "delivered", "label": "Delivered"}, timeout=5)
    bad_slug = requests.post(route, json={"slug": "Delivered Now", "label": "x"}, timeout=5)
    own = requests.post(route, json={"slug": "wc-completed", "label": "Done"}, timeout=5)
    no_label = requests.post(route, json={"slug": "in-transit"}, timeout=5)

    assert created.json()["delivered"] == "Delivered"
    assert (bad_slug.status_code, own.status_code, no_label.status_code) == (400, 400, 400)
    assert "lower-case letters" in bad_slug.json()["message"]
    assert "WooCommerce's own" in own.json()["message"]
    assert list(requests.get(route, timeout=5).json()) == [*BUILT_IN, "delivered"]
    store.sim.reset()
    assert list(store.sim.order_statuses()) == BUILT_IN  # a fresh store has only WooCommerce's

"""Injected faults answer with WooCommerce-shaped bodies; a lost write response still acted."""

from __future__ import annotations

from sandbox.harness import Faults

from .conftest import Store


def test_injected_errors_use_wordpress_error_bodies(store: Store) -> None:
    store.sim.faults = Faults(error_rate=1.0)
    resp = store.api().get("orders")
    assert resp.status_code == 503
    assert (resp.json()["code"], resp.json()["data"]) == ("http_request_failed", {"status": 503})


def test_throttling_sends_retry_after(store: Store) -> None:
    store.sim.faults = Faults(throttle_rate=1.0, retry_after_s=7)
    resp = store.api().get("orders")
    assert (resp.status_code, resp.headers["Retry-After"], resp.json()["data"]) == (429, "7", {"status": 429})


def test_lost_response_after_the_order_was_created(store: Store) -> None:
    store.sim.faults = Faults(lost_response_rate=1.0, hang_s=0, lost_response_ops=("orders.create",))
    store.sim.add_product("Mug", sku="MUG", price="3.00", stock=4)
    lost = store.api().post("orders", {"line_items": [{"sku": "MUG", "quantity": 1}], "status": "processing"})
    assert lost.status_code == 504
    store.sim.faults = Faults()
    [order] = store.api().get("orders").json()
    assert (order["status"], order["total"]) == ("processing", "3.00")
    assert store.sim.calls["orders.create"] == 1


def test_unknown_route_is_rest_no_route(store: Store) -> None:
    resp = store.api().get("coupons/1")
    assert (resp.status_code, resp.json()) == (
        404,
        {
            "code": "rest_no_route",
            "message": "No route was found matching the URL and request method.",
            "data": {"status": 404},
        },
    )


def test_state_endpoint_summarises_the_store(store: Store) -> None:
    store.sim.add_product("Mug", sku="MUG", stock=2)
    state = store.sim.snapshot()
    assert [p["sku"] for p in state["products"].values()] == ["MUG"]
    assert state["keys"] == 1

"""Consumer key authentication: OAuth 1.0a over http, Basic over https, WooCommerce's 401 bodies."""

from __future__ import annotations

import re
import time
from typing import Any

import requests
import woocommerce

from sandbox.harness import FakeClock, serve
from sandbox.woocommerce import WooCommerceSimulator

from .conftest import Store


def _error(resp: requests.Response) -> dict[str, Any]:
    body: dict[str, Any] = resp.json()
    return body


def test_keys_have_woocommerce_format(store: Store) -> None:
    assert re.fullmatch(r"ck_[0-9a-f]{40}", store.ck)
    assert re.fullmatch(r"cs_[0-9a-f]{40}", store.cs)


def test_official_client_signs_with_oauth_over_http_and_params_arrive_once(store: Store) -> None:
    for n in range(3):
        store.sim.add_product(f"P{n}", sku=f"P-{n}")
    resp = store.api().get("products", params={"per_page": 2})
    assert resp.status_code == 200
    assert resp.headers["X-WP-Total"] == "3"
    assert [p["sku"] for p in resp.json()] == ["P-2", "P-1"]
    # The client repeats the query string over http; the store reads each name once, as PHP does.
    assert "oauth_signature=" in resp.request.url
    assert resp.request.url.count("per_page=2") == 2


def test_basic_auth_is_ignored_over_plain_http(store: Store) -> None:
    resp = requests.get(f"{store.url}/wp-json/wc/v3/orders", auth=(store.ck, store.cs), timeout=5)
    assert resp.status_code == 401
    assert _error(resp) == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }


def test_basic_auth_and_query_keys_work_behind_https(store: Store) -> None:
    url = f"{store.url}/wp-json/wc/v3/orders"
    proxied = {"X-Forwarded-Proto": "https"}
    assert requests.get(url, auth=(store.ck, store.cs), headers=proxied, timeout=5).status_code == 200
    query = {"consumer_key": store.ck, "consumer_secret": store.cs}
    assert requests.get(url, params=query, headers=proxied, timeout=5).status_code == 200
    wrong = requests.get(url, auth=(store.ck, "cs_wrong"), headers=proxied, timeout=5)
    assert wrong.status_code == 401
    assert _error(wrong) == {
        "code": "woocommerce_rest_authentication_error",
        "message": "Consumer secret is invalid.",
        "data": {"status": 401},
    }


def test_https_store_accepts_basic_without_proxy_header() -> None:
    sim = WooCommerceSimulator(https=True)
    with serve(sim) as server:
        ck, cs = sim.create_key()
        assert (
            requests.get(f"{server.url}/wp-json/wc/v3/products", auth=(ck, cs), timeout=5).status_code == 200
        )


def test_oauth_with_wrong_secret_or_unknown_key(store: Store) -> None:
    bad_secret = store.api(cs="cs_" + "0" * 40).get("orders")
    assert bad_secret.status_code == 401
    assert _error(bad_secret)["code"] == "woocommerce_rest_authentication_error"
    assert _error(bad_secret)["message"] == "Invalid signature - provided signature does not match."
    unknown = store.api(ck="ck_" + "0" * 40).get("orders")
    assert unknown.status_code == 401
    assert _error(unknown)["message"] == "Consumer key is invalid."


def test_missing_oauth_parameter_is_named(store: Store) -> None:
    resp = requests.get(
        f"{store.url}/wp-json/wc/v3/orders", params={"oauth_consumer_key": store.ck}, timeout=5
    )
    assert resp.status_code == 401
    assert _error(resp)["code"] == "woocommerce_rest_authentication_missing_parameter"
    assert _error(resp)["message"] == (
        "Missing OAuth parameters oauth_timestamp, oauth_nonce, oauth_signature, oauth_signature_method"
    )


def test_replayed_nonce_is_refused(store: Store) -> None:
    first = store.api().get("orders")
    replay = requests.get(first.request.url, timeout=5)
    assert first.status_code == 200
    assert replay.status_code == 401
    assert _error(replay)["message"] == "Invalid nonce - nonce has already been used."


def test_stale_timestamp_is_refused() -> None:
    clock = FakeClock(start=time.time() + 3600)
    sim = WooCommerceSimulator(clock=clock)
    with serve(sim) as server:
        ck, cs = sim.create_key()
        api = woocommerce.API(url=server.url, consumer_key=ck, consumer_secret=cs, version="wc/v3", timeout=5)
        resp = api.get("orders")
    assert resp.status_code == 401
    assert resp.json()["message"] == "Invalid timestamp."


def test_read_key_cannot_write_and_write_key_cannot_read(store: Store) -> None:
    read_ck, read_cs = store.sim.create_key("read")
    write_ck, write_cs = store.sim.create_key("write")
    assert store.api(read_ck, read_cs).get("orders").status_code == 200
    denied = store.api(read_ck, read_cs).post("products", {"name": "X"})
    assert denied.status_code == 401
    assert _error(denied) == {
        "code": "woocommerce_rest_authentication_error",
        "message": "The API key provided does not have write permissions.",
        "data": {"status": 401},
    }
    assert store.api(write_ck, write_cs).post("products", {"name": "X"}).status_code == 201
    assert _error(store.api(write_ck, write_cs).get("orders"))["message"] == (
        "The API key provided does not have read permissions."
    )


def test_anonymous_requests_get_the_controllers_permission_errors(store: Store) -> None:
    base = f"{store.url}/wp-json/wc/v3"
    expected = {
        ("GET", "/orders/1"): ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
        ("POST", "/orders"): (
            "woocommerce_rest_cannot_create",
            "Sorry, you are not allowed to create resources.",
        ),
        ("PUT", "/products/1"): (
            "woocommerce_rest_cannot_edit",
            "Sorry, you are not allowed to edit this resource.",
        ),
        ("POST", "/orders/batch"): (
            "woocommerce_rest_cannot_batch",
            "Sorry, you are not allowed to batch manipulate this resource.",
        ),
    }
    for (method, path), (code, message) in expected.items():
        resp = requests.request(method, base + path, json={}, timeout=5)
        assert (resp.status_code, resp.json()["code"], resp.json()["message"]) == (401, code, message)

"""Outgoing webhooks: ping, signature, headers, PHP JSON, delivery-time payloads, failures, key exchange."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.woocommerce.wphttp import validate_url

from .conftest import Receiver, Store


def _subscribe(store: Store, receiver: Receiver, topic: str, secret: str = "a&amp;b") -> int:
    resp = store.api().post(
        "webhooks", {"name": topic, "topic": topic, "delivery_url": receiver.url, "secret": secret}
    )
    assert resp.status_code == 201
    webhook_id: int = resp.json()["id"]
    store.sim.deliver_webhooks()  # the creation ping
    receiver.clear()
    return webhook_id


def test_creation_sends_a_form_ping_without_signature(store: Store, receiver: Receiver) -> None:
    resp = store.api().post(
        "webhooks", {"topic": "order.created", "delivery_url": receiver.url, "secret": "s"}
    )
    body = resp.json()
    assert (body["status"], body["resource"], body["event"], body["hooks"]) == (
        "active",
        "order",
        "created",
        ["woocommerce_new_order"],
    )
    store.sim.deliver_webhooks()
    [ping] = receiver.received
    assert ping["body"] == f"webhook_id={body['id']}".encode()
    assert ping["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert not [h for h in ping["headers"] if h.lower().startswith("x-wc-")]


def test_order_created_is_signed_with_the_decoded_secret(store: Store, receiver: Receiver) -> None:
    webhook_id = _subscribe(store, receiver, "order.created")
    store.sim.add_product("Café/Crème", sku="CAFE", price="3.00")
    oid = store.sim.place_order([("CAFE", 1)], billing={"first_name": "João", "email": "j@example.com"})
    store.sim.deliver_webhooks()
    [hit] = receiver.received
    raw, headers = hit["body"], hit["headers"]
    expected = base64.b64encode(hmac.new(b"a&b", raw, hashlib.sha256).digest()).decode()
    assert headers["X-Wc-Webhook-Signature"] == expected
    assert (
        headers["X-Wc-Webhook-Topic"],
        headers["X-Wc-Webhook-Resource"],
        headers["X-Wc-Webhook-Event"],
    ) == ("order.created", "order", "created")
    assert headers["X-Wc-Webhook-Source"] == store.url + "/"
    assert headers["X-Wc-Webhook-Id"] == str(webhook_id)
    assert len(headers["X-Wc-Webhook-Delivery-Id"]) == 32
    # PHP JSON: escaped slashes and \u escapes, so re-serialising the parsed body changes the bytes.
    assert b"Caf\\u00e9\\/Cr\\u00e8me" in raw and b"Jo\\u00e3o" in raw and b"http:\\/\\/" in raw
    payload = json.loads(raw)
    assert (payload["id"], payload["status"], payload["billing"]["first_name"]) == (oid, "processing", "João")


def test_payload_is_built_at_delivery_time_and_coalesced(store: Store, receiver: Receiver) -> None:
    _subscribe(store, receiver, "order.updated")
    oid = store.sim.place_order([], status="pending")
    store.sim.edit_order(oid, status="on-hold")
    store.sim.edit_order(oid, status="completed")
    store.sim.deliver_webhooks()
    assert [json.loads(b)["status"] for b in receiver.bodies()] == ["completed"]


def test_order_deleted_carries_only_the_id(store: Store, receiver: Receiver) -> None:
    _subscribe(store, receiver, "order.deleted")
    oid = store.sim.place_order([], status="pending")
    store.sim.delete_order(oid)
    store.sim.deliver_webhooks()
    assert receiver.bodies() == [f'{{"id":{oid}}}'.encode()]


def test_product_updated_on_stock_change(store: Store, receiver: Receiver) -> None:
    _subscribe(store, receiver, "product.updated")
    pid = store.sim.add_product("Mug", sku="MUG", stock=4)
    store.sim.place_order([("MUG", 3)])
    store.sim.deliver_webhooks()
    [body] = receiver.bodies()
    assert (json.loads(body)["id"], json.loads(body)["stock_quantity"]) == (pid, 1)


def test_failed_delivery_is_never_resent(store: Store, receiver: Receiver) -> None:
    webhook_id = _subscribe(store, receiver, "order.created")
    receiver.statuses[:] = [500]
    store.sim.place_order([], status="pending")
    store.sim.deliver_webhooks()
    store.sim.deliver_webhooks()
    assert len(receiver.received) == 1
    assert store.sim.webhook(webhook_id)["failure_count"] == 1
    store.sim.place_order([], status="pending")
    store.sim.deliver_webhooks()
    assert store.sim.webhook(webhook_id)["failure_count"] == 0


def test_disabled_after_consecutive_failures_and_reactivation_keeps_the_count(
    store: Store, receiver: Receiver
) -> None:
    webhook_id = _subscribe(store, receiver, "order.created")
    receiver.statuses[:] = [503] * 20
    for expected in range(1, 7):
        store.sim.place_order([], status="pending")
        store.sim.deliver_webhooks()
        assert (store.sim.webhook(webhook_id)["failure_count"], store.sim.webhook(webhook_id)["status"]) == (
            expected,
            "active",
        )
    store.sim.place_order([], status="pending")
    store.sim.deliver_webhooks()
    assert store.api().get(f"webhooks/{webhook_id}").json()["status"] == "disabled"
    store.sim.place_order([], status="pending")
    store.sim.deliver_webhooks()
    assert len(receiver.received) == 7
    assert store.api().put(f"webhooks/{webhook_id}", {"status": "active"}).json()["status"] == "active"
    store.sim.place_order([], status="pending")
    store.sim.deliver_webhooks()
    assert store.sim.webhook(webhook_id)["status"] == "disabled"


def test_webhook_crud_and_errors(store: Store, receiver: Receiver) -> None:
    api = store.api()
    webhook_id = _subscribe(store, receiver, "product.updated")
    assert api.put(f"webhooks/{webhook_id}", {"status": "paused"}).json()["status"] == "paused"
    assert [w["id"] for w in api.get("webhooks", params={"status": "paused"}).json()] == [webhook_id]
    bad_topic = api.post("webhooks", {"topic": "order.shipped", "delivery_url": receiver.url})
    assert (bad_topic.status_code, bad_topic.json()["code"]) == (
        400,
        "woocommerce_rest_shop_webhook_invalid_topic",
    )
    no_force = api.delete(f"webhooks/{webhook_id}")
    assert (no_force.status_code, no_force.json()["code"]) == (501, "woocommerce_rest_trash_not_supported")
    assert api.delete(f"webhooks/{webhook_id}", params={"force": "true"}).status_code == 200
    assert api.get("webhooks").json() == []


def test_key_exchange_posts_keys_then_redirects(store: Store, receiver: Receiver) -> None:
    params = {
        "app_name": "Waybill",
        "scope": "read_write",
        "user_id": "shop-42",
        "return_url": "https://app.example/done",
        "callback_url": receiver.url,
    }
    resp = requests.get(f"{store.url}/wc-auth/v1/authorize", params=params, allow_redirects=False, timeout=5)
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert (location.netloc, parse_qs(location.query)) == (
        "app.example",
        {"success": ["1"], "user_id": ["shop-42"]},
    )
    [posted] = receiver.received
    keys = json.loads(posted["body"])
    assert set(keys) == {"key_id", "user_id", "consumer_key", "consumer_secret", "key_permissions"}
    assert (keys["user_id"], keys["key_permissions"]) == ("shop-42", "read_write")
    assert store.api(keys["consumer_key"], keys["consumer_secret"]).get("orders").status_code == 200


def test_key_exchange_deletes_the_key_when_the_callback_fails(store: Store, receiver: Receiver) -> None:
    receiver.statuses[:] = [500]
    params = {
        "app_name": "Waybill",
        "scope": "read",
        "user_id": "7",
        "return_url": "https://app.example/done",
        "callback_url": receiver.url,
    }
    resp = requests.get(f"{store.url}/wc-auth/v1/authorize", params=params, allow_redirects=False, timeout=5)
    assert resp.status_code == 401 and "Location" not in resp.headers
    keys = json.loads(receiver.received[0]["body"])
    assert store.api(keys["consumer_key"], keys["consumer_secret"]).get("orders").json()["message"] == (
        "Consumer key is invalid."
    )


def test_key_exchange_refuses_plain_http_callback_by_default(store: Store) -> None:
    store.sim.allow_http_callback = False
    try:
        params = {
            "app_name": "W",
            "scope": "read",
            "user_id": "1",
            "return_url": "https://a.example",
            "callback_url": "http://a.example/cb",
        }
        resp = requests.get(
            f"{store.url}/wc-auth/v1/authorize", params=params, allow_redirects=False, timeout=5
        )
    finally:
        store.sim.allow_http_callback = True
    assert resp.status_code == 401
    assert "The callback_url needs to be over SSL" in resp.text


def test_merchant_denial_redirects_with_success_0(store: Store) -> None:
    store.sim.approve_key_requests = False
    params = {
        "app_name": "W",
        "scope": "read",
        "user_id": "9",
        "return_url": "https://a.example/r?x=1",
        "callback_url": "https://a.example/cb",
    }
    resp = requests.get(f"{store.url}/wc-auth/v1/authorize", params=params, allow_redirects=False, timeout=5)
    assert (resp.status_code, resp.headers["Location"]) == (
        302,
        "https://a.example/r?x=1&success=0&user_id=9",
    )


def test_a_stock_store_never_sends_to_loopback_or_an_unsafe_port(store: Store, receiver: Receiver) -> None:
    """``wp_safe_remote_request`` refuses the URL: nothing is sent, and it counts as a failure."""
    store.sim.allow_unsafe_delivery_urls = False
    try:
        webhook_id = _subscribe(store, receiver, "order.created")  # the ping is refused as well
        store.sim.place_order([], status="pending")
        [delivery] = store.sim.deliver_webhooks()
    finally:
        store.sim.allow_unsafe_delivery_urls = True
    assert receiver.received == []
    assert (delivery.status, delivery.error) == (
        None,
        "http_request_not_executed: A valid URL was not provided.",
    )
    assert store.sim.webhook(webhook_id)["failure_count"] == 1


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://93.184.215.14/hooks", True),
        ("https://93.184.215.14:443/hooks", True),
        ("http://93.184.215.14:8080/hooks", True),
        ("https://93.184.215.14:8000/hooks", False),
        ("http://93.184.215.14:81/hooks", False),
        ("http://127.0.0.1/hooks", False),
        ("http://localhost/hooks", False),
        ("http://10.0.0.5/hooks", False),
        ("http://172.16.4.4/hooks", False),
        ("http://172.32.4.4/hooks", True),
        ("http://192.168.1.10/hooks", False),
        ("http://0.0.0.0/hooks", False),
        ("http://169.254.169.254/hooks", True),  # not on WordPress's list
        ("http://[::1]/hooks", False),
        ("http://user:pw@93.184.215.14/hooks", False),
        ("ftp://93.184.215.14/hooks", False),
    ],
)
def test_wp_http_validate_url(url: str, sent: bool) -> None:
    assert validate_url(url, "https://shop.example") is sent


def test_the_stores_own_host_is_not_checked_but_its_port_is() -> None:
    home = "http://127.0.0.1:7000"
    assert validate_url("http://127.0.0.1/hooks", home)
    assert validate_url("http://127.0.0.1:7000/hooks", home)
    assert not validate_url("http://127.0.0.1:7001/hooks", home)


def test_the_switch_opens_loopback_at_any_port_and_nothing_else() -> None:
    assert validate_url("http://127.0.0.1:54321/hooks", "https://shop.example", True, True)
    assert not validate_url("http://user:pw@127.0.0.1:54321/hooks", "https://shop.example", True, True)
    assert not validate_url("ftp://127.0.0.1/hooks", "https://shop.example", True, True)

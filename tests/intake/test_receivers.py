"""The webhook receivers: verify, dedupe, commit, enqueue; refuse and store nothing otherwise."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
from typing import Any

import pytest
from sqlalchemy import func, select

from db.accounts import get_or_create_account
from db.models import InboxEvent, Store, StoreState

APP_SECRET = "shpss_test_secret"
EP_SECRET = "sécret\u00aa"  # non-ASCII: EasyPost keys with the NFKD form
WOO_SECRET = "a&amp;b<c"
ORDER = {"id": 9007199254740993, "admin_graphql_api_id": "gid://shopify/Order/9007199254740993"}


@pytest.fixture(autouse=True)
def secrets(config: dict[str, Any]) -> None:
    config["shopify"] = {"api_secret": APP_SECRET}
    config["easypost"] = {"webhook_secret": EP_SECRET}


@pytest.fixture(autouse=True)
def handled_topics() -> Any:
    # Receivers enqueue only events of a kind that has a handler: the real handlers register
    # on import (an EasyPost event is of no storefront kind: kept, and ignored).
    import sync.tasks  # noqa: F401

    yield


def add_store(rt: Any, platform: str, domain: str, state: StoreState = StoreState.active) -> int:
    with rt.session() as s:
        account = get_or_create_account(s, "acme")
        store = Store(
            account_id=account.id,
            platform=platform,
            domain=domain,
            state=state,
            webhook_secret=rt.vault.encrypt(WOO_SECRET),
        )
        s.add(store)
        s.flush()
        return store.id


def inbox(rt: Any) -> list[InboxEvent]:
    with rt.session() as s:
        return list(s.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def shopify_post(
    client: Any,
    body: bytes,
    topic: str = "orders/create",
    shop: str = "acme.myshopify.com",
    event_id: str = "evt-1",
    secret: str = APP_SECRET,
    prefix: str = "X-",
    **extra: str,
) -> Any:
    sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        f"{prefix}Shopify-Hmac-Sha256": sig,
        f"{prefix}Shopify-Topic": topic,
        f"{prefix}Shopify-Shop-Domain": shop,
        f"{prefix}Shopify-Event-Id": event_id,
        f"{prefix}Shopify-Webhook-Id": "wh-1",
        f"{prefix}Shopify-API-Version": "2026-10",
        **extra,
    }
    return client.post("/webhooks/shopify", data=body, headers=headers, content_type="application/json")


def test_a_signed_shopify_order_is_committed_once_and_processed(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", "acme.myshopify.com")
    body = json.dumps(ORDER).encode()
    first = shopify_post(client, body)
    again = shopify_post(client, body)  # the platform re-delivers the same event
    assert (first.status_code, first.json) == (200, {"status": "accepted"})
    assert (again.status_code, again.json) == (200, {"status": "duplicate"})
    [event] = inbox(rt)
    assert (event.topic, event.dedupe_key, event.body) == (
        "orders/create",
        "acme.myshopify.com:event:evt-1",
        body,
    )
    assert event.headers["X-Shopify-Event-Id"] == "evt-1"
    assert "X-Shopify-Hmac-Sha256" not in event.headers
    assert json.loads(event.body)["id"] == 9007199254740993  # exact above 2^53
    if hasattr(rt.queue, "pump"):  # production: a worker moves the hand-off into RQ
        assert rt.queue.pump(block_s=0) == 1
    assert rt.queue.is_live(f"inbox-{event.id}")


def test_headers_without_the_x_prefix_are_accepted(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", "acme.myshopify.com")
    assert shopify_post(client, b"{}", prefix="").json == {"status": "accepted"}


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"secret": "wrong"}, 401),
        ({"shop": "stranger.myshopify.com"}, 401),
        ({"topic": ""}, 400),
    ],
)
def test_refusals_store_nothing(client: Any, rt: Any, kwargs: dict[str, str], status: int) -> None:
    add_store(rt, "shopify", "acme.myshopify.com")
    assert shopify_post(client, b"{}", **kwargs).status_code == status
    assert inbox(rt) == []


def test_missing_signature_is_refused(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", "acme.myshopify.com")
    resp = client.post(
        "/webhooks/shopify",
        data=b"{}",
        headers={
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": "acme.myshopify.com",
            "X-Shopify-Event-Id": "e",
        },
    )
    assert resp.status_code == 401 and inbox(rt) == []


def test_not_json_is_400_and_oversized_is_413(client: Any, rt: Any, app: Any) -> None:
    add_store(rt, "shopify", "acme.myshopify.com")
    assert shopify_post(client, b"not json").status_code == 400
    big = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    resp = shopify_post(client, big)
    assert resp.status_code == 413
    assert inbox(rt) == []


def test_uninstalled_shops_are_refused_except_privacy_topics(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", "acme.myshopify.com", StoreState.uninstalled)
    assert shopify_post(client, b"{}").status_code == 401
    assert shopify_post(client, b"{}", topic="shop/redact", event_id="evt-r").status_code == 200
    assert [e.topic for e in inbox(rt)] == ["shop/redact"]


def test_unhandled_topics_are_recorded_as_ignored(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", "acme.myshopify.com")
    resp = shopify_post(client, b"{}", topic="carts/update")
    assert resp.json == {"status": "ignored"}
    [event] = inbox(rt)
    assert str(event.state) == "ignored"


def test_database_down_answers_503(client: Any, rt: Any) -> None:
    from db.session import make_engine

    add_store(rt, "shopify", "acme.myshopify.com")
    assert shopify_post(client, b"{}", event_id="before").status_code == 200  # the shop is known (and cached)
    working = rt.engine
    rt.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # the database goes away
    try:
        assert shopify_post(client, b"{}", event_id="during").status_code == 503
    finally:
        rt.engine.dispose()
        rt.engine = working
    assert [e.dedupe_key for e in inbox(rt)] == ["acme.myshopify.com:event:before"]


def test_redis_down_still_answers_200_and_keeps_the_event(client: Any, rt: Any) -> None:
    from settings import load_settings
    from sync.redis_queue import RedisJobQueue

    add_store(rt, "shopify", "acme.myshopify.com")
    queue = rt.queue
    rt.queue = RedisJobQueue(load_settings({"redis_url": "redis://127.0.0.1:1/0"}, environ={}))
    try:
        assert shopify_post(client, b"{}").json == {"status": "accepted"}
    finally:
        rt.queue = queue
    [event] = inbox(rt)
    assert str(event.state) == "pending"  # the sweeper will enqueue it


def woo_post(client: Any, store_id: int, body: bytes, secret: str = "a&b<c", delivery: str = "d1") -> Any:
    sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-WC-Webhook-Signature": sig,
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Delivery-ID": delivery,
        "X-WC-Webhook-Source": "https://shop.example/",
    }
    return client.post(
        f"/webhooks/woocommerce/{store_id}", data=body, headers=headers, content_type="application/json"
    )


def test_woocommerce_signature_uses_the_entity_decoded_secret(client: Any, rt: Any) -> None:
    store_id = add_store(rt, "woocommerce", "https://shop.example")
    body = b'{"id":42,"permalink":"https:\\/\\/shop.example\\/?p=42"}'
    assert woo_post(client, store_id, body, secret=WOO_SECRET).status_code == 401  # not decoded: wrong
    assert woo_post(client, store_id, body).json == {"status": "accepted"}
    assert woo_post(client, store_id, body).json == {"status": "duplicate"}
    # Another resource in the same second shares the delivery id; it must not be lost.
    assert woo_post(client, store_id, b'{"id":43}').json == {"status": "accepted"}
    assert len(inbox(rt)) == 2


def test_woocommerce_ping_gets_200_and_stores_nothing(client: Any, rt: Any) -> None:
    store_id = add_store(rt, "woocommerce", "https://shop.example")
    resp = client.post(f"/webhooks/woocommerce/{store_id}", data={"webhook_id": "7"})
    assert resp.status_code == 200 and inbox(rt) == []
    assert client.post("/webhooks/woocommerce/999", data={"webhook_id": "7"}).status_code == 401


def test_woocommerce_unknown_store_is_refused(client: Any, rt: Any) -> None:
    assert woo_post(client, 12345, b"{}").status_code == 401
    assert inbox(rt) == []


@pytest.mark.parametrize("store_id", [2**31, 2**63, 10**30])
def test_woocommerce_store_ids_beyond_the_column_are_unknown_not_a_server_error(
    client: Any, rt: Any, store_id: int
) -> None:
    answer = woo_post(client, store_id, b"{}")
    assert answer.status_code == 401 and answer.json == {"error": "unknown store"}
    assert inbox(rt) == []


def test_easypost_event_signed_with_the_nfkd_secret(client: Any, rt: Any) -> None:
    body = json.dumps({"id": "evt_1", "object": "Event", "description": "tracker.updated"}).encode()
    key = unicodedata.normalize("NFKD", EP_SECRET).encode()
    good = "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    raw = "hmac-sha256-hex=" + hmac.new(EP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert client.post("/webhooks/easypost", data=body, headers={"X-Hmac-Signature": raw}).status_code == 401
    assert client.post("/webhooks/easypost", data=body, headers={"X-Hmac-Signature": good}).status_code == 200
    assert client.post("/webhooks/easypost", data=body, headers={"X-Hmac-Signature": good}).json == {
        "status": "duplicate"
    }
    with rt.session() as s:
        assert s.scalar(select(func.count(InboxEvent.id))) == 1


@pytest.mark.parametrize("writer", ["plain", "grouped"])
def test_a_database_restart_costs_no_webhook(config: dict[str, Any], postgres_url: str, writer: str) -> None:
    """Pooled connections killed under the receiver: the insert is retried on a fresh one,
    whichever inbox writer stores it (webhooks/inbox.py)."""
    from sqlalchemy import create_engine, text

    from app import create_app
    from db.session import upgrade

    upgrade(postgres_url)
    app = create_app({**config, "database_url": postgres_url, "inbox": {"writer": writer}})
    rt, client = app.extensions["waybill"], app.test_client()
    try:
        add_store(rt, "shopify", "acme.myshopify.com")
        assert shopify_post(client, b"{}", event_id="warm").status_code == 200  # a pooled connection exists
        admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
        admin.dispose()
        assert killed >= 1
        assert shopify_post(client, b"{}", event_id="after-restart").json == {"status": "accepted"}
        assert len(inbox(rt)) == 2
    finally:
        rt.close()

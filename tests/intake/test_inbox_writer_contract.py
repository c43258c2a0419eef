"""Every inbox writer gives the receivers the same outcomes (webhooks/inbox.py).

Each test runs once per writer the backend under test can take: the plain writer on
SQLite (embedded backend); the plain and the grouped writer on PostgreSQL (services
backend). The writer is chosen through config ``inbox.writer``, as in production, and
the deliveries go through the real receivers; the hand-off is the backend's own (the
in-process queue, or the Redis hand-off list)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine, select

from db.models import InboxEvent, InboxState, Platform, utcnow
from db.session import make_engine
from sync.handoff import HANDOFF_KEY
from sync.intake import inbox_job_id
from sync.redis_queue import RedisJobQueue
from tests.conftest import BACKEND
from webhooks.inbox import GroupedInboxWriter, PlainInboxWriter, make_writer, writer_for

SECRET = "shpss_contract_secret"
SHOP = "contract.myshopify.com"
WRITERS = {"plain": PlainInboxWriter, "grouped": GroupedInboxWriter}
# SQLite takes only the plain writer; PostgreSQL (the services backend) takes both.
KINDS = ["plain"] if BACKEND == "embedded" else ["plain", "grouped"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, config: dict[str, Any]) -> str:
    config["inbox"] = {"writer": request.param}
    config["shopify"] = {"api_secret": SECRET}
    return str(request.param)


@pytest.fixture
def shop(kind: str, rt: Any) -> Any:
    """The runtime, with its shop installed; the configured writer is the one in use."""
    from db.accounts import get_or_create_account
    from db.models import Store, StoreState

    assert type(writer_for(rt)) is WRITERS[kind]
    with rt.session() as s:
        account = get_or_create_account(s, "contract")
        s.add(Store(account_id=account.id, platform="shopify", domain=SHOP, state=StoreState.active))
    return rt


def post(app: Any, event_id: str, body: bytes = b'{"id": 1}', topic: str = "orders/create", **kw: str) -> Any:
    secret = kw.get("secret", SECRET)
    sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-Shopify-Hmac-Sha256": sig,
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Webhook-Id": f"w-{event_id}",
    }
    return app.test_client().post(
        "/webhooks/shopify", data=body, headers=headers, content_type="application/json"
    )


def rows(rt: Any) -> list[InboxEvent]:
    with rt.session() as s:
        return list(s.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def handed_off(rt: Any) -> list[int]:
    """The events handed off to the workers, once per hand-off (Redis) or live job (in-process)."""
    if isinstance(rt.queue, RedisJobQueue):
        payloads = rt.queue.connection.lrange(HANDOFF_KEY, 0, -1)
        return sorted(orjson.loads(p)[1]["event_id"] for p in payloads)
    return [e.id for e in rows(rt) if rt.queue.is_live(inbox_job_id(e.id))]


def key(event_id: str) -> str:
    return f"{SHOP}:event:{event_id}"


def test_a_delivery_is_committed_before_its_answer_and_handed_off(shop: Any, app: Any) -> None:
    body = b'{"id": 9007199254740993, "note": "caf\xc3\xa9"}'
    assert post(app, "a", body).json == {"status": "accepted"}
    other = create_engine(shop.settings.database_url)  # another session sees it: committed
    try:
        with other.connect() as conn:
            stored = conn.execute(select(InboxEvent.id, InboxEvent.body, InboxEvent.state)).all()
    finally:
        other.dispose()
    [(event_id, stored_body, state)] = stored
    assert (bytes(stored_body), state) == (body, InboxState.pending)
    [event] = rows(shop)
    assert (event.platform, event.topic, event.dedupe_key, event.attempts) == (
        Platform.shopify,
        "orders/create",
        key("a"),
        0,
    )
    assert event.headers["X-Shopify-Topic"] == "orders/create" and event.received_at.tzinfo is not None
    assert handed_off(shop) == [event_id]


def test_a_duplicate_delivery_is_stored_and_handed_off_once(shop: Any, app: Any) -> None:
    assert post(app, "a").json == {"status": "accepted"}
    assert post(app, "a", b'{"id": 2}').json == {"status": "duplicate"}  # same delivery, whatever the body
    assert post(app, "b").json == {"status": "accepted"}
    assert [e.dedupe_key for e in rows(shop)] == [key("a"), key("b")]
    assert handed_off(shop) == [e.id for e in rows(shop)]


def test_concurrent_deliveries_are_each_stored_once(shop: Any, app: Any) -> None:
    deliveries = [f"e{i}" for i in range(8)] + ["dup"] * 4
    start = threading.Barrier(len(deliveries))
    answers: list[Any] = [None] * len(deliveries)

    def deliver(i: int, event_id: str) -> None:
        start.wait()
        answers[i] = post(app, event_id)

    threads = [threading.Thread(target=deliver, args=(i, d)) for i, d in enumerate(deliveries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = [a.json["status"] for a in answers]
    assert statuses[:8] == ["accepted"] * 8
    assert sorted(statuses[8:]) == ["accepted", "duplicate", "duplicate", "duplicate"]
    stored = rows(shop)
    assert sorted(e.dedupe_key for e in stored) == sorted(key(d) for d in set(deliveries))
    assert handed_off(shop) == sorted(e.id for e in stored)


def test_refused_bodies(shop: Any, app: Any) -> None:
    assert post(app, "forged", secret="wrong").status_code == 401
    assert post(app, "garbled", b'{"id": ').status_code == 400
    assert rows(shop) == []  # refused at the edge: nothing stored
    # Signed but not a JSON object: kept as evidence, failed, answered 200 so it is not resent.
    assert post(app, "list", b"[1, 2]").json == {"status": "refused"}
    assert post(app, "list", b"[1, 2]").json == {"status": "duplicate"}
    [event] = rows(shop)
    assert (event.state, event.last_error) == (InboxState.failed, "refused: body is not a JSON object")
    assert handed_off(shop) == []


def test_an_unhandled_topic_is_stored_ignored_and_not_handed_off(shop: Any, app: Any) -> None:
    assert post(app, "c", topic="carts/update").json == {"status": "ignored"}
    [event] = rows(shop)
    assert event.state == InboxState.ignored
    assert handed_off(shop) == []


def test_the_database_unreachable_is_503_and_nothing_is_handed_off(
    shop: Any, app: Any, tmp_path: Any
) -> None:
    assert post(app, "before").json == {"status": "accepted"}  # the shop is known (and cached)
    working = shop.engine
    dead = "sqlite" if working.dialect.name == "sqlite" else "postgresql+psycopg"
    url = (
        f"sqlite:///{tmp_path}/absent/x.db"
        if dead == "sqlite"
        else "postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    shop.engine = make_engine(url)  # the database goes away
    try:
        assert post(app, "during").status_code == 503
    finally:
        shop.engine.dispose()
        shop.engine = working
    assert [e.dedupe_key for e in rows(shop)] == [key("before")]
    assert handed_off(shop) == [e.id for e in rows(shop)]


def values(dedupe_key: str, state: InboxState = InboxState.pending) -> dict[str, Any]:
    return {
        "platform": Platform.shopify,
        "topic": "orders/create",
        "dedupe_key": dedupe_key,
        "body": b"{}",
        "headers": {},
        "store_id": None,
        "account_id": None,
        "attempts": 0,
        "state": state,
        "received_at": utcnow(),
    }


def test_the_same_key_written_from_many_threads_gets_one_id(shop: Any) -> None:
    writer = writer_for(shop)
    start = threading.Barrier(8)
    found: list[int | None] = []

    def write() -> None:
        start.wait()
        found.append(writer.write(values("same")))

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    [event] = rows(shop)
    assert sorted(found, key=lambda i: i is not None) == [None] * 7 + [event.id]
    assert handed_off(shop) == [event.id]


def test_only_pending_events_are_handed_off(shop: Any) -> None:
    writer = writer_for(shop)
    ids = {state: writer.write(values(str(state), state)) for state in InboxState}
    assert all(isinstance(i, int) for i in ids.values())
    assert handed_off(shop) == [ids[InboxState.pending]]


def test_the_grouped_writer_needs_postgresql(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/w.db")
    try:
        with pytest.raises(ValueError, match="grouped needs PostgreSQL"):
            make_writer("grouped", engine, lambda ids: None)
        with pytest.raises(ValueError, match="not one of"):
            make_writer("fast", engine, lambda ids: None)
        assert isinstance(make_writer("auto", engine, lambda ids: None), PlainInboxWriter)
    finally:
        engine.dispose()

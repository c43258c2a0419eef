"""The receivers against real PostgreSQL and Redis, whatever the backend: the inbox insert
on kept libpq connections and the hand-off as a raw RESP write on kept sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from redis import Redis
from sqlalchemy import select, text

from db.models import InboxEvent, InboxState, Platform, utcnow
from sync.intake import HANDLERS
from sync.queue import HANDOFF_KEY, HandOffLinks
from tests.conftest import SECRET, drain
from tests.intake.test_receivers import APP_SECRET, add_store, inbox, shopify_post
from webhooks.intake import insert_event
from webhooks.pg_inbox import inbox_for

TOPIC = "waybill/test-handoff"
SHOP = "acme.myshopify.com"
PROCESSED: list[int] = []


@pytest.fixture
def services(config: dict[str, Any], postgres_url: str, redis_url: str) -> Iterator[Any]:
    """Waybill in production mode on PostgreSQL and Redis, with a recording handler."""
    from app import create_app
    from db.session import upgrade

    upgrade(postgres_url)
    overrides = {"database_url": postgres_url, "redis_url": redis_url, "mode": "production"}
    app = create_app({**config, **overrides, "secret_key": SECRET, "shopify": {"api_secret": APP_SECRET}})
    rt = app.extensions["waybill"]
    HANDLERS[(Platform.shopify, TOPIC)] = lambda rt, event_id: PROCESSED.append(event_id)
    PROCESSED.clear()
    add_store(rt, "shopify", SHOP)
    try:
        yield app
    finally:
        HANDLERS.pop((Platform.shopify, TOPIC))
        rt.close()


def values(key: str, topic: str = TOPIC) -> dict[str, Any]:
    return {
        "platform": Platform.shopify,
        "topic": topic,
        "dedupe_key": key,
        "body": b'{"id": 1}',
        "headers": {"X-Shopify-Topic": topic},
        "store_id": None,
        "account_id": None,
        "attempts": 0,
        "state": InboxState.pending,
        "received_at": utcnow(),
    }


def redis(rt: Any) -> Redis:
    connection: Redis = rt.queue.connection
    return connection


# --------------------------------------------------------------------------- the hand-off


def test_the_raw_resp_hand_off_lands_a_job_rq_runs(services: Any) -> None:
    rt, client = services.extensions["waybill"], services.test_client()
    assert rt.queue._links is not None  # plain TCP: the raw RESP path, not redis-py
    resp = shopify_post(client, b'{"id": 1}', topic=TOPIC)
    assert resp.json == {"status": "accepted"}
    [event] = inbox(rt)
    assert redis(rt).llen(HANDOFF_KEY) == 1
    drain(rt)  # pump the hand-off into RQ, then run it on an RQ worker
    assert [event.id] == PROCESSED
    assert redis(rt).llen(HANDOFF_KEY) == 0
    [event] = inbox(rt)
    assert str(event.state) == "done"


def test_a_broken_redis_socket_is_replaced_and_the_hand_off_kept(services: Any) -> None:
    rt, client = services.extensions["waybill"], services.test_client()
    links: HandOffLinks = rt.queue._links
    assert shopify_post(client, b"{}", topic=TOPIC, event_id="a").json == {"status": "accepted"}
    [kept] = links._idle
    port = kept.getsockname()[1]
    [killed] = [c for c in redis(rt).client_list() if c["addr"].endswith(f":{port}")]
    redis(rt).client_kill_filter(_id=killed["id"])  # Redis restarted, or dropped an idle client
    assert shopify_post(client, b"{}", topic=TOPIC, event_id="b").json == {"status": "accepted"}
    assert redis(rt).llen(HANDOFF_KEY) == 2
    assert len(links._idle) == 1 and links._idle[0] is not kept
    drain(rt)
    assert sorted(PROCESSED) == sorted(event.id for event in inbox(rt))


def test_closing_the_runtime_closes_the_kept_hand_off_sockets(services: Any) -> None:
    rt, client = services.extensions["waybill"], services.test_client()
    links: HandOffLinks = rt.queue._links
    assert shopify_post(client, b"{}", topic=TOPIC, event_id="c").json == {"status": "accepted"}
    [kept] = links._idle
    port = kept.getsockname()[1]

    def connected() -> bool:
        return any(c["addr"].endswith(f":{port}") for c in redis(rt).client_list())

    assert connected()
    rt.close()
    assert links._idle == [] and kept.fileno() == -1
    deadline = time.monotonic() + 5
    while connected() and time.monotonic() < deadline:  # Redis drops the client on its next loop
        time.sleep(0.02)
    assert not connected()


def test_a_hand_off_redis_refuses_leaves_the_event_pending_and_the_socket_usable(services: Any) -> None:
    rt, client = services.extensions["waybill"], services.test_client()
    links: HandOffLinks = rt.queue._links
    redis(rt).set(HANDOFF_KEY, "not a list")
    with pytest.raises(RuntimeError, match="WRONGTYPE"):
        links.lpush(b"x")
    [kept] = links._idle  # the error answer was read whole: the socket stays
    assert shopify_post(client, b"{}", topic=TOPIC).json == {"status": "accepted"}
    [event] = inbox(rt)
    assert event.state == InboxState.pending  # the sweeper enqueues it
    redis(rt).delete(HANDOFF_KEY)
    assert links.lpush(b"y") == 1 and links._idle == [kept]


def test_hand_offs_from_many_threads(services: Any) -> None:
    rt = services.extensions["waybill"]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def push(n: int) -> None:
        start.wait()
        try:
            for i in range(50):
                rt.queue.hand_off("process_inbox_event", {"event_id": n * 1000 + i}, f"inbox-{n}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert redis(rt).llen(HANDOFF_KEY) == 400
    assert len(set(redis(rt).lrange(HANDOFF_KEY, 0, -1))) == 400
    assert 1 <= len(rt.queue._links._idle) <= 8


# --------------------------------------------------------------------------- the inbox insert


def backend_pids(rt: Any) -> list[int]:
    return [conn.info.backend_pid for conn in inbox_for(rt.engine)._idle]


def terminate(rt: Any, pids: list[int]) -> None:
    with rt.engine.connect() as conn:
        for pid in pids:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


def test_a_killed_inbox_connection_is_replaced(services: Any) -> None:
    rt, client = services.extensions["waybill"], services.test_client()
    assert shopify_post(client, b"{}", topic=TOPIC, event_id="a").json == {"status": "accepted"}
    [pid] = backend_pids(rt)
    terminate(rt, [pid])  # only the intake's connection: the engine's pool is alive
    assert shopify_post(client, b"{}", topic=TOPIC, event_id="b").json == {"status": "accepted"}
    [replacement] = backend_pids(rt)
    assert replacement != pid
    assert [e.dedupe_key for e in inbox(rt)] == [f"{SHOP}:event:a", f"{SHOP}:event:b"]


def test_every_kept_connection_killed_costs_no_webhook(services: Any) -> None:
    rt = services.extensions["waybill"]
    inserted = _insert_from_threads(rt, "warm", threads=4, each=5)
    assert len(backend_pids(rt)) >= 2
    terminate(rt, backend_pids(rt))
    # The first insert finds a dead connection, drops all the idle ones and retries on a fresh one.
    assert insert_event(rt.engine, values("after")) is not None
    inserted += _insert_from_threads(rt, "later", threads=4, each=5)
    assert len(inserted) == len(set(inserted)) == 40
    with rt.session() as s:
        assert len(s.scalars(select(InboxEvent.id)).all()) == 41


def test_a_lost_prepared_statement_is_prepared_again(services: Any) -> None:
    rt = services.extensions["waybill"]
    assert insert_event(rt.engine, values("a")) is not None
    [conn] = inbox_for(rt.engine)._idle
    conn.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does between clients
    assert insert_event(rt.engine, values("b")) is not None
    assert inbox_for(rt.engine)._idle == [conn]


def test_a_row_postgresql_refuses_is_503_and_the_next_webhook_is_kept(services: Any) -> None:
    rt, client = services.extensions["waybill"], services.test_client()
    with pytest.raises(psycopg.DatabaseError):
        insert_event(rt.engine, values("long", topic="t" * 101))  # topic is VARCHAR(100)
    assert shopify_post(client, b"{}", topic="x" * 101, event_id="a").status_code == 503
    assert shopify_post(client, b"{}", topic=TOPIC, event_id="b").json == {"status": "accepted"}
    assert insert_event(rt.engine, values(f"{SHOP}:event:b")) is None  # a duplicate: no row, no error
    assert [e.dedupe_key for e in inbox(rt)] == [f"{SHOP}:event:b"]


def test_inserts_from_many_threads(services: Any) -> None:
    rt = services.extensions["waybill"]
    ids = _insert_from_threads(rt, "k", threads=8, each=25)
    assert len(ids) == len(set(ids)) == 200
    again = _insert_from_threads(rt, "k", threads=8, each=25)  # every key known: all duplicates
    assert again == []
    assert 1 <= len(backend_pids(rt)) <= 8


def _insert_from_threads(rt: Any, prefix: str, threads: int, each: int) -> list[int]:
    start = threading.Barrier(threads)
    ids: list[int] = []
    errors: list[BaseException] = []

    def insert(n: int) -> None:
        start.wait()
        try:
            for i in range(each):
                found = insert_event(rt.engine, values(f"{prefix}-{n}-{i}"))
                if found is not None:
                    ids.append(found)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=insert, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    return ids

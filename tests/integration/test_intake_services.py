"""The receivers against real PostgreSQL and Redis, whatever the backend: the inbox insert
on kept libpq connections and the hand-off as a raw RESP write on kept sockets."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
import pytest
from prometheus_client import REGISTRY
from redis import Redis
from sqlalchemy import select, text

from connectors.storefront import EventKind
from db.models import InboxEvent, InboxState, Platform, utcnow
from sync.handoff import HANDOFF_KEY, HandOffLinks, hand_off_sender
from sync.intake import HANDLERS
from tests.conftest import SECRET, drain
from tests.intake.test_receivers import APP_SECRET, add_store, inbox, shopify_post
from webhooks.inbox import writer_for
from webhooks.pg_inbox import GroupedInboxWriter, inbox_for, pg_params

# A real topic whose kind has its handler swapped for a recording one while a test runs.
TOPIC = "app/uninstalled"
KIND = EventKind.app_uninstalled
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
    real = HANDLERS[KIND]
    HANDLERS[KIND] = lambda rt, event_id: PROCESSED.append(event_id)
    PROCESSED.clear()
    add_store(rt, "shopify", SHOP)
    try:
        yield app
    finally:
        HANDLERS[KIND] = real
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


def grouped(rt: Any) -> GroupedInboxWriter:
    """The runtime's inbox writer: on PostgreSQL (``inbox.writer: auto``) the grouped one."""
    writer = writer_for(rt)
    assert isinstance(writer, GroupedInboxWriter)
    return writer


def insert_event(rt: Any, event: dict[str, Any]) -> int | None:
    """The PostgreSQL inbox insert itself (``PgInbox``), outside the group commit."""
    return inbox_for(rt.engine).insert(pg_params(event))


def raw_links(rt: Any) -> HandOffLinks:
    """The queue's hand-off sender: over plain TCP (``inbox.hand_off: auto``) the raw RESP one."""
    sender = rt.queue.sender
    assert isinstance(sender, HandOffLinks)
    return sender


def redis(rt: Any) -> Redis:
    connection: Redis = rt.queue.connection
    return connection


# --------------------------------------------------------------------------- the hand-off


def test_the_raw_resp_hand_off_lands_a_job_rq_runs(services: Any) -> None:
    rt, client = services.extensions["waybill"], services.test_client()
    assert isinstance(rt.queue.sender, HandOffLinks)  # plain TCP: the raw RESP path, not redis-py
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
    links = raw_links(rt)
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
    links = raw_links(rt)
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
    links = raw_links(rt)
    redis(rt).set(HANDOFF_KEY, "not a list")
    with pytest.raises(RuntimeError, match="WRONGTYPE"):
        links.lpush(b"x")
    [kept] = links._idle  # the error answer was read whole: the socket stays
    assert shopify_post(client, b"{}", topic=TOPIC).json == {"status": "accepted"}
    [event] = inbox(rt)
    assert event.state == InboxState.pending  # the sweeper enqueues it
    redis(rt).delete(HANDOFF_KEY)
    assert links.lpush(b"y") == 1 and links._idle == [kept]


@pytest.mark.parametrize("kind", ["plain", "raw"])
def test_either_sender_reports_a_refused_hand_off_and_stays_usable(services: Any, kind: str) -> None:
    rt = services.extensions["waybill"]
    sender = hand_off_sender(kind, Redis.from_url(rt.settings.redis_url))
    try:
        redis(rt).set(HANDOFF_KEY, "not a list")
        with pytest.raises(RuntimeError, match="WRONGTYPE"):
            sender.lpush(b"x")
        redis(rt).delete(HANDOFF_KEY)
        assert sender.lpush(b"y", b"z") == 2
        assert redis(rt).lrange(HANDOFF_KEY, 0, -1) == [b"z", b"y"]
    finally:
        sender.close()


def test_the_plain_sender_outlives_a_dropped_connection(services: Any) -> None:
    rt = services.extensions["waybill"]
    name = f"waybill-hand-off-{uuid.uuid4().hex[:8]}"
    client = Redis.from_url(rt.settings.redis_url, client_name=name)
    sender = hand_off_sender("plain", client)
    try:
        assert sender.lpush(b"a") == 1  # a pooled connection now
        [mine] = [c for c in redis(rt).client_list() if c["name"] == name]
        redis(rt).client_kill_filter(_id=mine["id"])  # Redis restarted, or dropped an idle client
        assert sender.lpush(b"b") == 2
    finally:
        client.close()


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
    assert 1 <= len(raw_links(rt)._idle) <= 8


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
    assert insert_event(rt, values("after")) is not None
    inserted += _insert_from_threads(rt, "later", threads=4, each=5)
    assert len(inserted) == len(set(inserted)) == 40
    with rt.session() as s:
        assert len(s.scalars(select(InboxEvent.id)).all()) == 41


def test_a_lost_prepared_statement_is_prepared_again(services: Any) -> None:
    rt = services.extensions["waybill"]
    assert insert_event(rt, values("a")) is not None
    [conn] = inbox_for(rt.engine)._idle
    conn.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does between clients
    assert insert_event(rt, values("b")) is not None
    assert inbox_for(rt.engine)._idle == [conn]


def test_a_row_postgresql_refuses_is_503_and_the_next_webhook_is_kept(services: Any) -> None:
    rt, client = services.extensions["waybill"], services.test_client()
    with pytest.raises(psycopg.DatabaseError):
        insert_event(rt, values("long", topic="t" * 101))  # topic is VARCHAR(100)
    assert shopify_post(client, b"{}", topic="x" * 101, event_id="a").status_code == 503
    assert shopify_post(client, b"{}", topic=TOPIC, event_id="b").json == {"status": "accepted"}
    assert insert_event(rt, values(f"{SHOP}:event:b")) is None  # a duplicate: no row, no error
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
                found = insert_event(rt, values(f"{prefix}-{n}-{i}"))
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


# --------------------------------------------------------------------------- group commit


@contextmanager
def inbox_locked(postgres_url: str) -> Iterator[None]:
    """Inserts into the inbox wait until the block ends (another session holds a SHARE lock)."""
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        conn.execute("LOCK TABLE inbox_events IN SHARE MODE")
        yield
        conn.rollback()


def post_from_threads(app: Any, deliveries: list[tuple[str, str]]) -> list[Any]:
    """``(event id, topic)`` each posted from its own thread; the answers in the same order."""
    answers: list[Any] = [None] * len(deliveries)

    def post(i: int, event_id: str, topic: str) -> None:
        answers[i] = shopify_post(app.test_client(), b'{"id": 1}', topic=topic, event_id=event_id, shop=SHOP)

    threads = [threading.Thread(target=post, args=(i, *d)) for i, d in enumerate(deliveries)]
    for t in threads:
        t.start()
    return [threads, answers]


def queued_behind_a_blocked_statement(
    services: Any, postgres_url: str, later: list[tuple[str, str]]
) -> tuple[list[Any], Any]:
    """One webhook's statement waits on the locked inbox while ``later`` queue up behind it;
    then the lock goes. The answers (first, then ``later``'s) and the process's group."""
    rt = services.extensions["waybill"]
    assert (
        shopify_post(services.test_client(), b"{}", topic=TOPIC, event_id="warm", shop=SHOP).status_code
        == 200
    )
    group = grouped(rt).combiner
    before = group.batches
    with inbox_locked(postgres_url):
        first_threads, first = post_from_threads(services, [("first", TOPIC)])
        wait_until(lambda: group._running == 1)
        threads, answers = post_from_threads(services, later)
        wait_until(lambda: len(group._waiting) == len(later))
    for t in first_threads + threads:
        t.join(30)
    assert group.batches - before == 2  # the blocked statement, then everything that queued behind it
    return first + answers, group


def post(app: Any, event_id: str) -> Any:
    return shopify_post(app.test_client(), b"{}", topic=TOPIC, event_id=event_id, shop=SHOP)


def keys(*event_ids: str) -> list[str]:
    return sorted(f"{SHOP}:event:{k}" for k in event_ids)


def wait_until(predicate: Any) -> None:
    deadline = time.monotonic() + 15
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_webhooks_arriving_together_are_stored_by_one_statement_and_handed_off_once(
    services: Any, postgres_url: str
) -> None:
    rt = services.extensions["waybill"]
    later = [(f"e{i}", TOPIC) for i in range(6)] + [("dup", TOPIC), ("dup", TOPIC), ("first", TOPIC)]
    count, total = (REGISTRY.get_sample_value(f"waybill_inbox_batch_size_{k}") or 0 for k in ("count", "sum"))
    answers, _ = queued_behind_a_blocked_statement(services, postgres_url, later)
    # The warm-up alone, then the blocked one alone, then the nine that queued behind it.
    assert REGISTRY.get_sample_value("waybill_inbox_batch_size_count") == count + 3
    assert REGISTRY.get_sample_value("waybill_inbox_batch_size_sum") == total + 11
    statuses = [a.json["status"] for a in answers]
    assert statuses[:7] == ["accepted"] * 7  # first, e0..e5
    assert sorted(statuses[7:9]) == ["accepted", "duplicate"]  # the same event twice in one batch
    assert statuses[9] == "duplicate"  # stored by the batch before
    keys = [e.dedupe_key for e in inbox(rt)]
    assert sorted(keys) == sorted(
        f"{SHOP}:event:{k}" for k in ["warm", "first", "dup", *(f"e{i}" for i in range(6))]
    )
    handed = redis(rt).lrange(HANDOFF_KEY, 0, -1)
    assert len(handed) == len(set(handed)) == 9  # one per stored event, none for a duplicate
    assert {e.id for e in inbox(rt)} == {orjson.loads(h)[1]["event_id"] for h in handed}


def test_a_row_postgresql_refuses_fails_alone_and_its_batch_is_stored(
    services: Any, postgres_url: str
) -> None:
    rt = services.extensions["waybill"]
    later = [("a", TOPIC), ("long", "t" * 101), ("b", TOPIC)]  # topic is VARCHAR(100)
    answers, _ = queued_behind_a_blocked_statement(services, postgres_url, later)
    assert [a.status_code for a in answers] == [200, 200, 503, 200]
    assert sorted(e.dedupe_key for e in inbox(rt)) == sorted(
        f"{SHOP}:event:{k}" for k in ["warm", "first", "a", "b"]
    )
    assert redis(rt).llen(HANDOFF_KEY) == 4


def test_a_connection_killed_under_a_batch_is_replaced_and_every_webhook_kept(
    services: Any, postgres_url: str
) -> None:
    rt = services.extensions["waybill"]
    assert post(services, "warm").status_code == 200
    group = grouped(rt).combiner
    with inbox_locked(postgres_url):
        first_threads, first = post_from_threads(services, [("first", TOPIC)])
        wait_until(lambda: group._running == 1)
        threads, answers = post_from_threads(services, [("a", TOPIC), ("b", TOPIC)])
        wait_until(lambda: len(group._waiting) == 2)
        [pid] = backend_pids_in_use(rt)
        terminate(rt, [pid])  # the leader's session dies while its statement waits
    for t in first_threads + threads:
        t.join(30)
    assert [a.json["status"] for a in first + answers] == ["accepted"] * 3  # retried on a fresh session
    assert sorted(e.dedupe_key for e in inbox(rt)) == keys("warm", "first", "a", "b")
    assert redis(rt).llen(HANDOFF_KEY) == 4
    assert pid not in backend_pids(rt)


def backend_pids_in_use(rt: Any) -> list[int]:
    """The intake's PostgreSQL sessions that are running a statement now."""
    with rt.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'INSERT INTO inbox_events%' AND state = 'active' AND pid <> pg_backend_pid()"
            )
        )
        return [int(r[0]) for r in rows]

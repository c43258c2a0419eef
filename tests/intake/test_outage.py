"""The database unreachable at the edge: receivers and pages answer 503, never 500, and
log one short line per request (no traceback), whether or not the store is cached.

The outage is real: the runtime's engine is pointed at a port where nothing listens, so
the driver raises what it raises when PostgreSQL is down (connection refused)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

import db.store_lookup
from db.session import make_session_factory
from telemetry import configure_logging
from tests.intake.test_receivers import APP_SECRET, ORDER, add_store, inbox, shopify_post, woo_post

DOWN_URL = "postgresql+psycopg://waybill@127.0.0.1:1/waybill"  # nothing listens on port 1


@pytest.fixture(autouse=True)
def secrets(config: dict[str, Any]) -> None:
    config["shopify"] = {"api_secret": APP_SECRET}


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    yield stream
    configure_logging("INFO")


@pytest.fixture
def database_down(rt: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """From now on this runtime's database cannot be reached."""
    dead = create_engine(DOWN_URL, connect_args={"connect_timeout": 2})
    monkeypatch.setattr(rt, "engine", dead)
    monkeypatch.setattr(rt, "sessions", make_session_factory(dead))
    db.store_lookup.forget()  # the store cache has expired
    yield
    dead.dispose()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_receivers_answer_503_with_one_line_when_the_database_is_unreachable(
    client: Any, rt: Any, logs: io.StringIO, database_down: None
) -> None:
    body = json.dumps(ORDER).encode()
    shopify = [shopify_post(client, body, event_id=f"evt-{n}") for n in range(3)]
    woo = woo_post(client, 1, body)
    for answer in [*shopify, woo]:
        assert (answer.status_code, answer.json) == (503, {"error": "temporarily unavailable"})
        assert answer.headers["Retry-After"] == "5"
    logged = lines(logs)
    assert [(e["event"], e["platform"], e["error"]) for e in logged] == [
        ("webhook.db_unavailable", "shopify", "OperationalError"),
    ] * 3 + [("webhook.db_unavailable", "woocommerce", "OperationalError")]
    assert "Traceback" not in logs.getvalue()
    assert all(e["request_id"] for e in logged)


def test_a_cached_store_with_the_database_gone_is_also_a_503(
    client: Any, rt: Any, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    add_store(rt, "shopify", "acme.myshopify.com")
    body = json.dumps(ORDER).encode()
    assert shopify_post(client, body, event_id="evt-1").status_code == 200  # the store is cached now
    dead = create_engine(DOWN_URL, connect_args={"connect_timeout": 2})
    monkeypatch.setattr(rt, "engine", dead)
    answer = shopify_post(client, body, event_id="evt-2")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert [e["event"] for e in lines(logs)] == ["webhook.db_unavailable"]
    dead.dispose()


def test_a_dead_pooled_connection_is_replaced_once_by_the_store_lookup(
    client: Any, rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the database restarted, the pool's first connection is dead: the look-up is
    tried again on a fresh one instead of answering the platform 503."""
    add_store(rt, "shopify", "acme.myshopify.com")
    db.store_lookup.forget()
    load, calls = db.store_lookup._load, []

    def dead_then_fine(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError(
                "SELECT", {}, Exception("server closed the connection"), connection_invalidated=True
            )
        return load(*args)

    monkeypatch.setattr(db.store_lookup, "_load", dead_then_fine)
    answer = shopify_post(client, json.dumps(ORDER).encode())
    assert (answer.status_code, answer.json) == (200, {"status": "accepted"})
    assert len(calls) == 2 and len(inbox(rt)) == 1


def test_api_and_pages_answer_503_without_a_traceback(
    client: Any, rt: Any, logs: io.StringIO, database_down: None
) -> None:
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json["down"]["database"]) == (503, "OperationalError")
    api = client.get("/api/v1/orders", headers={"Authorization": "Bearer wb_0000000000x"})
    assert api.status_code == 503
    assert api.json["error"].startswith("temporarily unavailable: the database")
    assert api.headers["Retry-After"] == "5"
    with client.session_transaction() as session:  # a signed-in browser
        session["account_id"], session["sid"] = 1, "x"
    page = client.get("/")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert page.mimetype == "text/plain" and b"temporarily unavailable" in page.data
    logged = lines(logs)
    assert [(e["event"], e["service"], e["endpoint"]) for e in logged] == [
        ("http.unavailable", "database", "api.orders"),
        ("http.unavailable", "database", "console.home"),
    ]
    assert "Traceback" not in logs.getvalue()


def test_a_database_error_that_is_a_bug_is_still_a_500(
    client: Any, rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    import web.api

    def broken(*_args: Any) -> Any:
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(web.api, "account_for_token", broken)
    client.application.config["PROPAGATE_EXCEPTIONS"] = False
    answer = client.get("/api/v1/orders", headers={"Authorization": "Bearer wb_0000000000x"})
    assert (answer.status_code, answer.json) == (500, {"error": "internal error"})


def test_storefront_webhooks_refused_503_owe_every_store_a_reconciliation_queued_at_once(
    client: Any, rt: Any, monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    """WooCommerce never sends a refused delivery again, and a channel level read before a
    refused order is in would count its sale twice: after refusals, every store is owed a
    reconciliation (settles wait for it) and it is queued as soon as the database answers."""
    from redis import Redis
    from rq.job import Job

    from db.models import Store
    from sync.reconcile import OWED_SINCE
    from sync.redis_queue import RedisJobQueue
    from sync.refused import OWED_KEY, RECONCILE_JOB_ID, reconcile_after_refusals

    store_id = add_store(rt, "woocommerce", "https://shop.example")
    redis = Redis.from_url(redis_url)
    monkeypatch.setattr(rt, "queue", RedisJobQueue(rt.settings, connection=redis))
    engine, sessions = rt.engine, rt.sessions
    dead = create_engine(DOWN_URL, connect_args={"connect_timeout": 2})
    monkeypatch.setattr(rt, "engine", dead)
    monkeypatch.setattr(rt, "sessions", make_session_factory(dead))
    db.store_lookup.forget()
    body = json.dumps(ORDER).encode()
    assert redis.get(OWED_KEY) is None
    assert shopify_post(client, body, event_id="evt-1").status_code == 503
    assert redis.get(OWED_KEY) == b"1"
    redis.delete(OWED_KEY)
    assert woo_post(client, store_id, body).status_code == 503
    assert redis.get(OWED_KEY) == b"1"
    with pytest.raises(OperationalError):
        reconcile_after_refusals(rt)  # the database is still down: kept for the next round
    assert redis.get(OWED_KEY) == b"1"

    monkeypatch.setattr(rt, "engine", engine)
    monkeypatch.setattr(rt, "sessions", sessions)
    assert reconcile_after_refusals(rt) is True
    assert redis.get(OWED_KEY) is None
    assert Job.fetch(RECONCILE_JOB_ID, connection=redis).args[0]["name"] == "reconcile_all"
    with rt.session() as s:
        assert OWED_SINCE in (s.get(Store, store_id).settings or {})  # its settles wait
    redis.set(OWED_KEY, b"1")  # refused again while that reconciliation is queued
    assert reconcile_after_refusals(rt) is False
    assert redis.get(OWED_KEY) == b"1"  # one more after it
    dead.dispose()

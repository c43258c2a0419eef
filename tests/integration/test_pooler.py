"""Waybill behind PgBouncer in transaction mode (``database.pooler: transaction``).

A pool of ONE server connection makes every client share one PostgreSQL session, so
whatever Waybill leaves on a session (startup options, prepared statements, session-level
settings and advisory locks) meets the next client at once. Real PostgreSQL and a private
PgBouncer (services backend).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from db.session import SessionLimits, make_engine, transaction_pooled
from settings import SettingsError, load_settings
from sync.locks import store_lock
from sync.runtime import session_limits
from tests.conftest import PG_URL
from tests.pgbouncer import PgBouncer, pgbouncer
from webhooks.pg_inbox import PgInbox

POOLED = SessionLimits(statement_s=5, idle_in_transaction_s=7, transaction_pooler=True)
# The advisory locks held in this test's database (the server is shared with other tests).
ADVISORY_LOCKS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.fixture
def bouncer(postgres_url: str) -> Iterator[PgBouncer]:
    with pgbouncer(PG_URL, pool=1) as running:
        yield running


@pytest.fixture
def pooled(bouncer: PgBouncer, postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(bouncer.url(postgres_url), POOLED)
    yield engine
    engine.dispose()


def test_session_limits_are_set_per_transaction_and_leave_nothing_on_the_server_session(
    bouncer: PgBouncer, postgres_url: str, pooled: Engine
) -> None:
    # Startup options (how a direct connection gets its limits) are refused by PgBouncer.
    direct_style = make_engine(bouncer.url(postgres_url), SessionLimits())
    with pytest.raises(OperationalError, match="unsupported startup parameter: options"):
        direct_style.connect().close()
    direct_style.dispose()
    assert transaction_pooled(pooled)
    with pooled.connect() as conn:
        shown = [
            conn.execute(text(f"SHOW {name}")).scalar()
            for name in ("statement_timeout", "idle_in_transaction_session_timeout")
        ]
    assert shown == ["5s", "7s"]
    # Another client, on the same (only) server session: the limits ended with the transaction.
    with psycopg.connect(bouncer.url(postgres_url).replace("+psycopg", ""), autocommit=True) as other:
        server_default = other.execute("SHOW statement_timeout").fetchone()
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as direct:
        assert server_default == direct.execute("SHOW statement_timeout").fetchone()


def test_no_statement_is_prepared_on_the_shared_server_session(pooled: Engine) -> None:
    """psycopg would prepare a query run five times on a connection; two connections doing
    so on one server session collide ("prepared statement ... already exists")."""
    one, two = pooled.connect(), pooled.connect()
    try:
        for i in range(12):
            for conn in (one, two):
                assert conn.execute(text("SELECT :n + 1"), {"n": i}).scalar() == i + 1
                conn.commit()
    finally:
        one.close()
        two.close()


def test_a_stores_lock_excludes_a_second_holder_on_the_same_server_session(pooled: Engine) -> None:
    rt = SimpleNamespace(engine=pooled)
    entered, spans = threading.Event(), {}

    def hold(name: str) -> None:
        with store_lock(rt, 7):  # type: ignore[arg-type]
            start = time.monotonic()
            entered.set()
            time.sleep(0.5)
            spans[name] = (start, time.monotonic())

    first = threading.Thread(target=hold, args=("first",))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=hold, args=("second",))
    second.start()
    first.join(15)
    second.join(15)
    assert set(spans) == {"first", "second"}
    assert spans["second"][0] >= spans["first"][1]  # the second got in only after the first left
    # Nothing of the lock outlived it: the only server session holds no advisory lock.
    with pooled.connect() as conn:
        assert conn.execute(ADVISORY_LOCKS).scalar() == 0
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "5s"


def test_two_receivers_store_webhooks_through_one_server_session(
    bouncer: PgBouncer, migrated_postgres_url: str
) -> None:
    engines = [make_engine(bouncer.url(migrated_postgres_url), POOLED) for _ in range(2)]
    now = datetime.now(UTC).isoformat().encode()
    try:
        inboxes = [PgInbox(engine) for engine in engines]
        for n in range(3):
            for i, inbox in enumerate(inboxes):
                key = f"pooled-{i}-{n}".encode()
                row = (b"shopify", b"orders/create", key, b"{}", b"{}", None, None, b"pending", now)
                assert inbox.insert(row) is not None
        plain = create_engine(migrated_postgres_url)
        with plain.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM inbox_events")).scalar() == 6
        plain.dispose()
    finally:
        for inbox in inboxes:
            inbox.close_idle()
        for engine in engines:
            engine.dispose()


def test_the_pooler_setting_comes_from_config_or_the_environment() -> None:
    assert not session_limits(load_settings(environ={}).database).transaction_pooler
    behind = load_settings(environ={"WAYBILL_DATABASE_POOLER": "transaction"})
    assert session_limits(behind.database).transaction_pooler
    with pytest.raises(SettingsError):
        load_settings({"database": {"pooler": "session"}}, environ={})

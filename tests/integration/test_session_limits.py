"""Every Waybill session on PostgreSQL runs under the limits of ``database`` in config.yaml,
so a client that leaks a transaction or vanishes does not hold its locks for long.

Real PostgreSQL (``postgres_url``: runs on the services backend).
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from sqlalchemy import create_engine, text

from db.session import SessionLimits, make_engine
from settings import load_settings
from sync.locks import LOCK_BASE, store_lock
from sync.runtime import session_limits
from webhooks.pg_inbox import inbox_for

SETTINGS = (
    "idle_in_transaction_session_timeout",
    "statement_timeout",
    "tcp_keepalives_idle",
    "tcp_keepalives_interval",
    "tcp_keepalives_count",
    "tcp_user_timeout",
)


def test_the_engine_and_the_receivers_connections_run_under_the_configured_limits(postgres_url: str) -> None:
    limits = session_limits(load_settings({"database_url": postgres_url}).database)
    assert limits == SessionLimits()  # config.yaml's values are the documented defaults
    engine = make_engine(postgres_url, limits)
    expected = ["30s", "1min", "10", "5", "3", "30000"]  # tcp_user_timeout shows milliseconds
    try:
        with engine.connect() as conn:
            assert [conn.execute(text(f"SHOW {name}")).scalar() for name in SETTINGS] == expected
        inbox = inbox_for(engine)
        kept = inbox._open()  # the receivers' own libpq connection
        try:
            assert [kept.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS] == expected  # type: ignore[index]
            params = {o.keyword: o.val for o in kept.pgconn.info}
            assert (params[b"keepalives"], params[b"keepalives_idle"], params[b"tcp_user_timeout"]) == (
                b"1",
                b"10",
                b"30000",
            )
        finally:
            kept.close()
        # What the database URL says wins; 0 turns a limit off.
        custom = make_engine(
            postgres_url + "?options=-c%20statement_timeout%3D5000",
            SessionLimits(idle_in_transaction_s=0, tcp_user_timeout_s=0),
        )
        with custom.connect() as conn:
            shown = [conn.execute(text(f"SHOW {name}")).scalar() for name in SETTINGS]
        custom.dispose()
        assert shown[0] == "0" and shown[1] == "5s" and shown[5] == "0"
    finally:
        engine.dispose()


def test_a_leaked_idle_transaction_releases_its_locks(postgres_url: str) -> None:
    probe = create_engine(postgres_url)
    with probe.begin() as conn:
        conn.execute(text("CREATE TABLE leak_probe (id integer PRIMARY KEY)"))
        conn.execute(text("INSERT INTO leak_probe VALUES (1)"))
    engine = make_engine(postgres_url, SessionLimits(idle_in_transaction_s=1))
    leaked = engine.connect()  # a transaction somebody forgot, its client still connected
    leaked.begin()
    leaked.execute(text("SELECT id FROM leak_probe WHERE id = 1 FOR UPDATE"))
    started = time.monotonic()
    try:
        with probe.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text("SELECT id FROM leak_probe WHERE id = 1 FOR UPDATE"))
        waited = time.monotonic() - started
        assert waited < 10
        print(f"the leaked transaction's lock was released after {waited:.2f} s")
    finally:
        leaked.invalidate()
        engine.dispose()
        probe.dispose()


def test_waiting_for_a_stores_stock_lock_is_not_cut_by_the_statement_timeout(postgres_url: str) -> None:
    """A full stock push may hold the store's lock longer than a statement may run."""
    engine = make_engine(postgres_url, SessionLimits(statement_s=0.3))
    holder = create_engine(postgres_url)
    rt = SimpleNamespace(engine=engine)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with holder.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_BASE + 7})
            held.set()
            release.wait(10)
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_BASE + 7})
            conn.commit()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(10)
        threading.Timer(1.0, release.set).start()
        started = time.monotonic()
        with store_lock(rt, 7):  # type: ignore[arg-type]  # waits about 1 s, past the 0.3 s limit
            waited = time.monotonic() - started
        assert waited > 0.5
        # The lock's connection, back in the pool, has the session's own limit again.
        with engine.connect() as one, engine.connect() as two:
            for conn in (one, two):
                assert conn.execute(text("SHOW statement_timeout")).scalar() == "300ms"
    finally:
        release.set()
        thread.join()
        engine.dispose()
        holder.dispose()

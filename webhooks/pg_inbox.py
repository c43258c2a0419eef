"""The inbox insert on PostgreSQL: one prepared statement on kept libpq connections.

A webhook's commit is one statement; psycopg's cursor machinery (query conversion,
parameter adaptation, result wrapping) and SQLAlchemy's pool checkout and check-in
cost more CPU than PostgreSQL takes to run it. Here each connection prepares the
insert once and runs it with ``PQexecPrepared`` (which releases the GIL while it
waits), in autocommit: the statement is its own transaction, committed durably
(synchronous_commit stays on) before PostgreSQL answers.

Connections are the intake's own, one per concurrently serving thread, kept on a
stack: taken for one insert and given back. They come from the engine's URL and are
closed when the engine is disposed.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence

import psycopg
from psycopg import pq
from sqlalchemy import Engine, event

STATEMENT = b"waybill_inbox_insert"
# The same columns and conflict target as the SQLAlchemy statement in webhooks.intake.
SQL = b"""INSERT INTO inbox_events
    (platform, topic, dedupe_key, body, headers, store_id, account_id, attempts, state, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)
ON CONFLICT (platform, dedupe_key) DO NOTHING
RETURNING id"""
FORMATS = (0, 0, 0, 1, 0, 0, 0, 0, 0)  # the body goes as bytes (binary), the rest as text
KEEP = 32  # idle connections kept; more are closed when given back
UNDEFINED_PREPARED_STATEMENT = "26000"


class PgInbox:
    """Inserts inbox rows for one engine's database."""

    def __init__(self, engine: Engine) -> None:
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._engine = weakref.ref(engine)
        self._args, self._kwargs = list(args), dict(kwargs)
        self._idle: list[psycopg.Connection[tuple[object, ...]]] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def insert(self, params: Sequence[bytes | None]) -> int | None:
        """Run the insert; the new row's id, or None when its dedupe key is known.

        A connection found dead (PostgreSQL restarted, the backend was terminated) is
        replaced and the insert retried once; every idle connection, ours and the
        engine's pool's, is dropped too, as they died with it. Raises ``psycopg.Error``
        when the database cannot be reached or refuses the row.
        """
        conn, fresh = self._take()
        try:
            result = _run(conn, params)
        except psycopg.OperationalError:
            conn.close()
            if fresh:
                raise
            self._dead_server()
            conn = self._open()
            try:
                result = _run(conn, params)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            conn.close()
            raise
        self._give(conn)
        return result

    def _take(self) -> tuple[psycopg.Connection[tuple[object, ...]], bool]:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's connections are not ours to use
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop(), False
        return self._open(), True

    def _give(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        with self._lock:
            if len(self._idle) < KEEP and self._pid == os.getpid():
                self._idle.append(conn)
                return
        conn.close()

    def _open(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(*self._args, **{**self._kwargs, "autocommit": True})
        try:
            _prepare(conn.pgconn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _dead_server(self) -> None:
        """PostgreSQL restarted or ended our sessions: the engine's pooled connections died
        with ours, so drop them too (as its own users would only find out one failure at
        a time); this also closes our idle ones."""
        self.close_idle()
        engine = self._engine()
        if engine is not None:
            engine.dispose(close=False)

    def close_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _prepare(pgconn: pq.abc.PGconn) -> None:
    _check(pgconn, pgconn.prepare(STATEMENT, SQL))


def _run(conn: psycopg.Connection[tuple[object, ...]], params: Sequence[bytes | None]) -> int | None:
    pgconn = conn.pgconn
    result = pgconn.exec_prepared(STATEMENT, params, FORMATS)  # type: ignore[arg-type]  # None: NULL
    if (
        result.status == pq.ExecStatus.FATAL_ERROR
        and pgconn.status == pq.ConnStatus.OK
        and result.error_field(pq.DiagnosticField.SQLSTATE) == UNDEFINED_PREPARED_STATEMENT.encode()
    ):
        _prepare(pgconn)  # the session lost it (DISCARD ALL by a pooler): prepare again
        result = pgconn.exec_prepared(STATEMENT, params, FORMATS)  # type: ignore[arg-type]  # None: NULL
    _check(pgconn, result)
    if result.ntuples == 0:
        return None
    value = result.get_value(0, 0)
    assert value is not None
    return int(value)


def _check(pgconn: pq.abc.PGconn, result: pq.abc.PGresult) -> None:
    if result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        return
    message = (result.error_message or pgconn.error_message).decode(errors="replace").strip()
    if pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError(message or "connection lost")
    raise psycopg.DatabaseError(message)


_inboxes: weakref.WeakKeyDictionary[Engine, PgInbox] = weakref.WeakKeyDictionary()
_inboxes_lock = threading.Lock()


def inbox_for(engine: Engine) -> PgInbox:
    """The engine's inbox writer, made on first use; its connections close with the engine."""
    found = _inboxes.get(engine)
    if found is not None:
        return found
    with _inboxes_lock:
        found = _inboxes.get(engine)
        if found is None:
            found = _inboxes[engine] = PgInbox(engine)
            event.listen(engine, "engine_disposed", lambda _engine: found.close_idle())
    return found

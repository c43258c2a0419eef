"""The inbox insert on PostgreSQL: prepared statements on kept libpq connections.

A webhook's commit is one statement; psycopg's cursor machinery (query conversion,
parameter adaptation, result wrapping) and SQLAlchemy's pool checkout and check-in
cost more CPU than PostgreSQL takes to run it. Here each connection prepares the
insert once per batch size and runs it with ``PQexecPrepared`` (which releases the
GIL while it waits), in autocommit: the statement is its own transaction, committed
durably (synchronous_commit stays on) before PostgreSQL answers. Webhooks arriving
together are stored by one multi-row statement (:mod:`webhooks.group` forms the
batches), which halves PostgreSQL's CPU per row: the commit and its flush cost about
as much as storing a 16 KB body.

Connections are the intake's own, one per concurrently running statement, kept on a
stack: taken for one insert and given back. They come from the engine's URL, so they run
under the same session limits and keepalives as the engine's (db.session.SessionLimits),
and are closed when the engine is disposed. A forked child lets go of them (db/forks.py).
Behind a pooler in transaction mode (``database.pooler: transaction``) nothing is prepared:
each insert is sent with its text (``PQexecParams``, the unnamed statement), since the
next statement of a connection may run on another server session.

:class:`GroupedInboxWriter` is the inbox writer built on it (``inbox.writer: grouped``,
or ``auto`` on PostgreSQL; :mod:`webhooks.inbox` has the interface and the plain one).
"""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson
import psycopg
from psycopg import pq
from sqlalchemy import Engine, event

from db.forks import at_fork, detach_fd, socket_fd
from db.models import InboxState
from db.session import transaction_pooled
from telemetry import INBOX_BATCH
from webhooks.group import Combiner, Failed
from webhooks.per_engine import PerEngine

if TYPE_CHECKING:
    from webhooks.inbox import EventValues, HandOffIds

STATEMENT = b"waybill_inbox_insert_%d"  # one prepared statement per batch size
COLUMNS = b"platform, topic, dedupe_key, body, headers, store_id, account_id, attempts, state, received_at"
# The same columns and conflict target as the SQLAlchemy statement in webhooks.inbox.
SQL = b"""INSERT INTO inbox_events (%s) VALUES %s
ON CONFLICT (platform, dedupe_key) DO NOTHING
RETURNING id, platform, dedupe_key"""
ROW_FORMATS = (0, 0, 0, 1, 0, 0, 0, 0, 0)  # the body goes as bytes (binary), the rest as text
PARAMS = len(ROW_FORMATS)
MAX_ROWS = 16  # rows in one statement at most
MAX_BATCH = 16  # webhooks stored by one statement at most (a batch of the group commit)
MAX_IN_FLIGHT = 1  # statements one process runs at once (its threads wait for them, or lead the next)
KEEP = 32  # idle connections kept; more are closed when given back
UNDEFINED_PREPARED_STATEMENT = "26000"

Row = Sequence[bytes | None]  # PARAMS values, as SQL's placeholders take them
Key = tuple[bytes, bytes]  # (platform, dedupe_key)


@functools.cache
def statement_sql(rows: int) -> bytes:
    """The insert of ``rows`` rows: ``($1, ..., $9), ($10, ...)``."""
    row = b"($%d, $%d, $%d, $%d, $%d, $%d, $%d, 0, $%d, $%d)"
    values = b", ".join(row % tuple(range(i * PARAMS + 1, (i + 1) * PARAMS + 1)) for i in range(rows))
    return SQL % (COLUMNS, values)


class PgInbox:
    """Inserts inbox rows for one engine's database."""

    def __init__(self, engine: Engine) -> None:
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._engine = weakref.ref(engine)
        self._unprepared = transaction_pooled(engine)  # a transaction pooler: no named statements
        self._args, self._kwargs = list(args), dict(kwargs)
        self._idle: list[psycopg.Connection[tuple[object, ...]]] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._opened: weakref.WeakSet[psycopg.Connection[tuple[object, ...]]] = weakref.WeakSet()
        at_fork(self, PgInbox._forget_at_fork)

    def _forget_at_fork(self) -> None:
        """In a forked child: let go of every connection inherited, idle or in use."""
        for conn in list(self._opened):
            detach_fd(socket_fd(conn))
        self._opened = weakref.WeakSet()
        self._idle, self._pid = [], os.getpid()
        self._lock = threading.Lock()

    def insert(self, params: Row) -> int | None:
        """Insert one row: its id, or None when its dedupe key is known (see :meth:`insert_many`)."""
        return self.insert_many([params])[0]

    def insert_many(self, rows: Sequence[Row]) -> list[int | None]:
        """Insert ``rows`` in one statement, one transaction; each row's new id, or None
        when its (platform, dedupe key) was already stored or came earlier in ``rows``.

        A connection found dead (PostgreSQL restarted, the backend was terminated) is
        replaced and the insert retried once; every idle connection, ours and the
        engine's pool's, is dropped too, as they died with it. Raises ``psycopg.Error``
        when the database cannot be reached or refuses the statement (then no row of it
        is stored).
        """
        first: dict[Key, int] = {}
        for i, row in enumerate(rows):
            first.setdefault((row[0] or b"", row[2] or b""), i)
        unique = [rows[i] for i in first.values()]
        stored: dict[Key, int] = {}
        for start in range(0, len(unique), MAX_ROWS):
            stored |= self._insert(unique[start : start + MAX_ROWS])
        ids: list[int | None] = [None] * len(rows)
        for key, i in first.items():
            ids[i] = stored.get(key)
        return ids

    def _insert(self, rows: Sequence[Row]) -> dict[Key, int]:
        conn, fresh = self._take()
        try:
            result = _run(conn, rows, self._unprepared)
        except psycopg.OperationalError:
            conn.close()
            if fresh:
                raise
            self._dead_server()
            conn = self._open()
            try:
                result = _run(conn, rows, self._unprepared)
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
        _prepared[conn] = set()
        self._opened.add(conn)
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
        if self._pid != os.getpid():  # a forked child: closing would end the parent's sessions
            self._forget_at_fork()
            return
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


_prepared: weakref.WeakKeyDictionary[psycopg.Connection[tuple[object, ...]], set[int]]
_prepared = weakref.WeakKeyDictionary()  # the batch sizes each connection has prepared


def _prepare(conn: psycopg.Connection[tuple[object, ...]], rows: int) -> None:
    _check(conn.pgconn, conn.pgconn.prepare(STATEMENT % rows, statement_sql(rows)))
    _prepared.setdefault(conn, set()).add(rows)


def _run(
    conn: psycopg.Connection[tuple[object, ...]], rows: Sequence[Row], unprepared: bool = False
) -> dict[Key, int]:
    """Run the insert of ``rows`` (prepared on first use, unless ``unprepared``); the stored
    rows' ids by key."""
    n, pgconn = len(rows), conn.pgconn
    params = [value for row in rows for value in row]
    formats = ROW_FORMATS * n
    if unprepared:
        result = pgconn.exec_params(statement_sql(n), params, param_formats=formats)  # type: ignore[arg-type]  # None: NULL
        _check(pgconn, result)
        return _stored(result)
    if n not in _prepared.get(conn, ()):
        _prepare(conn, n)
    result = pgconn.exec_prepared(STATEMENT % n, params, formats)  # type: ignore[arg-type]  # None: NULL
    if (
        result.status == pq.ExecStatus.FATAL_ERROR
        and pgconn.status == pq.ConnStatus.OK
        and result.error_field(pq.DiagnosticField.SQLSTATE) == UNDEFINED_PREPARED_STATEMENT.encode()
    ):
        _prepare(conn, n)  # the session lost it (DISCARD ALL by a pooler): prepare again
        result = pgconn.exec_prepared(STATEMENT % n, params, formats)  # type: ignore[arg-type]  # None: NULL
    _check(pgconn, result)
    return _stored(result)


def _stored(result: pq.abc.PGresult) -> dict[Key, int]:
    """The ids of the rows an insert stored, by (platform, dedupe key)."""
    stored: dict[Key, int] = {}
    for i in range(result.ntuples):
        row_id, platform, key = (result.get_value(i, c) for c in range(3))
        assert row_id is not None and platform is not None and key is not None
        stored[(bytes(platform), bytes(key))] = int(row_id)
    return stored


def _check(pgconn: pq.abc.PGconn, result: pq.abc.PGresult) -> None:
    if result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        return
    message = (result.error_message or pgconn.error_message).decode(errors="replace").strip()
    if pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError(message or "connection lost")
    raise psycopg.DatabaseError(message)


_inboxes: PerEngine[PgInbox] = PerEngine()


def inbox_for(engine: Engine) -> PgInbox:
    """The engine's inbox writer, made on first use; its connections close with the engine."""

    def make() -> PgInbox:
        inbox = PgInbox(engine)
        event.listen(engine, "engine_disposed", lambda _engine: inbox.close_idle())
        return inbox

    return _inboxes.get(engine, make)


class GroupedInboxWriter:
    """Group commit: webhooks arriving together in this process are stored by one
    statement and the new pending ones handed off by one call (see :mod:`webhooks.group`).

    A thread alone has its webhook stored at once; threads arriving while a statement
    runs wait for it, and the first of them stores all that waited, up to ``MAX_BATCH``.
    When PostgreSQL refuses the statement because of one row, the batch's rows are stored
    one by one, so only that webhook's caller gets the error."""

    def __init__(self, engine: Engine, hand_off: HandOffIds) -> None:
        self.inbox = inbox_for(engine)
        self.hand_off = hand_off
        self.combiner: Combiner[EventValues, int | None] = Combiner(
            self._store, max_batch=MAX_BATCH, max_in_flight=MAX_IN_FLIGHT
        )

    def write(self, values: EventValues) -> int | None:
        return self.combiner(values)

    def _store(self, batch: Sequence[EventValues]) -> Sequence[int | Failed | None]:
        INBOX_BATCH.observe(len(batch))
        rows = [pg_params(values) for values in batch]
        try:
            ids: list[int | Failed | None] = list(self.inbox.insert_many(rows))
        except psycopg.OperationalError:
            raise  # the database is unreachable: every webhook of the batch gets it
        except psycopg.Error:
            if len(rows) == 1:
                raise
            ids = [self._one(row) for row in rows]  # PostgreSQL refused a row: which one?
        pending = ((i, v) for i, v in zip(ids, batch, strict=True) if v["state"] == InboxState.pending)
        stored = [(i, v["account_id"]) for i, v in pending if isinstance(i, int)]
        if stored:
            self.hand_off([i for i, _ in stored], [account for _, account in stored])
        return ids

    def _one(self, row: Row) -> int | Failed | None:
        try:
            return self.inbox.insert(row)
        except psycopg.Error as exc:
            return Failed(exc)


def pg_params(values: EventValues) -> Row:
    """An inbox row's values as :data:`SQL` takes them: text, the body as bytes."""
    store_id, account_id = values["store_id"], values["account_id"]
    return (
        str(values["platform"]).encode(),
        values["topic"].encode(),
        values["dedupe_key"].encode(),
        values["body"],
        orjson.dumps(values["headers"]),
        None if store_id is None else b"%d" % store_id,
        None if account_id is None else b"%d" % account_id,
        str(values["state"]).encode(),
        values["received_at"].isoformat().encode(),
    )

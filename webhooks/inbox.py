"""Writing inbox rows: one interface, a plain writer and a grouped one for PostgreSQL.

A receiver stores a webhook through an :class:`InboxWriter`. ``write(values)`` commits
the row unless its (platform, dedupe key) is already stored, and hands a stored
``pending`` event off to the workers, before it returns: a 2xx answered after it means
the event is durably stored. It answers the new row's id, or None for a known dedupe
key, and raises the database's error when it could not store the row (the receiver
answers 503). A failed hand-off is only logged: the row holds the event and the inbox
sweeper enqueues it later.

- :class:`PlainInboxWriter`: one SQLAlchemy Core ``INSERT ... ON CONFLICT DO NOTHING
  RETURNING id`` in its own transaction per webhook. The readable default; SQLite's.
- :class:`webhooks.pg_inbox.GroupedInboxWriter`: PostgreSQL through psycopg only.
  Webhooks arriving together in one process are stored by one prepared multi-row
  statement on the intake's own libpq connections and handed off together.

Config ``inbox.writer`` picks one: ``auto`` (grouped on PostgreSQL with psycopg, plain
elsewhere), ``plain`` or ``grouped``.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from sqlalchemy import Engine, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import ReturningInsert

from db.models import InboxEvent, InboxState
from sync.intake import hand_off_events
from webhooks.per_engine import PerEngine
from webhooks.pg_inbox import GroupedInboxWriter

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.webhooks")

EventValues = dict[str, Any]  # an inbox row's columns: FIELDS
# Pending events stored, and their accounts (the queue's partition keys): to the workers
# (never raises).
HandOffIds = Callable[[Sequence[int], Sequence[int | None]], None]
FIELDS = (
    "platform",
    "topic",
    "dedupe_key",
    "body",
    "headers",
    "store_id",
    "account_id",
    "attempts",
    "state",
    "received_at",
)
WRITERS = ("auto", "plain", "grouped")


class InboxWriter(Protocol):
    def write(self, values: EventValues) -> int | None:
        """Store the event and hand it off when pending (see the module's docstring)."""
        ...


class PlainInboxWriter:
    """One SQLAlchemy statement and transaction per webhook, then its hand-off."""

    def __init__(self, engine: Engine, hand_off: HandOffIds) -> None:
        self._engine = weakref.ref(engine)  # writer_for keeps the writer as long as the engine lives
        self.hand_off = hand_off

    def write(self, values: EventValues) -> int | None:
        engine = self._engine()
        assert engine is not None, "the engine was disposed of with its runtime"
        event_id = insert_event(engine, values)
        if event_id is not None and values["state"] == InboxState.pending:
            self.hand_off([event_id], [values["account_id"]])
        return event_id


def insert_event(engine: Engine, values: EventValues) -> int | None:
    """Insert the event, committed when this returns; None when its dedupe key is known.

    A connection found dead (the database restarted) is retried once, on a new pool:
    after a restart every idle connection in the old one is dead too."""
    try:
        return _insert_once(engine, values)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        engine.dispose(close=False)
        return _insert_once(engine, values)


def _insert_once(engine: Engine, values: EventValues) -> int | None:
    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE (db/session.py)
        found: int | None = conn.execute(_insert_statement(engine.dialect.name), values).scalar()
        return found


@functools.cache
def _insert_statement(dialect: str) -> ReturningInsert[Any]:
    """Insert unless the (platform, dedupe key) is stored (no error on a duplicate), returning the id."""
    table = InboxEvent.__table__
    assert isinstance(table, Table)
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = builder(table).on_conflict_do_nothing(index_elements=["platform", "dedupe_key"])
    return stmt.returning(table.c.id)


def make_writer(kind: str, engine: Engine, hand_off: HandOffIds) -> InboxWriter:
    """The writer ``inbox.writer`` names for ``engine``; ValueError for grouped off PostgreSQL."""
    if kind not in WRITERS:
        raise ValueError(f"inbox.writer: {kind!r} is not one of {', '.join(WRITERS)}")
    on_psycopg = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
    if kind == "grouped" and not on_psycopg:
        raise ValueError("inbox.writer: grouped needs PostgreSQL through psycopg; use auto or plain")
    if kind == "grouped" or (kind == "auto" and on_psycopg):
        return GroupedInboxWriter(engine, hand_off)
    return PlainInboxWriter(engine, hand_off)


_writers: PerEngine[InboxWriter] = PerEngine()


def writer_for(rt: Runtime) -> InboxWriter:
    """The runtime's inbox writer (one per engine, made on first use), handing off to its queue."""
    engine = rt.engine
    return _writers.get(engine, lambda: make_writer(rt.settings.inbox.writer, engine, hand_off_to(rt)))


def hand_off_to(rt: Runtime) -> HandOffIds:
    """Hand events off to ``rt``'s queue, logging a failure (the sweeper enqueues them later)."""
    runtime = weakref.ref(rt)  # the writer lives as long as the engine, not the runtime

    def hand_off(event_ids: Sequence[int], accounts: Sequence[int | None]) -> None:
        live = runtime()
        if live is None:
            return
        try:
            hand_off_events(live, event_ids, accounts)
        except Exception as exc:  # the inbox holds them
            for event_id in event_ids:
                log.warning("webhook.enqueue_failed", event_id=event_id, error=type(exc).__name__)

    return hand_off

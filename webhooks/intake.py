"""What every receiver shares: the delivery as read from WSGI, bounded body reads, the
JSON check, inbox commits and the answers.

Receivers are plain functions ``(Delivery) -> Answer``; :mod:`webhooks.router` serves
them in front of Flask, so a webhook costs no Flask request context, session or
routing. Nothing here imports Flask.
"""

from __future__ import annotations

import functools
import json
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
import simdjson
import structlog
from sqlalchemy import Dialect, Engine, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from connectors.shopify.webhooks import HeaderSource
from db.models import InboxEvent, InboxState, Platform, utcnow
from sync.intake import hand_off_events, handler_for
from sync.runtime import Runtime
from telemetry import INBOX_BATCH, WEBHOOKS
from webhooks.group import Combiner, Failed
from webhooks.pg_inbox import PgInbox, inbox_for

log = structlog.get_logger("waybill.webhooks")

MAX_BATCH = 16  # webhooks stored by one statement at most
MAX_IN_FLIGHT = 1  # statements one process runs at once (its threads wait for them, or lead the next)


class Refused(Exception):
    """Answer with ``status`` and store nothing."""

    def __init__(self, status: int, message: str, outcome: str) -> None:
        super().__init__(message)
        self.status, self.message, self.outcome = status, message, outcome


@dataclass(frozen=True)
class Answer:
    """What a receiver answers: an HTTP status and a small JSON object."""

    status: int
    payload: Mapping[str, str]


@functools.lru_cache(maxsize=256)
def environ_key(name: str) -> str:
    """Where WSGI keeps header ``name``: ``X-Shopify-Topic`` -> ``HTTP_X_SHOPIFY_TOPIC``."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


class Headers:
    """A request's headers by case-insensitive name, read from the WSGI environ (as
    werkzeug's ``EnvironHeaders``, without building a key on every look-up)."""

    __slots__ = ("environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.environ.get(environ_key(name))
        return default if value is None else str(value)

    def names(self) -> list[str]:
        """The names of the headers sent (``X-Wc-Webhook-Topic`` for ``X-WC-Webhook-Topic``)."""
        return [name for name, _ in EnvironHeaders(self.environ).items()]


class Delivery:
    """One inbound webhook request, read straight from its WSGI environ."""

    __slots__ = ("_body", "environ", "headers", "rt")

    def __init__(self, environ: dict[str, Any], rt: Runtime) -> None:
        self.environ, self.rt = environ, rt
        self.headers = Headers(environ)
        self._body: bytes | None = None

    @property
    def content_type(self) -> str:
        return str(self.environ.get("CONTENT_TYPE", ""))

    def body(self) -> bytes:
        """The exact bytes received; 413 before reading past the configured limit."""
        if self._body is None:
            limit = self.rt.settings.webhooks.max_body_bytes
            length = _content_length(self.environ)
            if length is not None and length <= limit and not self.environ.get("wsgi.input_terminated"):
                # The common case, read in one call: the server's stream stops at the length.
                self._body = self.environ["wsgi.input"].read(length) if length else b""
                if len(self._body) != length:
                    raise Refused(400, "body shorter than its Content-Length", "incomplete_body")
                return self._body
            try:
                self._body = get_input_stream(self.environ, max_content_length=limit).read()
            except RequestEntityTooLarge as exc:
                raise Refused(413, f"body over {limit} bytes", "too_large") from exc
        return self._body


def _content_length(environ: dict[str, Any]) -> int | None:
    """``CONTENT_LENGTH`` when it is a plain non-negative number, else None."""
    value = environ.get("CONTENT_LENGTH")
    if not value or not str(value).isdigit():
        return None
    return int(value)


def parse_json(body: bytes) -> Any:
    """The document, exactly: Python keeps JSON integers exact, so 64-bit ids survive."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refused(400, "body is not JSON", "bad_json") from exc


_parsers = threading.local()


def check_json(body: bytes) -> None:
    """400 unless ``body`` is JSON, for receivers that store the body without reading it.

    simdjson validates a 16 KB order (grammar and UTF-8) in a sixth of orjson's time,
    since it builds no Python objects for the document's contents. What it refuses but
    json accepts (NaN, numbers out of a double's range or beyond 64 bits, lone
    surrogates, UTF-16 bodies) is asked of json, so both accept the same documents, but
    for nesting: simdjson takes up to 1,024 levels where json stops near 1,000 (as orjson
    did; only signed bodies get here). A parser is kept per thread: it is not
    thread-safe, and it reuses its buffers between documents.
    """
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = simdjson.Parser()
    try:
        parser.parse(body)
    except (ValueError, RuntimeError):  # simdjson's errors (UnicodeDecodeError, big integers, depth)
        parse_json(body)


_NOT_OBJECT = frozenset(b'["-0123456789tfn')


def not_an_object(body: bytes) -> bool:
    """Whether a valid JSON ``body`` is surely not an object: one look at its first byte.

    Bodies json reads in UTF-16 or UTF-32 are left to the job's full check."""
    start = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
    start = start.lstrip(b" \t\r\n")
    return bool(start) and start[0] in _NOT_OBJECT


def unavailable(platform: Platform | str, exc: BaseException) -> Answer:
    """503: the database could not store or look up the event; the platform sends it again.

    One log line per request, naming the error's type only: during an outage every
    request fails the same way, and a traceback each would bury the logs."""
    WEBHOOKS.labels(str(platform), "db_unavailable").inc()
    log.error("webhook.db_unavailable", platform=str(platform), error=type(exc).__name__)
    return Answer(503, {"error": "temporarily unavailable"})


def refused(platform: Platform, err: Refused) -> Answer:
    WEBHOOKS.labels(str(platform), err.outcome).inc()
    log.info("webhook.refused", platform=str(platform), outcome=err.outcome, status=err.status)
    return Answer(err.status, {"error": err.message})


def commit(
    rt: Runtime,
    platform: Platform,
    topic: str,
    dedupe_key: str,
    body: bytes,
    headers: Mapping[str, str],
    store_id: int | None = None,
    account_id: int | None = None,
    refusal: str | None = None,
) -> Answer:
    """Commit the event to the inbox (once per dedupe key), then hand it off to the workers.

    With ``refusal`` (a signed body the edge already knows is unusable) the event is kept
    as evidence in state ``failed`` with the reason, handed to no worker, and the platform
    is answered 200 ``refused``: a 4xx would only make it send the same body again (Shopify
    retries for 4 hours and may then delete the subscription; WooCommerce disables a
    webhook after repeated failures)."""
    handled = handler_for(platform, topic) is not None
    values = {
        "platform": platform,
        "topic": topic,
        "dedupe_key": dedupe_key[:255],
        "body": body,
        "headers": dict(headers),
        "store_id": store_id,
        "account_id": account_id,
        "attempts": 0,
        "state": InboxState.failed if refusal else InboxState.pending if handled else InboxState.ignored,
        "received_at": utcnow(),
    }
    engine = rt.engine
    group = _group(rt)
    try:
        event_id = insert_event(engine, values) if group is None else group(values)
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
        return unavailable(platform, exc)
    if event_id is None:
        WEBHOOKS.labels(str(platform), "duplicate").inc()
        return Answer(200, {"status": "duplicate"})
    if refusal:
        return _refused_and_kept(rt, platform, topic, event_id, refusal)
    if not handled:
        WEBHOOKS.labels(str(platform), "ignored").inc()
        return Answer(200, {"status": "ignored"})
    if group is None:  # the group hands its batch off itself
        _hand_off(rt, [event_id])
    WEBHOOKS.labels(str(platform), "accepted").inc()
    return Answer(200, {"status": "accepted"})


def _refused_and_kept(rt: Runtime, platform: Platform, topic: str, event_id: int, refusal: str) -> Answer:
    """The rare path: note the reason on the stored event (a second, small statement)."""
    WEBHOOKS.labels(str(platform), "refused_kept").inc()
    log.warning(
        "webhook.refused_kept", platform=str(platform), topic=topic, event_id=event_id, reason=refusal
    )
    try:
        with rt.session() as s:
            event = s.get(InboxEvent, event_id)
            if event is not None:
                event.last_error = f"refused: {refusal}"
                event.processed_at = utcnow()
    except SQLAlchemyError as exc:  # the event is stored and failed; only its reason is missing
        log.warning("webhook.refusal_not_noted", event_id=event_id, error=type(exc).__name__)
    return Answer(200, {"status": "refused"})


def _hand_off(rt: Runtime, event_ids: list[int]) -> None:
    try:
        hand_off_events(rt, event_ids)
    except Exception as exc:  # the inbox holds them; the sweeper enqueues them later
        for event_id in event_ids:
            log.warning("webhook.enqueue_failed", event_id=event_id, error=type(exc).__name__)


InboxGroup = Combiner[dict[str, Any], "int | None"]
_groups: weakref.WeakKeyDictionary[Engine, InboxGroup] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def _group(rt: Runtime) -> InboxGroup | None:
    """On PostgreSQL (psycopg), the runtime's group commit: webhooks arriving together
    are stored by one statement and handed off by one Redis command (see
    :mod:`webhooks.group`). None elsewhere: SQLite has one writer at a time anyway."""
    engine = rt.engine
    found = _groups.get(engine)
    if found is not None or engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return found
    runtime = weakref.ref(rt)  # the group lives as long as the engine, not the runtime

    def store(batch: Sequence[dict[str, Any]]) -> Sequence[int | Failed | None]:
        inbox = inbox_for(engine)
        INBOX_BATCH.observe(len(batch))
        rows = [_pg_params(values) for values in batch]
        try:
            ids: list[int | Failed | None] = list(inbox.insert_many(rows))
        except psycopg.OperationalError:
            raise  # the database is unreachable: every webhook of the batch gets 503
        except psycopg.Error:
            if len(rows) == 1:
                raise
            ids = [_one(inbox, row) for row in rows]  # PostgreSQL refused a row: which one?
        live = runtime()
        pending = (i for i, v in zip(ids, batch, strict=True) if v["state"] == InboxState.pending)
        handled = [i for i in pending if isinstance(i, int)]
        if live is not None and handled:
            _hand_off(live, handled)
        return ids

    with _groups_lock:
        found = _groups.get(engine)
        if found is None:
            found = _groups[engine] = Combiner(store, max_batch=MAX_BATCH, max_in_flight=MAX_IN_FLIGHT)
    return found


def _one(inbox: PgInbox, row: Sequence[bytes | None]) -> int | Failed | None:
    try:
        return inbox.insert(row)
    except psycopg.Error as exc:
        return Failed(exc)


def selected(headers: HeaderSource, names: tuple[str, ...]) -> dict[str, str]:
    """The headers worth keeping (never a signature)."""
    return {name: value for name, value in ((n, headers.get(n)) for n in names) if value}


# --------------------------------------------------------------------------- the insert

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


@dataclass(frozen=True)
class _Statement:
    """The inbox insert compiled once for a dialect, run on the DBAPI connection."""

    sql: str
    order: tuple[str, ...] | None  # positional paramstyles (SQLite): the parameters' order
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]  # SQLAlchemy's type conversions
    begin: str | None  # SQLite: what opens the transaction; None: autocommit (PostgreSQL)

    def params(self, values: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        for name, process in self.processors:
            values[name] = process(values[name])
        return values if self.order is None else tuple(values[name] for name in self.order)


_statements: weakref.WeakKeyDictionary[Dialect, _Statement] = weakref.WeakKeyDictionary()


def _statement(dialect: Dialect) -> _Statement:
    """Insert unless the dedupe key is known (no exception on duplicates), returning the id."""
    found = _statements.get(dialect)
    if found is not None:
        return found
    table = InboxEvent.__table__
    assert isinstance(table, Table)
    builder = pg_insert if dialect.name == "postgresql" else sqlite_insert
    stmt = builder(table).on_conflict_do_nothing(index_elements=["platform", "dedupe_key"])
    compiled = stmt.returning(table.c.id).compile(dialect=dialect, column_keys=list(FIELDS))
    processors = []
    for name in FIELDS:
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((name, process))
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    # As db/session.py does on SQLite: BEGIN IMMEDIATE (pysqlite's own BEGIN is deferred).
    begin = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else None
    found = _Statement(str(compiled), order, tuple(processors), begin)
    _statements[dialect] = found
    return found


def insert_event(engine: Engine, values: dict[str, Any]) -> int | None:
    """Insert the event, committed when this returns; None when its dedupe key is known.

    On PostgreSQL (psycopg) the insert is :mod:`webhooks.pg_inbox`'s prepared statement.
    Elsewhere (SQLite) the statement runs on a pooled DBAPI connection, without SQLAlchemy's per-statement
    work. On PostgreSQL it runs in autocommit mode: one statement is its own transaction,
    committed (durably: synchronous_commit stays on) before the server answers, which
    spares the BEGIN and COMMIT round trips. A connection found dead (the database
    restarted) is retried once, on a new pool: after a restart every idle connection in
    the old one is dead too.
    """
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return inbox_for(engine).insert(_pg_params(values))
    stmt = _statement(engine.dialect)
    params = stmt.params(values)
    for attempt in (1, 2):
        conn = engine.raw_connection()
        dbapi, cursor = conn.dbapi_connection, None
        try:
            if stmt.begin is None:
                dbapi.autocommit = True  # type: ignore[union-attr]
            cursor = conn.cursor()
            if stmt.begin is not None:
                cursor.execute(stmt.begin)
            cursor.execute(stmt.sql, params)
            rows = cursor.fetchall()
            if stmt.begin is not None:
                conn.commit()
            return int(rows[0][0]) if rows else None
        except engine.dialect.loaded_dbapi.Error as exc:
            if attempt == 2 or not engine.dialect.is_disconnect(exc, dbapi, cursor):
                raise
            conn.invalidate(exc)
            engine.dispose(close=False)
        finally:
            if cursor is not None:
                cursor.close()
            if stmt.begin is None and conn.is_valid:
                dbapi.autocommit = False  # type: ignore[union-attr]  # as the pool's other users expect
            conn.close()  # back to the pool (rolled back if the commit did not happen)
    return None


def _pg_params(values: dict[str, Any]) -> tuple[bytes | None, ...]:
    """The values as :data:`webhooks.pg_inbox.SQL` takes them: text, the body as bytes."""
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

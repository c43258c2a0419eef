"""Engine, sessions and the migration state of the database."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Select, bindparam, create_engine, event, inspect, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm._typing import OrmExecuteOptionsParameter
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.orm.session import _EntityBindKey, _PKIdentityArgument
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.selectable import ForUpdateParameter
from sqlalchemy.util import EMPTY_DICT

from db.forks import make_engine_fork_safe

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseNotReady(Exception):
    """The database is unreachable or not migrated; the message says what to do."""


@dataclass(frozen=True)
class SessionLimits:
    """What every Waybill session on PostgreSQL runs under (``database`` in config.yaml).

    A client that dies or vanishes in the middle of a transaction must not keep its row
    locks: PostgreSQL ends a transaction left idle longer than ``idle_in_transaction_s``,
    cancels a statement running longer than ``statement_s``, and TCP keepalives (both
    ends) and ``TCP_USER_TIMEOUT`` find a peer whose machine or network went away. 0 turns
    one off. Values already in the database URL's query win over these.

    ``transaction_pooler``: connections go through a pooler in transaction mode (PgBouncer
    ``pool_mode = transaction``), where one client connection's transactions may each run on
    a different server session and startup options are refused. Then the engine sends no
    ``options``, prepares no statements on the server, and sets the statement and idle
    limits at the start of each transaction instead (``set_config(..., true)``, as ``SET
    LOCAL``); the server side's keepalives are the pooler's (deploy/pgbouncer.ini).
    """

    idle_in_transaction_s: float = 30
    statement_s: float = 60
    keepalive_idle_s: int = 10
    keepalive_interval_s: int = 5
    keepalive_count: int = 3
    tcp_user_timeout_s: float = 30
    transaction_pooler: bool = False

    def transaction_settings(self) -> dict[str, int]:
        """The limits a transaction sets for itself behind a transaction pooler (milliseconds)."""
        wanted = {
            "statement_timeout": round(self.statement_s * 1000),
            "idle_in_transaction_session_timeout": round(self.idle_in_transaction_s * 1000),
        }
        return {name: value for name, value in wanted.items() if value > 0}

    def server_settings(self) -> dict[str, int]:
        """Session settings sent at connection start (milliseconds and seconds, as PostgreSQL counts)."""
        wanted = {
            "idle_in_transaction_session_timeout": round(self.idle_in_transaction_s * 1000),
            "statement_timeout": round(self.statement_s * 1000),
            # The server's side of the same keepalives: a vanished client is found too.
            "tcp_keepalives_idle": self.keepalive_idle_s,
            "tcp_keepalives_interval": self.keepalive_interval_s,
            "tcp_keepalives_count": self.keepalive_count,
            "tcp_user_timeout": round(self.tcp_user_timeout_s * 1000),
        }
        return {name: value for name, value in wanted.items() if value > 0}

    def connect_params(self) -> dict[str, str]:
        """libpq connection parameters: the client's keepalives and the session settings."""
        params: dict[str, str] = {}
        if self.keepalive_idle_s or self.keepalive_interval_s or self.keepalive_count:
            params["keepalives"] = "1"
            for name, value in (
                ("keepalives_idle", self.keepalive_idle_s),
                ("keepalives_interval", self.keepalive_interval_s),
                ("keepalives_count", self.keepalive_count),
            ):
                if value > 0:
                    params[name] = str(value)
        if self.tcp_user_timeout_s > 0:
            params["tcp_user_timeout"] = str(round(self.tcp_user_timeout_s * 1000))
        options = " ".join(f"-c {name}={value}" for name, value in self.server_settings().items())
        if options and not self.transaction_pooler:  # a pooler refuses startup options
            params["options"] = options
        return params


def with_session_limits(url: str, limits: SessionLimits) -> str:
    """``url`` (PostgreSQL) with ``limits`` in its query, so every connection made from it
    (the engine's pool and the receivers' own libpq connections) runs under them. What the
    URL already says wins; its own ``options`` come after ours, so theirs take effect."""
    parsed = make_url(url)
    query: dict[str, str | tuple[str, ...]] = dict(parsed.query)
    for name, value in limits.connect_params().items():
        if name == "options" and isinstance(query.get("options"), str):
            query["options"] = f"{value} {query['options']}"
        else:
            query.setdefault(name, value)
    return parsed.set(query=query).render_as_string(hide_password=False)


def make_engine(url: str, limits: SessionLimits | None = None, **kwargs: Any) -> Engine:
    """An engine tuned for Waybill's access pattern on SQLite or PostgreSQL.

    On PostgreSQL every session runs under ``limits`` (default: :class:`SessionLimits`'s
    defaults). Forked children of this process never use its connections (db/forks.py).
    """
    limits = limits or SessionLimits()
    engine = _make_engine(url, limits, **kwargs)
    make_engine_fork_safe(engine)
    if limits.transaction_pooler and engine.dialect.name == "postgresql":
        _TRANSACTION_POOLED.add(engine)
        statement = _set_locally(limits.transaction_settings())
        if statement:
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(statement))
    return engine


_TRANSACTION_POOLED: weakref.WeakSet[Engine] = weakref.WeakSet()


def transaction_pooled(engine: Engine) -> bool:
    """Whether ``engine`` reaches PostgreSQL through a pooler in transaction mode
    (:class:`SessionLimits`'s ``transaction_pooler``): no session state may outlive a
    transaction and no statement may be prepared on the server."""
    return engine in _TRANSACTION_POOLED


def _set_locally(settings: dict[str, int]) -> str:
    """One statement setting ``settings`` for the current transaction only (one round trip)."""
    calls = ", ".join(f"set_config('{name}', '{value}', true)" for name, value in settings.items())
    return f"SELECT {calls}" if calls else ""


def _make_engine(url: str, limits: SessionLimits, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; issue it ourselves so
        # that SELECT ... then UPDATE in one transaction is serialised.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        if path and path != ":memory:":
            # WAL is a property of the file: set it once, before connections race for the
            # exclusive lock switching it needs.
            raw = engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA journal_mode=WAL")
            finally:
                raw.close()
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No pre-ping: it costs a round trip on every checkout, a third of a webhook's
    # time. A connection found dead fails its statement and is discarded with the
    # pool's other connections; callers retry (receivers once, jobs by policy).
    kwargs.setdefault("pool_recycle", 1800)
    if limits.transaction_pooler:
        # psycopg prepares a statement run five times on its session; behind a transaction
        # pooler the next run may land on another session ("prepared statement does not exist").
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "prepare_threshold": None}
    return create_engine(with_session_limits(url, limits), pool_pre_ping=False, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener own transactions
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


_O = TypeVar("_O", bound=object)
_BY_PK: dict[tuple[type[Any], bool], tuple[Select[Any] | None, type[Any]]] = {}
_PK = "waybill_pk"


def _by_pk(entity: type[Any], lock: bool) -> tuple[Select[Any] | None, type[Any]]:
    """The prepared ``SELECT`` of one row of ``entity`` by its primary key (``FOR UPDATE``
    when ``lock``; None for a key of several columns) and the class its identity keys
    name, both worked out once per process."""
    key = (entity, lock)
    if key not in _BY_PK:
        mapper = inspect(entity)
        columns = mapper.primary_key
        stmt = select(entity).where(columns[0] == bindparam(_PK)) if len(columns) == 1 else None
        _BY_PK[key] = (stmt.with_for_update() if stmt is not None and lock else stmt), mapper._identity_class
    return _BY_PK[key]


class WaybillSession(Session):
    """A Session whose ``get`` of one row by an integer primary key runs a statement built
    once per process instead of building, keying and parameter-matching a new one at each
    call (a fifth of a primary-key load's CPU). Everything else, and every ``get`` that
    asks for more (options, populate_existing, identity tokens, another lock mode) or
    finds the row in the identity map already, is Session's own."""

    def get(
        self,
        entity: _EntityBindKey[_O],
        ident: _PKIdentityArgument,
        *,
        options: Sequence[ORMOption] | None = None,
        populate_existing: bool | None = None,
        with_for_update: ForUpdateParameter = None,
        identity_token: Any | None = None,
        execution_options: OrmExecuteOptionsParameter = EMPTY_DICT,
        bind_arguments: dict[str, Any] | None = None,
    ) -> _O | None:
        plain = options is None and populate_existing is None and identity_token is None
        plain = plain and not execution_options and bind_arguments is None and not self.execution_options
        if plain and with_for_update in (None, True) and isinstance(entity, type) and type(ident) is int:
            lock = with_for_update is True
            stmt, identity_class = _by_pk(entity, lock)
            # Session.get looks in the identity map first, unless it locks (then it reads).
            known = not lock and (identity_class, (ident,), None) in self.identity_map
            if stmt is not None and not known:
                found: _O | None = self.execute(stmt, {_PK: ident}).scalar_one_or_none()
                return found
        return super().get(
            entity,
            ident,
            options=options,
            populate_existing=populate_existing,
            with_for_update=with_for_update,
            identity_token=identity_token,
            execution_options=execution_options,
            bind_arguments=bind_arguments,
        )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, class_=WaybillSession, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``. A database already at the head
    revision is left alone without starting Alembic's environment (most starts of a
    process, and every embedded start after the first, find it so)."""
    if revision == "head" and _at_head(url):
        return
    command.upgrade(alembic_config(url), revision)


def _at_head(url: str) -> bool:
    """Whether the database answers and is at the head revision (False if unsure: the
    caller then runs Alembic, which reports any problem itself)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        return current_revision(engine) == _script().get_current_head()
    except Exception:
        return False
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    return _script().get_current_head()


@functools.cache
def _script() -> ScriptDirectory:
    """The migration scripts, read once per process (every database shares them)."""
    return ScriptDirectory.from_config(alembic_config(""))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_ready(engine: Engine, url: str) -> None:
    """Raise :class:`DatabaseNotReady` unless the database answers and is at head."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revision(engine)
    except Exception as exc:
        raise DatabaseNotReady(f"database unreachable: {type(exc).__name__}: {exc}") from exc
    head = head_revision(url)
    if current != head:
        raise DatabaseNotReady(
            f"database is at migration {current or 'none'}, code needs {head}: "
            "run `./waybill db upgrade` (or `make migrate`) first"
        )

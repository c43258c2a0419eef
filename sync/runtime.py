"""The process's shared services: settings, database, vault, effects ledger, queue.

Built once per process by :func:`build_runtime` (the web app, each worker, the
scheduler). Jobs receive it as their first argument.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.crypto import SecretKeyError, Vault, embedded_key
from db.effects import EffectsLedger
from db.models import utcnow
from db.session import (
    SessionLimits,
    check_ready,
    make_engine,
    make_session_factory,
    session_scope,
    upgrade,
)
from settings import DatabaseSettings, Settings
from sync.embedded_queue import EmbeddedJobQueue
from sync.queue import JobQueue
from sync.redis_queue import RedisJobQueue
from sync.schedule import check_schedules

_current: Runtime | None = None
_lock = threading.Lock()


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    vault: Vault
    ledger: EffectsLedger
    queue: JobQueue = field(init=False)
    # What time it is for decisions that compare with a carrier's times (tracking): the
    # wall clock, or a simulator's clock in an end-to-end test of a simulated week.
    now: Callable[[], datetime] = field(default_factory=lambda: utcnow)
    # Outside clients kept for the process's life, keyed by what they were built from
    # (sync/carriers.py): their HTTP connections are reused from job to job.
    clients: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.sessions) as s:
            yield s

    def enqueue(self, name: str, job_id: str, delay_s: float = 0, rerun: bool = False, **kwargs: Any) -> bool:
        """Enqueue job ``name``; ``rerun``: queue a follow-up if one of this id is running
        (see ``sync/queue.py``)."""
        return self.queue.enqueue(name, kwargs, job_id=job_id, delay_s=delay_s, rerun=rerun)

    def close(self) -> None:
        if isinstance(self.queue, EmbeddedJobQueue):
            self.queue.stop()
        elif isinstance(self.queue, RedisJobQueue):
            self.queue.close()
        self.engine.dispose()


def secret_key_for(settings: Settings) -> str:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    if settings.embedded:
        return embedded_key(settings.var_dir)
    raise SecretKeyError(
        "WAYBILL_SECRET_KEY is required in production mode (make one: ./waybill keys generate)"
    )


def build_runtime(settings: Settings, migrate: bool | None = None, check: bool = True) -> Runtime:
    """Connect to the database and queue. Embedded mode migrates itself; production
    refuses an unmigrated database (``DatabaseNotReady`` says what to run) and every mode
    a ``schedules`` entry that names no job (``SettingsError``)."""
    import sync.tasks  # noqa: F401  (registers the jobs)

    check_schedules(settings)  # a schedule naming no job stops start-up here, with its name
    vault = Vault(secret_key_for(settings))
    engine = make_engine(settings.database_url, session_limits(settings.database))
    if migrate if migrate is not None else settings.embedded:
        upgrade(settings.database_url)
    if check:
        check_ready(engine, settings.database_url)
    sessions = make_session_factory(engine)
    ledger = EffectsLedger(sessions, lease_s=settings.effects.lease_s, poll_s=settings.effects.wait_poll_s)
    rt = Runtime(settings, engine, sessions, vault, ledger)
    if settings.redis_url:
        rt.queue = RedisJobQueue(settings)
    else:
        rt.queue = EmbeddedJobQueue(settings, lambda: rt)
    return rt


def session_limits(db: DatabaseSettings) -> SessionLimits:
    """The PostgreSQL session limits and keepalives of ``database`` in config.yaml."""
    return SessionLimits(
        idle_in_transaction_s=db.idle_in_transaction_timeout_s,
        statement_s=db.statement_timeout_s,
        keepalive_idle_s=db.keepalive_idle_s,
        keepalive_interval_s=db.keepalive_interval_s,
        keepalive_count=db.keepalive_count,
        tcp_user_timeout_s=db.tcp_user_timeout_s,
        transaction_pooler=db.pooler == "transaction",
    )


def install(rt: Runtime) -> None:
    """Make ``rt`` the process-wide runtime that RQ jobs use."""
    global _current
    with _lock:
        _current = rt


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no Waybill runtime installed in this process")
    return _current


def freeze_boot_heap() -> int:
    """Keep what the process built at start-up out of every later garbage collection.

    A running Waybill holds some 160,000 long-lived objects from start-up (modules,
    SQLAlchemy's mappers, the GraphQL schema, the app); each full collection walks them
    all, a pause of about 0.1 s on every thread, in the middle of whatever runs (a full
    stock push stalled for it once per push). Called once from a process's entry point
    after start-up (``worker.py``, ``app.py``, gunicorn's ``post_worker_init`` in
    ``gunicorn.conf.py``), as CPython's documentation advises for long-lived servers.
    Returns how many objects are now frozen.
    """
    from connectors.storefront import load_builtin

    load_builtin()  # the connectors too: the first event would otherwise import them
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

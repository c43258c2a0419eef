"""No database or Redis connection crosses a fork.

A forked child shares its parent's sockets. If it keeps them, the parent's death does not
close them: PostgreSQL keeps the parent's session, with the row locks of its open
transaction, for as long as the child lives, and Redis goes on answering a blocked pop to a
client nobody reads. So every forked child (RQ's work horse under ``worker --fork``, a
gunicorn worker of a preloaded app, anything that forks) lets go of what it inherited,
before any of its code runs:

- each inherited socket's descriptor is pointed at ``/dev/null`` (``dup2``): the child no
  longer holds the connection open, and whatever the child later does with the stale
  object (closing it, a goodbye message on garbage collection) goes nowhere, never onto
  the parent's connection;
- the pools forget those connections (``Engine.dispose(close=False)``, redis-py's pool
  reset), so the child opens its own on first use.

Owners register what they hold with :func:`at_fork` (weakly: a registration ends with its
object). The hook is installed once per process with ``os.register_at_fork``.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from sqlalchemy import Engine, event

log = structlog.get_logger("waybill.forks")

# (weak reference to an owner, what a forked child does with it)
_hooks: list[tuple[weakref.ref[Any], Callable[[Any], None]]] = []
_installed = False
_register_lock = threading.Lock()  # taken by registrations in this process, never in a child
T = TypeVar("T")


def at_fork(owner: T, forget: Callable[[T], None]) -> None:
    """Run ``forget(owner)`` in every child forked from now on, while ``owner`` lives."""
    global _installed
    with _register_lock:
        if not _installed:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _installed = True
        _hooks[:] = [(ref, fn) for ref, fn in _hooks if ref() is not None]
        _hooks.append((weakref.ref(owner), forget))  # type: ignore[arg-type]


def _after_fork_in_child() -> None:
    # Only this thread exists in the child: no lock is taken (one held by a thread of the
    # parent at the fork would never be released here).
    for ref, forget in list(_hooks):
        owner = ref()
        if owner is None:
            continue
        try:
            forget(owner)
        except Exception as exc:  # a failing hook must not stop the others or the child
            log.warning("fork.forget_failed", owner=type(owner).__name__, error=type(exc).__name__)


def detach_fd(fd: int | None) -> None:
    """Point descriptor ``fd`` at ``/dev/null``: this process no longer holds what it was."""
    if fd is None or fd < 0:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(null, fd, inheritable=False)
    except OSError:
        pass  # already closed
    finally:
        os.close(null)


def socket_fd(conn: Any) -> int | None:
    """The descriptor of a libpq connection (psycopg), or None when it has none."""
    try:
        return int(conn.pgconn.socket)  # raises once the connection is closed
    except Exception:
        return None


def make_engine_fork_safe(engine: Engine) -> None:
    """Forked children of this process drop ``engine``'s connections (see the module doc)."""
    if engine.dialect.name != "postgresql":
        at_fork(engine, _dispose)  # SQLite: a file, not a socket; the pool still starts anew
        return
    opened: weakref.WeakSet[Any] = weakref.WeakSet()

    def remember(dbapi_conn: Any, _record: Any) -> None:
        opened.add(dbapi_conn)

    event.listen(engine, "connect", remember)

    def forget(engine: Engine) -> None:
        # Checked in or checked out (by a thread that does not exist in the child): every
        # connection the engine made and that is still open.
        for conn in list(opened):
            detach_fd(socket_fd(conn))
        opened.clear()
        _dispose(engine)

    at_fork(engine, forget)


def _dispose(engine: Engine) -> None:
    engine.dispose(close=False)


def forget_redis_pool(pool: Any) -> None:
    """A forked child's handling of an inherited redis-py connection pool."""
    connections = [*getattr(pool, "_available_connections", ()), *getattr(pool, "_in_use_connections", ())]
    for conn in connections:
        sock = getattr(conn, "_sock", None)
        if sock is not None:
            detach_fd(sock.fileno())  # -1 once closed
    pool.reset()


def make_redis_fork_safe(redis: Any) -> None:
    """Forked children of this process drop the connections of ``redis`` (a redis-py client)."""
    at_fork(redis.connection_pool, forget_redis_pool)

"""Per-store locks: one stock writer or settler per store at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sync.runtime import Runtime

LOCK_BASE = 0x57B1_0000  # PostgreSQL advisory lock keys: LOCK_BASE + store id
_LOCKS: dict[int, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def store_lock(rt: Runtime, store_id: int) -> Iterator[None]:
    """Held across processes on PostgreSQL (advisory lock), within the process on SQLite.

    Waiting for the lock is not held to the session's statement timeout (``database`` in
    config.yaml): a full stock push of another worker may hold it for longer. A holder that
    dies releases it with its session.
    """
    if rt.engine.dialect.name == "postgresql":
        with rt.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SET statement_timeout = 0"))
            try:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_BASE + store_id})
            finally:
                conn.execute(text("RESET statement_timeout"))  # back to the session's own limit
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_BASE + store_id})
        return
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(store_id, threading.Lock())
    with lock:
        yield

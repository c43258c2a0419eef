"""Per-store locks: one stock writer or settler per store at a time; per-order locks: one
writer of an order's parcels on its storefront at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sync.runtime import Runtime

LOCK_BASE = 0x57B1_0000  # PostgreSQL advisory lock keys: LOCK_BASE + store id
# Per-order locks take the two-key form (ORDER_SPACE, order id): PostgreSQL keeps that key
# space apart from the one-key form the store locks use.
ORDER_SPACE = 0x57B2
_LOCKS: dict[tuple[int, int], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def store_lock(rt: Runtime, store_id: int) -> Iterator[None]:
    """Held across processes on PostgreSQL (advisory lock), within the process on SQLite.

    Waiting for the lock is not held to the session's statement timeout (``database`` in
    config.yaml): a full stock push of another worker may hold it for longer. A holder that
    dies releases it with its session.
    """
    with _advisory(rt, "(:k)", {"k": LOCK_BASE + store_id}, (0, store_id)):
        yield


@contextmanager
def order_lock(rt: Runtime, order_id: int) -> Iterator[None]:
    """One writer of the order's parcels on its storefront at a time (as :func:`store_lock`).

    A storefront may keep every parcel of an order in one record that each write replaces
    whole (WooCommerce's tracking meta: read, add the parcel, write the list back): two
    parcels written back at once would each write the list without the other's."""
    with _advisory(rt, "(:a, :b)", {"a": ORDER_SPACE, "b": order_id}, (ORDER_SPACE, order_id)):
        yield


@contextmanager
def _advisory(rt: Runtime, args: str, keys: dict[str, int], local: tuple[int, int]) -> Iterator[None]:
    if rt.engine.dialect.name == "postgresql":
        with rt.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SET statement_timeout = 0"))
            try:
                conn.execute(text(f"SELECT pg_advisory_lock{args}"), keys)
            finally:
                conn.execute(text("RESET statement_timeout"))  # back to the session's own limit
            try:
                yield
            finally:
                conn.execute(text(f"SELECT pg_advisory_unlock{args}"), keys)
        return
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(local, threading.Lock())
    with lock:
        yield

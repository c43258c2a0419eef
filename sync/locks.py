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
UNLIMITED = text(
    "SELECT set_config('statement_timeout', '0', true),"
    " set_config('idle_in_transaction_session_timeout', '0', true)"
)
# Per-order locks take the two-key form (ORDER_SPACE, order id): PostgreSQL keeps that key
# space apart from the one-key form the store locks use.
ORDER_SPACE = 0x57B2
_LOCKS: dict[tuple[int, int], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def store_lock(rt: Runtime, store_id: int) -> Iterator[None]:
    """Held across processes on PostgreSQL (advisory lock), within the process on SQLite.

    On PostgreSQL the lock belongs to a transaction of its own, held open for the block and
    ended with it: the same whether the connection is direct or goes through a pooler in
    transaction mode (where a session-level lock could be taken on one server session and
    released on another). Neither waiting for the lock nor holding it is cut by the session
    limits (``database`` in config.yaml): a full stock push of another worker may hold it
    for longer than a statement may run, and this transaction sits idle while the block
    works on other connections. A holder that dies releases it with its connection.
    """
    with _advisory(rt, "(:k)", {"k": LOCK_BASE + store_id}, (0, store_id)):
        yield


@contextmanager
def order_lock(rt: Runtime, order_id: int) -> Iterator[None]:
    """One writer of the order's parcels on its storefront at a time (as :func:`store_lock`).

    A storefront may keep every parcel of an order in one record that each write replaces
    whole (a tracking list it reads, adds the parcel to and writes back): two
    parcels written back at once would each write the list without the other's."""
    with _advisory(rt, "(:a, :b)", {"a": ORDER_SPACE, "b": order_id}, (ORDER_SPACE, order_id)):
        yield


@contextmanager
def _advisory(rt: Runtime, args: str, keys: dict[str, int], local: tuple[int, int]) -> Iterator[None]:
    if rt.engine.dialect.name == "postgresql":
        with rt.engine.connect() as conn, conn.begin():
            conn.execute(UNLIMITED)
            conn.execute(text(f"SELECT pg_advisory_xact_lock{args}"), keys)
            yield
        return
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(local, threading.Lock())
    with lock:
        yield

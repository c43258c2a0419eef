"""Which store a webhook belongs to, cached briefly per process.

Every delivery needs the store (and, for WooCommerce, its secret); a few seconds of
cache spares a database transaction per webhook. This process forgets the cache
whenever it installs or uninstalls a store; another process may accept an event
for a just-uninstalled store for up to ``TTL_S``, and its handler, which checks the
store's state before acting, then does nothing on its behalf.

A look-up the database cannot answer raises one of :data:`STORE_LOOKUP_FAILED`
(the receivers answer 503). A pooled connection found dead (the database restarted
since it was last used) is replaced and the look-up tried once more, as the inbox
insert does.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.crypto import Vault
from db.models import Platform, Store, StoreState
from db.session import session_scope

TTL_S = 5.0
STORE_LOOKUP_FAILED = (SQLAlchemyError,)  # the database could not answer (unreachable, refused)


@dataclass(frozen=True)
class StoreRef:
    id: int
    account_id: int
    active: bool
    webhook_secret: str | None


_cache: dict[tuple[int, Platform, str], tuple[float, StoreRef | None]] = {}
_lock = threading.Lock()


def find_store(
    sessions: sessionmaker[Session],
    vault: Vault,
    platform: Platform,
    domain: str | None = None,
    store_id: int | None = None,
) -> StoreRef | None:
    """The store by shop domain or by id, or None when Waybill has no such store."""
    key = (id(sessions), platform, domain if domain is not None else f"#{store_id}")
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    try:
        ref = _load(sessions, vault, platform, domain, store_id)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        ref = _load(sessions, vault, platform, domain, store_id)  # on a fresh connection
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = (now + TTL_S, ref)
    return ref


def forget() -> None:
    """Drop the cache (this process changed a store: install, uninstall)."""
    with _lock:
        _cache.clear()


def _load(
    sessions: sessionmaker[Session],
    vault: Vault,
    platform: Platform,
    domain: str | None,
    store_id: int | None,
) -> StoreRef | None:
    query = select(Store).where(Store.platform == platform)
    query = query.where(Store.domain == domain) if domain is not None else query.where(Store.id == store_id)
    with session_scope(sessions) as s:
        store = s.scalar(query)
        if store is None:
            return None
        secret = vault.decrypt(store.webhook_secret) if store.webhook_secret else None
        return StoreRef(store.id, store.account_id, store.state is StoreState.active, secret)

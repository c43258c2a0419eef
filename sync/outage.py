"""Which backing service, if any, a failure says is down: the database or Redis.

An outage of Waybill's own services is not a platform's transient error (``Retryable``)
nor a bad request: nothing the job or the request did caused it, and it ends when the
service is back. So receivers and pages answer 503 (the platform or the browser tries
again) and jobs wait for the service without spending their retries (``sync.jobs``).

Only connection-level failures count as an outage: the server cannot be reached, it
closed the connection or is shutting down, it refuses connections (too many, starting
up), or the connection in hand was found dead (SQLAlchemy's ``connection_invalidated``).
A deadlock, a statement timeout or a constraint violation is the job's own failure and
is retried on its budget as before.
"""

from __future__ import annotations

import sqlite3

import psycopg
import redis.exceptions
from sqlalchemy import exc as sa_exc

from core.errors import ServiceDown

DATABASE = "database"
REDIS = "redis"

# SQLSTATEs of a server that is going away or refuses new sessions for now:
# admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
_PG_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03", "53300"})
# SQLite's words for a database file it cannot use at the moment.
_SQLITE_UNAVAILABLE = ("unable to open database file", "disk i/o error", "database is locked")
_CHAIN_DEPTH = 8


def down_service(exc: BaseException) -> str | None:
    """``"database"`` or ``"redis"`` when ``exc`` (or what it was raised from or while
    handling) is a connection-level failure of that service; None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        if current is None or id(current) in seen:
            return None
        seen.add(id(current))
        found = _service_of(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _service_of(exc: BaseException) -> str | None:
    if isinstance(exc, ServiceDown):
        return exc.service
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return REDIS
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return DATABASE
        return _service_of(exc.orig) if exc.orig is not None and exc.orig is not exc else None
    if isinstance(exc, psycopg.InterfaceError):  # "the connection is closed", a lost libpq connection
        return DATABASE
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        # No SQLSTATE: libpq failed to connect or lost the server (refused, reset, closed).
        if state is None or state.startswith("08") or state in _PG_UNAVAILABLE:
            return DATABASE
        return None
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        return DATABASE if any(words in message for words in _SQLITE_UNAVAILABLE) else None
    return None


def database_error(exc: BaseException) -> bool:
    """Whether a request failed because the database could not serve it now: an outage
    as :func:`down_service` sees it, or any operational error of the database (a pool
    with no free connection, a statement cancelled or timed out, a deadlock). Pages and
    receivers answer these 503: trying again later may well succeed."""
    if down_service(exc) == DATABASE:
        return True
    return isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | psycopg.OperationalError
        | psycopg.InterfaceError,
    )

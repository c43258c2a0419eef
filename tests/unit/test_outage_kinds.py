"""Which failures are a service being down (the job waits for it without spending a retry)
and which are not (the job's own error): the chain of causes, PostgreSQL's SQLSTATEs and
SQLite's messages."""

from __future__ import annotations

import sqlite3

import psycopg
import redis

from sync.outage import DATABASE, REDIS, database_error, down_service


def chained(inner: BaseException, links: int) -> BaseException:
    """``inner`` wrapped ``links`` times, each wrapper raised from the one inside it."""
    current = inner
    for n in range(links):
        try:
            raise RuntimeError(f"wrapper {n}") from current
        except RuntimeError as exc:
            current = exc
    return current


def test_an_outage_is_found_through_up_to_eight_links_of_causes_and_no_further() -> None:
    assert down_service(chained(redis.exceptions.ConnectionError("refused"), 7)) == REDIS
    assert down_service(chained(redis.exceptions.ConnectionError("refused"), 8)) is None


def test_a_cycle_of_causes_ends_the_search() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert down_service(first) is None


def test_a_postgresql_error_is_an_outage_only_for_connection_and_availability_states() -> None:
    assert down_service(psycopg.OperationalError("server closed the connection")) == DATABASE  # no SQLSTATE
    assert down_service(psycopg.errors.AdminShutdown("terminating connection")) == DATABASE  # 57P01
    assert down_service(psycopg.errors.TooManyConnections("too many clients")) == DATABASE  # 53300
    deadlock = psycopg.errors.DeadlockDetected("deadlock detected")  # 40P01: the statement's own trouble
    assert down_service(deadlock) is None
    assert database_error(deadlock)  # still worth a 503: trying again may succeed


def test_sqlite_is_down_only_when_it_cannot_use_the_file() -> None:
    assert down_service(sqlite3.OperationalError("database is locked")) == DATABASE
    assert down_service(sqlite3.OperationalError("unable to open database file")) == DATABASE
    assert down_service(sqlite3.OperationalError("no such table: orders")) is None  # a bug, not an outage
    assert down_service(ValueError("bad input")) is None
    assert not database_error(ValueError("bad input"))

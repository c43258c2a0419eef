"""Jobs wait for a backing service that is down without spending their retries, on both
backends; only an outage longer than ``queue.outage.give_up_s`` dead-letters them."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.errors
import pytest
import redis.exceptions
from redis import Redis
from rq import Retry
from rq.job import Job
from sqlalchemy import exc as sa_exc

from core.errors import Retryable, ServiceDown
from settings import OutagePolicy
from sync.embedded_queue import EmbeddedJobQueue
from sync.jobs import JobDef, JobMessage, Outcome, execute, outage_wait
from sync.outage import database_error, down_service
from sync.queue import wait_without_spending_a_retry
from tests.conftest import drain
from tests.foundation.quick_jobs import dead_letters, registered

CALLS: dict[str, int] = {}


def refused_connection() -> sa_exc.OperationalError:
    """What SQLAlchemy raises when PostgreSQL is not listening."""
    orig = psycopg.OperationalError("connection failed: connection to server at 127.0.0.1 port 5432 failed")
    return sa_exc.OperationalError("SELECT 1", {}, orig)


def deadlock() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("UPDATE", {}, psycopg.errors.DeadlockDetected("deadlock detected"))


FAILURES = {
    "database": refused_connection,
    "redis": lambda: redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
    "deadlock": deadlock,
}


def failing(rt: Any, key: str, kind: str, fail_times: int, pause_s: float = 0.0) -> str:
    CALLS[key] = CALLS.get(key, 0) + 1
    time.sleep(pause_s)
    if CALLS[key] <= fail_times:
        raise FAILURES[kind]()
    return "ok"


@pytest.fixture(autouse=True)
def test_jobs(config: dict[str, Any]) -> Iterator[None]:
    # Two retries after the first attempt; outage waits of a few milliseconds.
    with registered(config, JobDef("test_failing", failing, "orders"), retries=2, outage=True):
        CALLS.clear()
        yield


# --------------------------------------------------------------------------- classification


def test_connection_level_failures_are_outages_and_others_are_not() -> None:
    assert down_service(refused_connection()) == "database"
    assert down_service(refused_connection().orig) == "database"  # psycopg's own, as the inbox raises it
    assert down_service(psycopg.errors.AdminShutdown("terminating connection")) == "database"
    assert down_service(psycopg.InterfaceError("the connection is closed")) == "database"
    dead = sa_exc.DBAPIError("SELECT", {}, Exception("gone"), connection_invalidated=True)
    assert down_service(dead) == "database"
    assert down_service(redis.exceptions.ConnectionError("refused")) == "redis"
    assert down_service(redis.exceptions.TimeoutError("timed out")) == "redis"
    assert down_service(ServiceDown("redis", "down")) == "redis"
    try:  # raised while handling the outage (a job noting its failure in the database)
        try:
            raise refused_connection()
        except sa_exc.OperationalError as exc:
            raise RuntimeError("could not record the failure") from exc
    except RuntimeError as chained:
        assert down_service(chained) == "database"
    # The job's own failures spend its retries as before.
    assert down_service(deadlock()) is None
    assert down_service(psycopg.errors.QueryCanceled("statement timeout")) is None
    assert down_service(sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key"))) is None
    assert down_service(Retryable("429")) is None
    # Pages still answer a deadlock 503 (try again), a constraint violation 500 (a bug).
    assert database_error(deadlock()) and not database_error(sa_exc.IntegrityError("I", {}, Exception()))


def test_outage_waits_grow_by_half_the_outage_and_are_bounded() -> None:
    policy = OutagePolicy(base_s=1, max_s=15, jitter=0)
    waited, waits = 0.0, []
    for _ in range(12):
        waits.append(outage_wait(policy, waited))
        waited += waits[-1]
    assert waits[:6] == [1, 1, 1, 1.5, 2.25, 3.38]
    assert waits[-1] == 15 and max(waits) == 15
    jittered = {outage_wait(OutagePolicy(jitter=0.5), 100, random.Random(n)) for n in range(20)}
    assert min(jittered) >= 7.5 and max(jittered) <= 22.5 and len(jittered) > 1


# --------------------------------------------------------------------------- both backends


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_an_outage_longer_than_the_retry_budget_spends_none_of_it(rt: Any, kind: str) -> None:
    assert rt.enqueue("test_failing", job_id=f"outage-{kind}", key=kind, kind=kind, fail_times=6)
    drain(rt)
    assert CALLS[kind] == 7  # six failures for the outage, then it ran; the budget was 3 attempts
    assert dead_letters(rt) == []


def test_its_own_failure_after_an_outage_still_has_its_whole_budget(rt: Any) -> None:
    """The outage spent nothing: a deadlock afterwards still gets its retries."""
    assert rt.enqueue("test_failing", job_id="then-deadlock", key="d", kind="database", fail_times=4)
    drain(rt)
    assert rt.enqueue("test_failing", job_id="deadlock", key="x", kind="deadlock", fail_times=99)
    drain(rt)
    assert CALLS == {"d": 5, "x": 3}  # a deadlock spends the budget: 1 attempt + 2 retries
    [dead] = dead_letters(rt)
    assert (dead.job_id, dead.attempts) == ("deadlock", 3)


def test_an_outage_longer_than_give_up_s_is_dead_lettered(rt: Any) -> None:
    rt.settings.queue.outage.give_up_s = 0.05
    forever = {"kind": "database", "fail_times": 10_000, "pause_s": 0.01}
    rt.enqueue("test_failing", job_id="long-outage", key="l", **forever)
    drain(rt)
    [dead] = dead_letters(rt)
    assert dead.job_id == "long-outage" and dead.attempts == 1  # no attempt was spent meanwhile
    assert dead.error.startswith("database down for ")
    # At least one wait (the outage is measured from the first failure, so the call that
    # gives up is a later one); how many fit in 0.05 s depends on how the queue runs due jobs.
    assert 2 <= CALLS["l"] < 100


def test_the_embedded_queue_records_waits_as_not_attempts(rt: Any) -> None:
    if not isinstance(rt.queue, EmbeddedJobQueue):
        pytest.skip("embedded queue only")
    rt.queue.record = []
    rt.enqueue("test_failing", job_id="recorded", key="r", kind="database", fail_times=3)
    drain(rt)
    assert [(run.attempt, run.outcome) for run in rt.queue.record] == [
        (1, "wait"),
        (1, "wait"),
        (1, "wait"),
        (1, "done"),
    ]


def test_execute_keeps_the_outage_start_and_forgets_it_once_the_job_ran(rt: Any) -> None:
    msg = JobMessage("test_failing", {"key": "e", "kind": "database", "fail_times": 1}, "e", "orders", [1.0])
    first = execute(rt, msg)
    assert first.outcome is Outcome.wait and msg.attempt == 1 and msg.outage_since is not None
    assert 0 < first.wait_s <= 0.02 * 1.25
    assert execute(rt, msg).outcome is Outcome.done and msg.outage_since is None


# --------------------------------------------------------------------------- RQ's arithmetic


def rq_job(retries: int | None) -> Job:
    job = Job.create(print, connection=Redis(), id="j")
    if retries is not None:
        retry = Retry(max=retries, interval=[10 * (n + 1) for n in range(retries)])
        job.retries_left, job.retry_intervals = retry.max, retry.intervals
    return job


def rq_retries(job: Job) -> int:
    """What RQ's worker does when the job raised: take the interval, spend a retry."""
    assert job.should_retry
    interval = job.get_retry_interval()
    job.retries_left = (job.retries_left or 0) - 1
    return interval


@pytest.mark.parametrize("retries", [None, 1, 3])  # None: enqueued without retries
@pytest.mark.parametrize("spent", [0, 1, 3])
def test_rq_waits_the_outage_wait_and_keeps_every_retry(retries: int | None, spent: int) -> None:
    job = rq_job(retries)
    spent = min(spent, retries or 0)
    for _ in range(spent):  # the job's own failures so far
        rq_retries(job)
    left = job.retries_left
    for wait in (7.4, 12, 1):  # three outage waits in a row
        wait_without_spending_a_retry(job, wait)
        assert rq_retries(job) == max(1, round(wait))
        assert (job.retries_left or 0) == (left or 0)
    # What is left of the budget is as it was, with the same intervals.
    assert [rq_retries(job) for _ in range(left or 0)] == [10 * (n + 1) for n in range(spent, retries or 0)]
    assert not job.should_retry

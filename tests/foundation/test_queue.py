"""Jobs on both backends: unique ids, bounded retries, dead letters, operator retry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import Result

from core.errors import Permanent, Retryable
from settings import RetryPolicy
from sync.jobs import JobDef, retry_intervals, safe_job_id
from tests.conftest import drain
from tests.foundation.quick_jobs import dead_letters, registered

CALLS: dict[str, int] = {}


def flaky(rt: Any, key: str, fail_times: int) -> str:
    CALLS[key] = CALLS.get(key, 0) + 1
    if CALLS[key] <= fail_times:
        raise Retryable(f"transient #{CALLS[key]}")
    return "ok"


def refused(rt: Any, key: str) -> None:
    CALLS[key] = CALLS.get(key, 0) + 1
    raise Permanent("card declined")


@pytest.fixture(autouse=True)
def test_jobs(config: dict[str, Any]) -> Iterator[None]:
    # Short, bounded retries so tests stay fast: 3 retries after the first attempt.
    jobs = JobDef("test_flaky", flaky, "orders"), JobDef("test_refused", refused, "orders")
    with registered(config, *jobs, retries=3):
        CALLS.clear()
        yield


def test_retry_intervals_grow_and_are_bounded() -> None:
    policy = RetryPolicy(max=6, base_s=2, factor=3, max_s=100, jitter=0)
    assert retry_intervals(policy) == [2, 6, 18, 54, 100, 100]
    jittered = retry_intervals(RetryPolicy(max=50, base_s=10, factor=1, max_s=100, jitter=0.5))
    assert min(jittered) >= 5 and max(jittered) <= 15 and len(set(jittered)) > 1


def test_job_ids_are_rq_safe() -> None:
    assert safe_job_id("order", "gid://shopify/Order/1", "label") == "order-gid___shopify_Order_1-label"


def test_a_transient_failure_is_retried_until_it_succeeds(rt: Any) -> None:
    assert rt.enqueue("test_flaky", job_id="flaky-1", key="a", fail_times=2)
    drain(rt)
    assert CALLS["a"] == 3
    assert dead_letters(rt) == []


def test_retries_are_bounded_then_the_job_is_dead_lettered(rt: Any) -> None:
    rt.enqueue("test_flaky", job_id="flaky-2", key="b", fail_times=99)
    drain(rt)
    assert CALLS["b"] == 4  # first attempt + 3 retries
    [dead] = dead_letters(rt)
    assert (dead.job_id, dead.name, dead.attempts, dead.state) == ("flaky-2", "test_flaky", 4, "dead")
    assert "transient #4" in dead.error


def test_a_permanent_failure_is_not_retried(rt: Any) -> None:
    rt.enqueue("test_refused", job_id="refused-1", key="c")
    drain(rt)
    assert CALLS["c"] == 1
    [dead] = dead_letters(rt)
    assert "Permanent: card declined" in dead.error


def test_the_same_job_id_is_queued_once(rt: Any) -> None:
    assert rt.enqueue("test_flaky", job_id="same", key="d", fail_times=0) is True
    assert rt.enqueue("test_flaky", job_id="same", key="d", fail_times=0) is False
    drain(rt)
    assert CALLS["d"] == 1
    # Once finished, the id can run again (a later, separate need).
    assert rt.enqueue("test_flaky", job_id="same", key="d", fail_times=0) is True
    drain(rt)
    assert CALLS["d"] == 2


def test_unknown_jobs_are_refused_at_enqueue(rt: Any) -> None:
    with pytest.raises(LookupError):
        rt.enqueue("no_such_job", job_id="x")


def test_operator_lists_and_retries_failed_jobs(app: Any, rt: Any) -> None:
    rt.enqueue("test_flaky", job_id="flaky-3", key="e", fail_times=4)
    drain(rt)
    runner = app.test_cli_runner()
    listed: Result = runner.invoke(args=["jobs", "failed", "--json"])
    assert listed.exit_code == 0, listed.output
    [item] = __import__("json").loads(listed.output)
    assert item["job_id"] == "flaky-3" and item["attempts"] == 4
    retried = runner.invoke(args=["jobs", "retry", str(item["id"])])
    assert retried.exit_code == 0, retried.output
    # Embedded mode hands the retry to the running app's scheduler; run that job here.
    from sync.maintenance import requeue_dead_letters

    requeue_dead_letters(rt)
    drain(rt)
    assert CALLS["e"] == 5  # succeeded on the fresh attempt
    assert [d.state for d in dead_letters(rt)] == ["retried"]
    assert runner.invoke(args=["jobs", "retry", str(item["id"])]).exit_code != 0  # not dead any more


def test_ping_goes_through_a_worker(app: Any, rt: Any) -> None:
    import threading

    from sync.embedded_queue import EmbeddedJobQueue
    from tests.procs import wait_for

    out: list[Any] = []
    asker = threading.Thread(
        target=lambda: out.append(app.test_cli_runner().invoke(args=["jobs", "ping", "--timeout", "10"]))
    )
    asker.start()
    if isinstance(rt.queue, EmbeddedJobQueue):
        rt.queue.start(threads=1)
    else:
        # Once the command has queued the ping, a worker runs it; RQ's job timeouts use
        # signals, so the worker runs here in the main thread.
        wait_for(lambda: rt.queue.depth()["reconcile"] > 0, 10, "the ping to be queued", ignoring=())
        drain(rt)
    asker.join()
    assert out[0].exit_code == 0, out[0].output
    assert out[0].output.startswith("pong from worker:")

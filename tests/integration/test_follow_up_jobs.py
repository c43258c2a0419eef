"""A job enqueued with ``rerun=True`` while one of its id runs gets a follow-up run.

A stock push reads its store's marks and writes them; a mark made after its last read,
whose ``schedule_push`` found the push still running, was dropped as "already queued"
and waited for the next sweep (10 s in production; the drills' world once checked the
channels before it and saw a level one sale too high). On either backend (the ``rt``
fixture: the embedded queue, or RQ on Redis worked by a real RQ worker), the request
made from inside the running job must queue exactly one follow-up.
"""

from __future__ import annotations

from typing import Any

import pytest

from sync.jobs import job
from sync.queue import follow_up_id
from tests.conftest import drain

RUNS: list[dict[str, Any]] = []


@job("rerun_probe", queue="inventory")
def rerun_probe(rt: Any, n: int, follow: bool) -> None:
    """Asks for itself again while it runs, twice (the second request must coalesce)."""
    again = []
    if n < 3:
        for _ in range(2):
            again.append(rt.enqueue("rerun_probe", job_id="probe-7", rerun=follow, n=n + 1, follow=follow))
    RUNS.append({"n": n, "queued": again})


@pytest.fixture(autouse=True)
def _clear() -> None:
    RUNS.clear()


def test_a_request_that_finds_the_job_running_queues_one_follow_up(rt: Any) -> None:
    assert rt.enqueue("rerun_probe", job_id="probe-7", rerun=True, n=1, follow=True)
    drain(rt)
    # run 1 (probe-7) queues its follow-up (probe-7__rerun); that one finds probe-7 gone and
    # queues it again; each second request in the same run finds the first queued.
    assert [r["n"] for r in RUNS] == [1, 2, 3]
    assert [r["queued"] for r in RUNS] == [[True, False], [True, False], []]
    assert not rt.queue.is_live("probe-7") and not rt.queue.is_live(follow_up_id("probe-7"))


def test_without_rerun_a_request_that_finds_the_job_running_is_dropped(rt: Any) -> None:
    assert rt.enqueue("rerun_probe", job_id="probe-7", rerun=False, n=1, follow=False)
    drain(rt)
    assert RUNS == [{"n": 1, "queued": [False, False]}]


def test_a_queued_job_absorbs_the_request_whatever_rerun_says(rt: Any) -> None:
    assert rt.enqueue("rerun_probe", job_id="probe-7", rerun=True, n=3, follow=True)
    assert not rt.enqueue("rerun_probe", job_id="probe-7", rerun=True, n=3, follow=True)
    assert not rt.queue.is_live(follow_up_id("probe-7"))
    drain(rt)
    assert [r["n"] for r in RUNS] == [3]


def test_follow_up_ids_alternate() -> None:
    assert follow_up_id("push-stock-5") == "push-stock-5__rerun"
    assert follow_up_id(follow_up_id("push-stock-5")) == "push-stock-5"


def test_a_scheduled_job_absorbs_the_request(rt: Any) -> None:
    """A push scheduled for later (its delay) answers every request made before it runs."""
    assert rt.enqueue("rerun_probe", job_id="probe-8", delay_s=30, rerun=True, n=3, follow=True)
    assert not rt.enqueue("rerun_probe", job_id="probe-8", delay_s=30, rerun=True, n=3, follow=True)
    assert not rt.enqueue("rerun_probe", job_id="probe-8", rerun=False, n=3, follow=True)
    assert rt.queue.is_live("probe-8")
    assert not rt.queue.is_live(follow_up_id("probe-8"))

"""``sync.jobs.run_now`` on both backends: inside a job the follow-up runs in that job; if
it fails it becomes a job of its own (with its retries) and the job at hand still succeeds;
outside a job it is only queued."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import Permanent, Retryable
from db.models import DeadLetter
from sync.jobs import JobDef, run_now
from tests.conftest import drain
from tests.foundation.quick_jobs import registered

# (key, whether the outer job was running at the time) per call of the follow-up
SEEN: list[tuple[str, bool]] = []
FAILS: dict[str, int] = {}
OUTER: list[str] = []  # the outer jobs running now


def outer(rt: Any, key: str) -> str:
    OUTER.append(key)
    try:
        run_now(rt, "test_follow", f"follow-{key}", key=key)
    finally:
        OUTER.remove(key)
    return "outer done"


def follow(rt: Any, key: str) -> str:
    SEEN.append((key, key in OUTER))
    left = FAILS.get(key, 0)
    if left:
        FAILS[key] = left - 1
        if key.startswith("refused"):
            raise Permanent("refused for good")
        raise Retryable("the storefront is busy")
    return "followed"


@pytest.fixture(autouse=True)
def jobs(config: dict[str, Any]) -> Iterator[None]:
    follow_up = JobDef("test_outer", outer, "orders"), JobDef("test_follow", follow, "shipping")
    with registered(config, *follow_up, retries=3):
        SEEN.clear()
        FAILS.clear()
        yield


def dead(rt: Any) -> list[tuple[str, str]]:
    with rt.session() as s:
        return [(d.name, d.job_id) for d in s.scalars(select(DeadLetter).order_by(DeadLetter.id))]


def test_inside_a_job_the_follow_up_runs_in_that_job(rt: Any) -> None:
    assert rt.enqueue("test_outer", job_id="outer-a", key="a")
    drain(rt)
    assert SEEN == [("a", True)]  # once, while the outer job ran: no job of its own
    assert dead(rt) == []


def test_a_follow_up_that_fails_becomes_its_own_job_and_the_job_at_hand_succeeds(rt: Any) -> None:
    FAILS["b"] = 2  # inline, then its own job's first attempt; its retry succeeds
    assert rt.enqueue("test_outer", job_id="outer-b", key="b")
    drain(rt)
    assert SEEN == [("b", True), ("b", False), ("b", False)]
    assert dead(rt) == []  # the outer job was not failed for it


def test_a_permanent_refusal_of_the_follow_up_is_dead_lettered_as_its_own_job(rt: Any) -> None:
    FAILS["refused-c"] = 2
    assert rt.enqueue("test_outer", job_id="outer-c", key="refused-c")
    drain(rt)
    assert SEEN == [("refused-c", True), ("refused-c", False)]
    assert dead(rt) == [("test_follow", "follow-refused-c")]


def test_outside_a_job_the_follow_up_is_only_queued(rt: Any) -> None:
    run_now(rt, "test_follow", "follow-d", key="d")
    assert SEEN == []  # the caller is not kept waiting for it
    drain(rt)
    assert SEEN == [("d", False)]

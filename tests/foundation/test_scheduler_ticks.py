"""The scheduler's ticks on both backends: a periodic job that cannot be enqueued now is
tried again a second later (not a whole interval later) while the others fire on time;
after Redis was away, the inbox sweep runs at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from settings import Schedule
from sync.jobs import JOBS, JobDef
from sync.schedule import Scheduler

MINUTE = Schedule(every_s=60)


def later(rt: Any) -> str:
    return "ran"


@pytest.fixture
def late_job() -> Iterator[str]:
    yield "test_late"
    JOBS.pop("test_late", None)


def test_a_job_that_cannot_be_enqueued_is_tried_again_a_second_later(rt: Any, late_job: str) -> None:
    scheduler = Scheduler(rt)
    scheduler.schedules = {late_job: MINUTE, "sweep_inbox": MINUTE}
    assert scheduler.tick(now=1000.0) == ["sweep_inbox"]  # test_late is not a job yet: refused
    JOBS[late_job] = JobDef(late_job, later, "reconcile")  # e.g. the queue is back
    assert scheduler.tick(now=1000.5) == []
    assert scheduler.tick(now=1001.0) == [late_job]  # a second later, not 60 s
    assert scheduler.tick(now=1059.9) == []
    assert scheduler.tick(now=1060.0) == ["sweep_inbox"]
    assert scheduler.tick(now=1061.0) == [late_job]


def test_after_redis_was_away_the_inbox_sweep_runs_at_the_next_tick(rt: Any) -> None:
    scheduler = Scheduler(rt)
    scheduler.schedules = {"sweep_inbox": MINUTE, "sweep_stock": MINUTE}
    assert sorted(scheduler.tick(now=1000.0)) == ["sweep_inbox", "sweep_stock"]
    assert scheduler.tick(now=1010.0) == []
    scheduler.regained()
    assert scheduler.tick(now=1010.0) == ["sweep_inbox"]  # only the sweep, at once

    without = Scheduler(rt)
    without.schedules = {"sweep_stock": MINUTE}
    assert without.tick(now=1000.0) == ["sweep_stock"]
    without.regained()  # nothing to sweep
    assert without.tick(now=1010.0) == []


def test_one_scheduler_holds_the_lease_and_only_its_holder_releases_it(redis_url: str) -> None:
    from sync.schedule import _RedisLock

    first, second = _RedisLock(redis_url, ttl_s=30), _RedisLock(redis_url, ttl_s=30)
    assert first.hold() and not second.hold()
    assert first.hold()  # renewed by its holder
    second.release()  # not the holder's: nothing happens
    assert not second.hold()
    first.release()
    assert second.hold() and not first.hold()
    second.release()
    gone = _RedisLock("redis://127.0.0.1:1/0", ttl_s=30)  # nothing listens: not held, no error
    assert not gone.hold()
    gone.release()


def test_after_redis_was_away_the_owed_reconciliation_runs_at_the_next_tick(
    rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler owes every store a reconciliation again (their settles wait for one):
    it must not wait out reconcile_all's interval."""
    import sync.reconcile

    owed: list[int] = []
    monkeypatch.setattr(sync.reconcile, "owe_reconciliation", lambda _rt: owed.append(1) or 0)
    scheduler = Scheduler(rt)
    scheduler.schedules = {"sweep_inbox": MINUTE, "reconcile_all": Schedule(every_s=300)}
    assert sorted(scheduler.tick(now=1000.0)) == ["reconcile_all", "sweep_inbox"]
    assert scheduler.tick(now=1010.0) == [] and owed == [1]
    scheduler.regained()
    assert sorted(scheduler.tick(now=1011.0)) == ["reconcile_all", "sweep_inbox"]
    assert owed == [1, 1]  # owed again, and reconciled at once


def test_due_jobs_moves_only_what_is_due_and_one_scheduler_holds_each_queue(rt: Any, redis_url: str) -> None:
    """The scheduler's stand-in for RQ's: the queue locks in one round trip, and a tick
    moves the jobs whose time has come (on any partition) and leaves the others waiting."""
    from datetime import timedelta

    from sync.redis_queue import RedisJobQueue
    from sync.schedule import _DueJobs

    if not isinstance(rt.queue, RedisJobQueue):
        pytest.skip("RQ's scheduled registries: the services backend")
    queue = rt.queue.queues["reconcile.5"]
    due = queue.enqueue_in(timedelta(seconds=1), "time.time", job_id="due-one")
    later_job = queue.enqueue_in(timedelta(seconds=600), "time.time", job_id="not-yet")
    queue.scheduled_job_registry.schedule(
        due, queue.scheduled_job_registry.get_scheduled_time(due) - timedelta(seconds=5)
    )
    mover, other = _DueJobs(rt), _DueJobs(rt)
    assert mover.acquire_locks() == set(rt.queue.queues)
    assert other.acquire_locks() == set()  # every lock is the first one's
    assert mover.due_queues() == ["reconcile.5"]
    mover.move()
    assert queue.job_ids == ["due-one"]
    assert queue.scheduled_job_registry.get_job_ids() == [later_job.id]
    assert mover.due_queues() == []
    mover.release()
    assert other.acquire_locks() == set(rt.queue.queues)  # released: the other takes them
    other.release()

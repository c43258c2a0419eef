"""Losing the queue loses no event: the sweeper re-enqueues from the database."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import sync.tasks  # noqa: F401  # the real handlers register first: a test swaps one
from connectors.storefront import EventKind
from db.models import DeadLetter, InboxEvent, InboxState, Platform, utcnow
from sync import intake
from sync.intake import HANDLERS, enqueue_event, inbox_job_id, sweep_inbox
from tests.conftest import drain

# A real topic, and its kind, whose handler a test swaps for a recording one.
TOPIC, KIND = "app/uninstalled", EventKind.app_uninstalled


def add_event(rt: Any, topic: str, key: str, age_s: float = 120) -> int:
    with rt.session() as s:
        event = InboxEvent(
            platform=Platform.shopify,
            topic=topic,
            dedupe_key=key,
            body=b"{}",
            received_at=utcnow() - timedelta(seconds=age_s),
        )
        s.add(event)
        s.flush()
        return event.id


def states(rt: Any) -> dict[str, str]:
    with rt.session() as s:
        return {e.dedupe_key: str(e.state) for e in s.scalars(select(InboxEvent))}


def test_events_without_a_live_job_are_requeued_and_processed(
    rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    monkeypatch.setitem(HANDLERS, KIND, lambda rt_, event_id: seen.append(event_id))
    lost = add_event(rt, TOPIC, "lost-1")  # committed, but its job never reached the queue
    fresh = add_event(rt, TOPIC, "fresh-1", age_s=0)  # may still be on its way
    assert sweep_inbox(rt) == 1
    assert sweep_inbox(rt) == 0  # already live: not doubled
    drain(rt)
    assert seen == [lost]
    assert states(rt) == {"lost-1": "done", "fresh-1": "pending"}
    assert fresh not in seen


def test_unhandled_topics_are_recorded_as_ignored(rt: Any) -> None:
    event_id = add_event(rt, "carts/update", "cart-1")
    enqueue_event(rt, event_id)
    drain(rt)
    assert states(rt) == {"cart-1": "ignored"}


def test_a_done_event_is_not_processed_twice(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setitem(HANDLERS, KIND, lambda rt_, event_id: calls.append(event_id))
    event_id = add_event(rt, TOPIC, "once-1")
    intake.process_inbox_event(rt, event_id)
    assert intake.process_inbox_event(rt, event_id) == "skipped"
    assert calls == [event_id]


def test_dead_lettered_events_wait_for_an_operator(rt: Any) -> None:
    event_id = add_event(rt, "test/broken", "broken-1")
    with rt.session() as s:
        s.add(
            DeadLetter(
                job_id=inbox_job_id(event_id),
                name="process_inbox_event",
                queue="intake",
                kwargs={"event_id": event_id},
                error="boom",
            )
        )
    assert sweep_inbox(rt) == 0
    with rt.session() as s:
        assert s.get(InboxEvent, event_id).state is InboxState.pending


def test_one_sweep_requeues_the_whole_backlog_batch_after_batch(
    rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    monkeypatch.setitem(HANDLERS, KIND, lambda rt_, event_id: seen.append(event_id))
    monkeypatch.setattr(intake, "SWEEP_BATCH", 3)
    lost = [add_event(rt, TOPIC, f"backlog-{n}") for n in range(8)]
    assert sweep_inbox(rt) == 8  # three rounds of three in one sweep, not three per sweep
    assert sweep_inbox(rt) == 0
    drain(rt)
    assert sorted(seen) == lost


def test_a_scheduler_that_regains_redis_sweeps_the_inbox_at_once(rt: Any) -> None:
    from settings import Schedule
    from sync.schedule import Scheduler

    scheduler = Scheduler(rt)
    scheduler.schedules = {"sweep_inbox": Schedule(every_s=60)}
    assert scheduler.tick(now=1000.0) == ["sweep_inbox"]
    drain(rt)
    assert scheduler.tick(now=1001.0) == []  # not due for a minute
    scheduler.regained()  # Redis was away: what came in meanwhile was not handed off
    assert scheduler.tick(now=1002.0) == ["sweep_inbox"]


def test_a_scheduler_whose_lease_redis_lost_sweeps_the_inbox_at_once(rt: Any, redis_url: str) -> None:
    """Redis flushed (or restarted empty between two rounds) while the scheduler held its
    lease: no round failed, but the hand-offs and queued jobs are gone all the same."""
    from redis import Redis

    from settings import Schedule
    from sync.schedule import Scheduler, _RedisLock

    scheduler = Scheduler(rt)
    scheduler.schedules = {"sweep_inbox": Schedule(every_s=3600)}
    lock = _RedisLock(redis_url)
    assert scheduler.step(lock, None, was_held=True) and lock.taken_afresh
    drain(rt)
    swept_at = scheduler._next["sweep_inbox"]
    assert scheduler.step(lock, None, was_held=True) and not lock.taken_afresh  # renewed
    assert scheduler._next["sweep_inbox"] == swept_at  # not due for an hour
    Redis.from_url(redis_url).flushdb()
    assert scheduler.step(lock, None, was_held=True) and lock.taken_afresh
    assert scheduler._next["sweep_inbox"] > swept_at  # swept again at once


def test_a_scheduler_whose_lease_outlived_a_redis_outage_holds_it_again(
    rt: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis restarted on its AOF keeps the lease with this scheduler's token: the scheduler
    takes it up again (and sweeps at once) instead of renewing it as a standby for ever."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from settings import Schedule
    from sync.schedule import Scheduler, _RedisLock

    scheduler = Scheduler(rt)
    scheduler.schedules = {"sweep_inbox": Schedule(every_s=3600)}
    lock = _RedisLock(redis_url)
    assert scheduler.step(lock, None, was_held=True)
    drain(rt)
    swept_at = scheduler._next["sweep_inbox"]
    real_hold = lock._hold  # the lease's one round trip (take, or renew if ours)

    def away(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(lock, "_hold", away)
    assert scheduler.step(lock, None, was_held=True) is False  # Redis away: not held
    monkeypatch.setattr(lock, "_hold", real_hold)  # back, the lease still there
    assert scheduler.step(lock, None, was_held=False) is True
    assert scheduler._next["sweep_inbox"] > swept_at  # regained: swept at once
    assert scheduler.step(lock, None, was_held=True) is True


def test_a_scheduler_that_regains_redis_requeues_the_stranded_events_itself(
    rt: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an outage the workers are reconnecting, then busy with what Redis kept: the
    scheduler re-enqueues what came in meanwhile itself, at once, instead of queueing the
    sweep behind them (which left the events without a job for 5 to 10 s in the drills)."""
    from settings import Schedule
    from sync.schedule import Scheduler, _RedisLock

    seen: list[int] = []
    monkeypatch.setitem(HANDLERS, KIND, lambda rt_, event_id: seen.append(event_id))
    stranded = add_event(rt, TOPIC, "stranded-1")  # committed during the outage, never handed off
    scheduler = Scheduler(rt)
    scheduler.schedules = {"sweep_inbox": Schedule(every_s=3600)}
    lock = _RedisLock(redis_url)
    assert scheduler.step(lock, None, was_held=False)  # Redis back: the lease held again
    try:
        deadline = time.monotonic() + 20
        while not rt.queue.is_live(inbox_job_id(stranded)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rt.queue.is_live(inbox_job_id(stranded))  # queued by the scheduler: no worker ran
        assert not rt.queue.is_live("periodic-sweep_inbox")  # it took the queued sweep's place
        assert scheduler.sweep_here() is None  # one at a time (its second pass is still to come)
    finally:
        scheduler.stop()  # ends the second pass's wait
    drain(rt)
    assert seen == [stranded]


def test_the_scheduler_sweeps_again_once_what_came_in_just_before_the_flush_is_old_enough(
    rt: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event taken in just before Redis was emptied lost its hand-off too, but it is not
    old enough for the sweep at the lease's return: a second pass, ``sweep_after_s`` later,
    takes it without waiting for the queued sweep (behind the backlog)."""
    from settings import Schedule
    from sync.schedule import Scheduler, _RedisLock

    monkeypatch.setitem(HANDLERS, KIND, lambda rt_, event_id: None)
    monkeypatch.setattr(rt.settings.inbox, "sweep_after_s", 1.0)
    recent = add_event(rt, TOPIC, "recent-1", age_s=0)  # its hand-off went with the flush
    scheduler = Scheduler(rt)
    scheduler.schedules = {"sweep_inbox": Schedule(every_s=3600)}
    try:
        assert scheduler.step(_RedisLock(redis_url), None, was_held=False)
        time.sleep(0.5)
        assert not rt.queue.is_live(inbox_job_id(recent))  # too recent for the first pass
        deadline = time.monotonic() + 20
        while not rt.queue.is_live(inbox_job_id(recent)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rt.queue.is_live(inbox_job_id(recent))
    finally:
        scheduler.stop()

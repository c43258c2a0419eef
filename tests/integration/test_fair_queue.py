"""Fair scheduling across merchants, on real Redis, real RQ and PostgreSQL.

Each queue is split into ``queue.partitions`` RQ queues keyed by merchant account, and a
worker takes them round robin (``sync/queue.py``, ``worker.py``). A merchant whose
backlog was queued first must not hold up another merchant's jobs queued after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from db.models import TimelineEntry
from sync.handoff import HANDOFF_KEY
from sync.queue import partition_key, partitioned_by
from sync.redis_queue import RedisJobQueue
from sync.rq_worker import LeanWorker
from sync.runtime import install
from tests.conftest import SECRET
from worker import build_worker, dequeue_strategy

BIG, SMALL = 1, 2  # account ids: the flash sale's merchant and one of the others
BACKLOG, FEW = 40, 4


def waybill(partitions: int, database_url: str, redis_url: str, tmp: Any) -> Any:
    from app import create_app

    config = {
        "var_dir": str(tmp / "var"),
        "database_url": database_url,
        "redis_url": redis_url,
        "mode": "production",
        "secret_key": SECRET,
        "testing": True,
        "schedules": {},
        "queue": {"partitions": partitions},
    }
    return create_app(config).extensions["waybill"]


@pytest.fixture
def runtime(
    request: pytest.FixtureRequest, migrated_postgres_url: str, redis_url: str, tmp_path: Any
) -> Iterator[Any]:
    rt = waybill(request.param, migrated_postgres_url, redis_url, tmp_path)
    install(rt)
    try:
        yield rt
    finally:
        rt.close()


def ping(rt: Any, account: int, n: int) -> None:
    token = f"{account}-{n}"
    assert rt.queue.enqueue("ping", {"token": token}, job_id=f"ping-{token}", key=account)


def run_all(rt: Any) -> list[str]:
    """Work every queued job with one worker, as ``waybill worker`` does; the pings' tokens
    in the order they ran."""
    queue: RedisJobQueue = rt.queue
    worker = build_worker(queue, rt.settings.queue.names, LeanWorker)
    try:
        worker.work(
            burst=True, with_scheduler=False, logging_level="ERROR", dequeue_strategy=dequeue_strategy(queue)
        )
    finally:
        worker.connection.close()
    with rt.session() as s:
        subjects = s.scalars(
            select(TimelineEntry.subject).where(TimelineEntry.action == "ping").order_by(TimelineEntry.id)
        )
        return [subject.split(":", 1)[1] for subject in subjects]


def accounts(tokens: list[str]) -> list[int]:
    return [int(token.split("-")[0]) for token in tokens]


@pytest.mark.parametrize("runtime", [8], indirect=True)
def test_a_merchant_queued_behind_another_s_backlog_is_served_between_its_jobs(runtime: Any) -> None:
    for n in range(BACKLOG):
        ping(runtime, BIG, n)
    for n in range(FEW):
        ping(runtime, SMALL, n)
    assert runtime.queue.depth()["reconcile"] == BACKLOG + FEW  # partitions summed
    ran = accounts(run_all(runtime))
    assert len(ran) == BACKLOG + FEW
    small_at = [i for i, account in enumerate(ran) if account == SMALL]
    # Round robin over the two non-empty partitions: one job of each in turn.
    assert small_at == [1, 3, 5, 7]


@pytest.mark.parametrize("runtime", [1], indirect=True)
def test_with_one_partition_the_queue_is_first_in_first_out(runtime: Any) -> None:
    """The control: without partitions the small merchant waits out the whole backlog."""
    for n in range(BACKLOG):
        ping(runtime, BIG, n)
    for n in range(FEW):
        ping(runtime, SMALL, n)
    assert set(runtime.queue.queues) == set(runtime.settings.queue.names)  # the plain RQ queues
    ran = accounts(run_all(runtime))
    assert [i for i, account in enumerate(ran) if account == SMALL] == list(range(BACKLOG, BACKLOG + FEW))


@pytest.mark.parametrize("runtime", [8], indirect=True)
def test_jobs_land_on_their_merchant_s_partition_and_follow_ups_inherit_it(runtime: Any) -> None:
    queue: RedisJobQueue = runtime.queue
    queue.enqueue("ping", {"token": "a"}, job_id="ping-a", key=11)  # 11 % 8
    with partitioned_by(13):  # a job of account 13 running: what it enqueues is 13's
        assert partition_key() == 13
        queue.enqueue("ping", {"token": "b"}, job_id="ping-b")
    assert partition_key() is None
    assert queue.queues["reconcile.3"].job_ids == ["ping-a"]
    assert queue.queues["reconcile.5"].job_ids == ["ping-b"]
    # Exactly-once ids hold across partitions: the same id under another key is not queued again.
    assert not queue.enqueue("ping", {"token": "a"}, job_id="ping-a", key=12)
    assert queue.depth()["reconcile"] == 2


@pytest.mark.parametrize("runtime", [8], indirect=True)
def test_the_pump_keys_hand_offs_by_account_and_takes_an_older_release_s_unkeyed_ones(runtime: Any) -> None:
    queue: RedisJobQueue = runtime.queue
    queue.hand_off_many([("ping", {"token": "k"}, "ping-k", 6), ("ping", {"token": "n"}, "ping-n", None)])
    queue.connection.lpush(HANDOFF_KEY, json.dumps(["ping", {"token": "o"}, "ping-o"]))  # three fields
    assert queue.pump(block_s=0) == 3
    where = {job_id: name for name, q in queue.queues.items() for job_id in q.job_ids}
    assert where["ping-k"] == "reconcile.6"
    assert set(where) == {"ping-k", "ping-n", "ping-o"}
    assert sorted(run_all(runtime)) == ["k", "n", "o"]


@pytest.mark.parametrize("runtime", [8], indirect=True)
def test_the_pump_moves_a_batch_at_once_drops_what_it_cannot_read_and_keeps_ids_unique(runtime: Any) -> None:
    queue: RedisJobQueue = runtime.queue
    queue.hand_off_many([("ping", {"token": f"t{n}"}, f"ping-t{n}", 3) for n in range(5)])
    queue.connection.lpush(HANDOFF_KEY, b"not json", json.dumps(["no_such_job", {}, "nope-1", 3]))
    queue.hand_off("ping", {"token": "t0"}, "ping-t0", 3)  # the same id again, still queued
    assert queue.pump(block_s=0) == 8
    assert queue.connection.llen(HANDOFF_KEY) == 0
    assert queue.queues["reconcile.3"].job_ids == [f"ping-t{n}" for n in range(5)]  # in order, once
    assert sorted(run_all(runtime)) == [f"t{n}" for n in range(5)]
    queue.hand_off("ping", {"token": "t0"}, "ping-t0", 3)  # ran and gone: queued again
    assert queue.pump(block_s=0) == 1
    assert run_all(runtime)[-1] == "t0"

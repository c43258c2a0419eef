"""``LeanWorker`` (``sync/rq_worker.py``) against RQ's own ``SimpleWorker``, on real Redis:
a job is marked started exactly as RQ marks it before it runs, leaves nothing behind when
it succeeds, and failures, retries and kept results go through RQ's own handling."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, get_current_job
from rq.registry import StartedJobRegistry
from rq.worker import DequeueStrategy

from sync.rq_worker import LeanWorker

SEEN = "test:lean:seen"


def look() -> str:
    """Record what Redis holds about this job while it runs (ids made generic)."""
    job = get_current_job()
    assert job is not None
    conn = job.connection
    stored = Job.fetch(job.id, connection=conn)
    names = sorted(
        _generic(k.decode(), job.id, stored.worker_name or "")
        for k in conn.keys("rq:*")
        if job.id.encode() in k or (stored.worker_name or "").encode() in k
    )
    started = StartedJobRegistry(job.origin, connection=conn).get_job_and_execution_ids(cleanup=False)
    execution = conn.hgetall(f"rq:execution:{started[0][0]}:{started[0][1]}") if started else {}
    seen = {
        "status": stored.get_status(refresh=True),
        "worker": stored.worker_name,
        "started": [job_id for job_id, _ in started],
        "keys": names,
        "job_fields": sorted(k.decode() for k in conn.hgetall(job.key)),
        "execution_fields": sorted(k.decode() for k in execution),
        "ttl_left": [conn.ttl(f"rq:execution:{j}:{e}") > 0 for j, e in started],
    }
    conn.rpush(SEEN, json.dumps(seen))
    return "ok"


def fail() -> None:
    raise RuntimeError("no")


def mark(token: str) -> str:
    job = get_current_job()
    assert job is not None
    job.connection.rpush(SEEN, token)
    return token


def _generic(key: str, job_id: str, worker: str) -> str:
    key = key.replace(job_id, "JOB").replace(worker, "WORKER")
    return re.sub(r"[0-9a-f]{32}", "EXEC", key)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    conn = Redis.from_url(redis_url)
    try:
        yield conn
    finally:
        conn.close()


def _run(worker_class: type, redis: Redis, queues: list[Queue], **work: Any) -> Any:
    worker = worker_class(queues, connection=redis)
    worker.work(burst=True, with_scheduler=False, logging_level="ERROR", **work)
    return worker


def _seen_running(worker_class: type, redis: Redis) -> dict[str, Any]:
    queue = Queue("lean", connection=redis)
    queue.enqueue(look, job_id="look-1", result_ttl=0, job_timeout=90)
    worker = _run(worker_class, redis, [queue])
    [seen] = [json.loads(raw) for raw in redis.lrange(SEEN, 0, -1)]
    left = sorted(k.decode() for k in redis.keys("rq:*look-1*"))
    redis.delete(SEEN)
    assert redis.hget(worker.key, "successful_job_count") == b"1"
    assert seen.pop("worker") == worker.name  # marked as this worker's (what the reaper reads)
    return {"seen": seen, "left": left, "wip": redis.zcard(queue.started_job_registry.key)}


def test_a_job_is_marked_started_as_rq_marks_it_and_leaves_nothing_when_it_succeeds(redis: Redis) -> None:
    lean = _seen_running(LeanWorker, redis)
    rq = _seen_running(SimpleWorker, redis)
    assert lean["seen"]["status"] == "started"
    assert lean["seen"]["started"] == ["look-1"]  # in the started-job registry while it runs
    assert lean["seen"]["ttl_left"] == [True]
    assert lean["seen"] == rq["seen"]  # the same keys, job fields and execution record as RQ's
    assert lean["left"] == rq["left"] == []  # result_ttl=0: the job and its records are gone
    assert lean["wip"] == rq["wip"] == 0


def test_failures_retries_and_kept_results_go_through_rq(redis: Redis) -> None:
    queue = Queue("lean", connection=redis)
    queue.enqueue(fail, job_id="fails", result_ttl=0, failure_ttl=600)
    queue.enqueue(fail, job_id="retries", result_ttl=0, retry=Retry(max=1, interval=[300]))
    queue.enqueue(mark, "kept", job_id="keeps", result_ttl=600)
    _run(LeanWorker, redis, [queue])
    assert Job.fetch("fails", connection=redis).get_status() == "failed"
    assert "fails" in queue.failed_job_registry.get_job_ids()
    retried = Job.fetch("retries", connection=redis)
    assert retried.get_status() == "scheduled" and retried.retries_left == 0
    assert "retries" in queue.scheduled_job_registry.get_job_ids()
    kept = Job.fetch("keeps", connection=redis)
    assert kept.get_status() == "finished" and kept.return_value() == "kept"
    assert queue.started_job_registry.get_job_ids() == []  # nothing left marked running


def test_round_robin_over_queues_that_are_not_one_set_of_partitions(redis: Redis) -> None:
    """Queues a worker was given by hand (no partition layout): passed by key, in turn."""
    first, second = Queue("lean-a", connection=redis), Queue("lean-b.3", connection=redis)
    for n in range(3):
        first.enqueue(mark, f"a{n}", result_ttl=0)
    for n in range(3):
        second.enqueue(mark, f"b{n}", result_ttl=0)
    _run(LeanWorker, redis, [first, second], dequeue_strategy=DequeueStrategy.ROUND_ROBIN)
    assert [t.decode() for t in redis.lrange(SEEN, 0, -1)] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    redis.delete(SEEN)
    for n in range(2):
        first.enqueue(mark, f"a{n}", result_ttl=0)
        second.enqueue(mark, f"b{n}", result_ttl=0)
    _run(LeanWorker, redis, [first, second])  # RQ's default: the first queue until it is empty
    assert [t.decode() for t in redis.lrange(SEEN, 0, -1)] == ["a0", "a1", "b0", "b1"]

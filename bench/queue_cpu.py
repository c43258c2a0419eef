"""CPU per job of the queue layer alone: RQ's own way against Waybill's, same Redis, same run.

No-op Waybill jobs (``noop``: the job wrapper, nothing else) on every partition of every
queue (``queue.partitions``), as ``worker.py`` works them (round robin):

- ``enqueue``: RQ's unique enqueue (``Queue.enqueue(..., unique=True)``, what
  ``RedisJobQueue.enqueue`` called until 2026-12-06) against ``RedisJobQueue.enqueue`` now
  (one script: RQ's unique enqueue and the queue's SADD);
- ``run``: the jobs drained by RQ's ``SimpleWorker`` (what ``worker.py`` ran until
  2026-12-06) against ``sync.rq_worker.LeanWorker``, in this process (``burst``).

Each figure is this process's CPU time (user + system) per job, the best of ``--runs``
alternating runs of ``--jobs`` jobs; the ratio is Waybill's over RQ's own.

    python -m bench.queue_cpu [--jobs N] [--runs R] [--redis-url URL]

Last line: enqueue_ratio=... run_ratio=... rq_enqueue_us=... enqueue_us=... rq_run_us=... run_us=...
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from rq import SimpleWorker

from bench._queue_runtime import DEFAULT_REDIS_URL, queue_runtime
from sync.queue import rq_entry
from sync.rq_worker import LeanWorker
from telemetry import JOB_OUTCOMES
from worker import build_worker


def cpu_s(fn: Callable[[], Any]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def enqueue_rq(rt: Any, ids: list[str]) -> None:
    """The previous enqueue: RQ's ``Queue.enqueue`` with ``unique=True`` (a SADD round trip
    and the unique-enqueue script), the same job, queue and options."""
    for job_id in ids:
        rq_queue, payload, options = rt.queue._placed("noop", {}, job_id, None, None)
        rq_queue.enqueue(rq_entry, payload | {"job_id": job_id}, job_id=job_id, unique=True, **options)


def enqueue_now(rt: Any, ids: list[str]) -> None:
    for job_id in ids:
        assert rt.queue.enqueue("noop", {}, job_id=job_id)


def drain(rt: Any, worker_class: type) -> None:
    worker = build_worker(rt.queue, rt.settings.queue.names, worker_class)
    try:
        worker.work(burst=True, with_scheduler=False, logging_level="ERROR", dequeue_strategy=_strategy(rt))
    finally:
        worker.connection.close()


def _strategy(rt: Any) -> Any:
    from worker import dequeue_strategy

    return dequeue_strategy(rt.queue)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args()

    rt, conn = queue_runtime(args.redis_url, schedules={})
    settings = rt.settings
    figures: dict[str, list[float]] = {"rq_enqueue": [], "enqueue": [], "rq_run": [], "run": []}
    batch = 0

    def one(
        enqueue: Callable[[Any, list[str]], None], worker_class: type, enq: str, run: str, n: int
    ) -> None:
        nonlocal batch
        batch += 1
        ids = [f"bench-noop-{batch}-{i}" for i in range(n)]
        figures[enq].append(cpu_s(lambda: enqueue(rt, ids)) / n)
        figures[run].append(cpu_s(lambda: drain(rt, worker_class)) / n)
        left = sum(len(q) for q in rt.queue.queues.values())
        if left:
            raise SystemExit(f"{left} jobs left queued")

    one(enqueue_rq, SimpleWorker, "rq_enqueue", "rq_run", 100)  # warm both paths
    one(enqueue_now, LeanWorker, "enqueue", "run", 100)
    for values in figures.values():
        values.clear()
    for _ in range(args.runs):  # alternating, so both share the machine's moods
        one(enqueue_rq, SimpleWorker, "rq_enqueue", "rq_run", args.jobs)
        one(enqueue_now, LeanWorker, "enqueue", "run", args.jobs)
    done = JOB_OUTCOMES.labels("noop", "done")._value.get()
    expected = 200 + 2 * args.runs * args.jobs
    conn.flushdb()
    rt.close()
    if done != expected:
        raise SystemExit(f"only {done} of {expected} no-op jobs ran through the wrapper")
    best = {name: min(values) * 1e6 for name, values in figures.items()}
    print(
        f"jobs={args.jobs} runs={args.runs} partitions={settings.queue.partitions} "
        f"queues={len(rt.queue.queues)}; CPU us per job, best of each"
    )
    print(
        f"enqueue_ratio={best['enqueue'] / best['rq_enqueue']:.2f} "
        f"run_ratio={best['run'] / best['rq_run']:.2f} "
        f"rq_enqueue_us={best['rq_enqueue']:.0f} enqueue_us={best['enqueue']:.0f} "
        f"rq_run_us={best['rq_run']:.0f} run_us={best['run']:.0f}"
    )


if __name__ == "__main__":
    main()

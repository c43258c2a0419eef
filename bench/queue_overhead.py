"""No-op jobs per second through Waybill's job machinery vs bare RQ, same Redis, same run.

Waybill's path: deterministic unique job id, Retry intervals with jitter fixed at
enqueue, the wrapper (log context, metrics, failure classification) and the
process runtime; the database is up but a no-op touches nothing. A second
figure runs a job that also claims an effects-ledger key and writes a timeline
entry, the per-job database work a real side effect adds.

    python -m bench.queue_overhead [--jobs N] [--database-url URL] [--redis-url URL]

Last line: ratio=... ours_jobs_s=... bare_jobs_s=... ledger_jobs_s=...
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from rq.worker import DequeueStrategy

import bench._jobs  # noqa: F401  (registers the ledger job)
from bench._queue_runtime import DEFAULT_REDIS_URL, queue_runtime
from sync.queue import queue_of
from telemetry import JOB_OUTCOMES
from worker import dequeue_strategy


def _drain(*queues: Queue, strategy: DequeueStrategy = DequeueStrategy.DEFAULT) -> float:
    worker = SimpleWorker(list(queues), connection=queues[0].connection)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="ERROR", dequeue_strategy=strategy)
    return time.perf_counter() - started


def run_bare(conn: Redis, jobs: int) -> float:
    queue = Queue("bench-bare", connection=conn)
    queue.empty()
    for _ in range(jobs):
        queue.enqueue("bench._jobs.bare_noop", result_ttl=0)
    return jobs / _drain(queue)


def run_ours(rt: Any, name: str, jobs: int) -> float:
    # The intake queue's partitions (queue.partitions), worked round robin as worker.py does.
    queues = [q for q in rt.queue.queues.values() if queue_of(q.name) == "intake"]
    for queue in queues:
        queue.empty()
    for n in range(jobs):
        kwargs = {"n": n} if name == "bench_ledger_noop" else {}
        rt.enqueue(name, job_id=f"bench-{name}-{n}", **kwargs)
    return jobs / _drain(*queues, strategy=dequeue_strategy(rt.queue))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()

    rt, conn = queue_runtime(args.redis_url, args.database_url)
    db_url = rt.settings.database_url
    # Warm both paths (imports, connections), then alternate to share machine noise.
    run_bare(conn, 100)
    run_ours(rt, "noop", 100)
    bare, ours = [], []
    for _ in range(3):
        bare.append(run_bare(conn, args.jobs))
        ours.append(run_ours(rt, "noop", args.jobs))
    ledger = run_ours(rt, "bench_ledger_noop", min(args.jobs, 1000))
    conn.flushdb()
    done = JOB_OUTCOMES.labels("noop", "done")._value.get()
    if done != 100 + 3 * args.jobs:
        raise SystemExit(f"only {done} of {100 + 3 * args.jobs} no-op jobs ran through the wrapper")
    bare_s, ours_s = max(bare), max(ours)
    print(f"database={db_url.split(':')[0]} jobs={args.jobs} runs=3 (best of each)")
    print(
        f"ratio={ours_s / bare_s:.2f} ours_jobs_s={ours_s:.0f} bare_jobs_s={bare_s:.0f} "
        f"ledger_jobs_s={ledger:.0f}"
    )


if __name__ == "__main__":
    main()

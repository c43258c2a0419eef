"""The production job queue: RQ on Redis, with the web tier's hand-offs and the reaping of
jobs that killed workers left started (the shared parts: ``sync/queue.py``).

Each configured queue is ``queue.partitions`` RQ queues, one per slice of merchant
accounts (see ``sync/queue.py``); ``queues`` holds them all, ``depth`` sums them per
configured queue, and ``worker_queues`` gives a worker's round-robin order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import orjson
import structlog
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from db.forks import make_redis_fork_safe
from settings import Settings
from sync.handoff import HANDOFF_KEY, hand_off_sender
from sync.queue import (
    PARTITION_KEY,
    HandOff,
    build_message,
    follow_up_id,
    partition_index,
    partition_key,
    partition_name,
    partition_names,
    queue_of,
    rq_entry,
)

log = structlog.get_logger("waybill.queue")
# Each `waybill worker` names itself WORKER_PREFIX + a random hex and keeps the key
# ALIVE_KEY % name alive (ALIVE_TTL_S, renewed every ALIVE_EVERY_S) from a thread of its
# own. A STARTED job whose worker has such a name and no such key is abandoned: its
# worker was killed, and nothing will finish it.
WORKER_PREFIX = "waybill-"
ALIVE_KEY = "waybill:alive:%s"
ALIVE_TTL_S = 10
ALIVE_EVERY_S = 2.0
LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class RedisJobQueue:
    def __init__(self, settings: Settings, connection: Redis | None = None) -> None:
        self.settings = settings
        self.connection = connection or Redis.from_url(
            settings.redis_url or "", socket_connect_timeout=2, socket_timeout=5
        )
        make_redis_fork_safe(self.connection)  # a forked child opens its own (db/forks.py)
        self.partitions = settings.queue.partitions
        names = partition_names(settings.queue.names, self.partitions)
        self.queues = {name: Queue(name, connection=self.connection) for name in names}
        self.sender = hand_off_sender(settings.inbox.hand_off, self.connection)

    def close(self) -> None:
        """Close the kept hand-off sockets and redis-py's pooled connections."""
        self.sender.close()
        self.connection.connection_pool.disconnect()

    def worker_queues(self, names: Sequence[str]) -> list[str]:
        """The RQ queues a worker of the configured queues ``names`` works, in the order its
        round-robin dequeue starts from."""
        return partition_names(names, self.partitions)

    def enqueue(
        self,
        name: str,
        kwargs: dict[str, Any],
        job_id: str,
        delay_s: float = 0,
        queue: str | None = None,
        key: int | None = None,
        *,
        rerun: bool = False,
    ) -> bool:
        """Enqueue on the partition of ``key`` (a merchant's account id), else of the running
        job's key (``sync.queue.partition_key``), else of a hash of ``job_id``. ``rerun``: if
        a job of this id is running, queue its follow-up (``sync.queue.follow_up_id``)."""
        msg = build_message(self.settings, name, kwargs, job_id, queue)
        key = partition_key() if key is None else key
        index = partition_index(key, job_id, self.partitions)
        rq_queue = self.queues[partition_name(msg.queue, index)]
        payload = asdict(msg) if key is None else asdict(msg) | {PARTITION_KEY: key}
        options: dict[str, Any] = {
            "unique": True,
            "result_ttl": 0,
            "description": name,
            "failure_ttl": self.settings.queue.failure_ttl_s,
            "job_timeout": self.settings.queue.job_timeout_s,
        }
        if msg.intervals:
            # RQ schedules retries in whole seconds.
            options["retry"] = Retry(
                max=len(msg.intervals), interval=[max(1, round(i)) for i in msg.intervals]
            )
        ids = [job_id, follow_up_id(job_id)] if rerun else [job_id]
        for jid in ids:
            for _ in range(2):
                try:
                    if delay_s > 0:
                        rq_queue.enqueue_in(
                            timedelta(seconds=delay_s),
                            rq_entry,
                            payload | {"job_id": jid},
                            job_id=jid,
                            **options,
                        )
                    else:
                        rq_queue.enqueue(rq_entry, payload | {"job_id": jid}, job_id=jid, **options)
                    return True
                except DuplicateJobError:
                    status = self._clear_finished(jid)
                    if status is None:
                        continue  # cleared: enqueue it again
                    if status != JobStatus.STARTED:
                        return False  # queued or scheduled: it will see this request
                    break  # running: its follow-up, if ``rerun``
        return False

    def _clear_finished(self, job_id: str) -> JobStatus | None:
        """Delete a finished or failed job of the same id so it can run again (returns
        ``None``); a live one stays and its status is returned."""
        try:
            existing = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return None
        status = self._status(existing)
        if status in LIVE_STATUSES:
            return status
        existing.delete()
        return None

    def hand_off(self, name: str, kwargs: dict[str, Any], job_id: str, key: int | None = None) -> None:
        """Enqueue later, from a worker: one cheap LPUSH on the web tier's hot path.

        Building an RQ job costs more CPU than the rest of a webhook's intake; workers
        move hand-offs into RQ (:meth:`pump`). If one is lost between the two, the
        inbox sweeper enqueues its event from the database. Raises when Redis did not
        take it (unreachable, refused); the caller's inbox row still holds the event.
        ``key``: the job's partition key (its merchant's account id), see :meth:`enqueue`.
        """
        self.hand_off_many([(name, kwargs, job_id, key)])

    def hand_off_many(self, jobs: Sequence[HandOff]) -> None:
        """:meth:`hand_off` for several jobs in one LPUSH (all or none are taken)."""
        if not jobs:
            return
        self.sender.lpush(*(orjson.dumps(list(job)) for job in jobs))

    def pump(self, block_s: float = 1.0, batch: int = 100) -> int:
        """Move up to ``batch`` hand-offs into RQ; waits up to ``block_s`` for the first."""
        moved = 0
        item = self.connection.brpop([HANDOFF_KEY], timeout=block_s) if block_s > 0 else None
        while moved < batch:
            raw = item[1] if item else self.connection.rpop(HANDOFF_KEY)
            item = None
            if raw is None:
                break
            # [name, kwargs, job id, key]; a web process of an older release sends no key
            name, kwargs, job_id, *key = json.loads(raw)  # type: ignore[arg-type]
            self.enqueue(name, kwargs, job_id=job_id, key=key[0] if key else None)
            moved += 1
        return moved

    def is_live(self, job_id: str) -> bool:
        """Queued, scheduled or running; a job left STARTED by a dead worker is not live
        (it is handed back to its queue first, see :meth:`reap`)."""
        try:
            return self._status(Job.fetch(job_id, connection=self.connection)) in LIVE_STATUSES
        except NoSuchJobError:
            return False

    def _status(self, job: Job) -> JobStatus | None:
        status = job.get_status(refresh=True)
        if status == JobStatus.STARTED and self.abandoned(job):
            self.reap()
            try:
                status = job.get_status(refresh=True)
            except NoSuchJobError:
                return None
        return status

    def abandoned(self, job: Job) -> bool:
        """Whether ``job`` was started by a Waybill worker that no longer heartbeats."""
        name = job.worker_name or ""
        return name.startswith(WORKER_PREFIX) and not self.connection.exists(ALIVE_KEY % name)

    def keep_alive(self, worker_name: str) -> None:
        """One heartbeat of a running worker (see ``ALIVE_KEY``)."""
        self.connection.set(ALIVE_KEY % worker_name, b"1", ex=ALIVE_TTL_S)

    def keep_alive_quietly(self, worker_name: str) -> None:
        """:meth:`keep_alive`, logging instead of raising while Redis is away."""
        try:
            self.keep_alive(worker_name)
        except Exception as exc:
            log.warning("worker.heartbeat_failed", error=type(exc).__name__)

    def reap(self) -> int:
        """Hand back the jobs that dead workers left STARTED; returns how many.

        Their entries in RQ's StartedJobRegistry are marked expired and RQ's own
        abandoned-job handling runs on them: a job with retries left goes back to its
        queue at once (counting one attempt), one without is marked failed, and its
        work is re-derived from the database by the sweepers. One process at a time
        (RQ's per-queue maintenance lock), so a job is never handed back twice.
        """
        reaped = 0
        for queue in self._with_started_jobs():
            registry = queue.started_job_registry
            stale: list[str] = []
            for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
                try:
                    job = Job.fetch(job_id, connection=self.connection)
                except NoSuchJobError:
                    continue
                if self.abandoned(job):
                    stale.append(f"{job_id}:{execution_id}")
            if not stale or not queue.acquire_maintenance_lock():
                continue
            self.connection.expire(queue.registry_cleaning_key, 30)  # RQ's 899 s is for its own pass
            try:
                self.connection.zadd(registry.key, dict.fromkeys(stale, 1), xx=True)
                registry.cleanup()
                # RQ schedules the retry after the job's next interval; run it now instead,
                # as the scheduler that would move it may have died with the worker.
                scheduled = queue.scheduled_job_registry
                for job_id in {key.split(":", 1)[0] for key in stale}:
                    if job_id in scheduled:
                        scheduled.remove(job_id)
                        queue.enqueue_job(Job.fetch(job_id, connection=self.connection))
                reaped += len(stale)
            finally:
                self.connection.delete(queue.registry_cleaning_key)
            log.warning("queue.reaped", queue=queue.name, jobs=len(stale))
        return reaped

    def _with_started_jobs(self) -> list[Queue]:
        """The RQ queues whose started-job registry holds any job (one round trip for all)."""
        queues = list(self.queues.values())
        with self.connection.pipeline(transaction=False) as pipe:
            for q in queues:
                pipe.zcard(q.started_job_registry.key)
            counts = pipe.execute()
        return [q for q, n in zip(queues, counts, strict=True) if n]

    def depth(self) -> dict[str, int]:
        """Jobs waiting per configured queue (its partitions summed), in one round trip."""
        with self.connection.pipeline(transaction=False) as pipe:
            for q in self.queues.values():
                pipe.llen(q.key)
            counts = pipe.execute()
        totals = dict.fromkeys(self.settings.queue.names, 0)
        for name, count in zip(self.queues, counts, strict=True):
            totals[queue_of(name)] += int(count)
        return totals

    def ping(self) -> None:
        self.connection.ping()

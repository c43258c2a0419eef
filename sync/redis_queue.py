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
from rq.scripts import _build_hset_args

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
# A job in one of these will run later: a request for it now is answered by that run.
_WAITING = {JobStatus.QUEUED.value, JobStatus.SCHEDULED.value}
# The indexes (1-based) of the sorted sets in KEYS that hold anything.
NONEMPTY_SCRIPT = """
local found = {}
for i, key in ipairs(KEYS) do
    if redis.call('ZCARD', key) > 0 then found[#found + 1] = i end
end
return found
"""
# RQ's unique enqueue (``rq.scripts.UNIQUE_ENQUEUE_SCRIPT``: save the job unless its id is
# taken, push it at the back of its queue) with the queue's entry in RQ's set of queues,
# which RQ adds in a round trip of its own before every enqueue.
# KEYS: the job, its queue, RQ's set of queues. ARGV: job id, TTL (-1: none), the job's fields.
# Returns 1 (queued) or 0 (the id is taken).
PUSH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
local ttl = tonumber(ARGV[2])
if ttl and ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
redis.call('SADD', KEYS[3], KEYS[2])
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
"""


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
        self._push = self.connection.register_script(PUSH_SCRIPT)
        self._nonempty = self.connection.register_script(NONEMPTY_SCRIPT)

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
        ids = [job_id, follow_up_id(job_id)] if rerun else [job_id]
        if self._waiting(ids):
            return False
        rq_queue, payload, options = self._placed(name, kwargs, job_id, queue, key)
        for jid in ids:
            for _ in range(2):
                if self._put(rq_queue, payload | {"job_id": jid}, jid, options, delay_s):
                    return True
                status = self._clear_finished(jid)  # the id is taken
                if status is None:
                    continue  # cleared: enqueue it again
                if status != JobStatus.STARTED:
                    return False  # queued or scheduled: it will see this request
                break  # running: its follow-up, if ``rerun``
        return False

    def _waiting(self, ids: Sequence[str]) -> bool:
        """Whether a run that will see this request is already queued or scheduled, read in
        one round trip before any job is built: the first id waiting, or (``rerun``) the
        first running and its follow-up waiting. A stock mark or settle request is made
        for every order while its push is pending, so most such enqueues end here (building
        and refusing an RQ job, then fetching the one in the way, cost about ten times as
        much). Anything else takes the full path, which decides with the same statuses."""
        with self.connection.pipeline(transaction=False) as pipe:
            for jid in ids:
                pipe.hget(Job.key_for(jid), "status")
            found = [s.decode() if isinstance(s, bytes) else s for s in pipe.execute()]
        first = found[0]
        if first in _WAITING:
            return True
        return len(found) > 1 and first == JobStatus.STARTED.value and found[1] in _WAITING

    def _placed(
        self, name: str, kwargs: dict[str, Any], job_id: str, queue: str | None, key: int | None
    ) -> tuple[Queue, dict[str, Any], dict[str, Any]]:
        """The RQ queue (partition) a job goes to, its message, and RQ's options for it."""
        msg = build_message(self.settings, name, kwargs, job_id, queue)
        key = partition_key() if key is None else key
        index = partition_index(key, job_id, self.partitions)
        rq_queue = self.queues[partition_name(msg.queue, index)]
        payload = asdict(msg) if key is None else asdict(msg) | {PARTITION_KEY: key}
        options: dict[str, Any] = {
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
        return rq_queue, payload, options

    def _put(
        self, rq_queue: Queue, payload: dict[str, Any], job_id: str, options: dict[str, Any], delay_s: float
    ) -> bool:
        """Queue (or schedule, after ``delay_s``) one job; False when its id is taken."""
        if delay_s > 0:
            try:
                rq_queue.enqueue_in(
                    timedelta(seconds=delay_s), rq_entry, payload, job_id=job_id, unique=True, **options
                )
            except DuplicateJobError:
                return False
            return True
        return bool(self._push(*self._unique_push(rq_queue, payload, job_id, options)))

    def _unique_push(
        self, rq_queue: Queue, payload: dict[str, Any], job_id: str, options: dict[str, Any]
    ) -> tuple[list[str], list[Any]]:
        """The keys and arguments of ``PUSH_SCRIPT`` for one job: the job RQ's unique enqueue
        would save (``Queue.enqueue(..., unique=True)``), built by RQ."""
        options = dict(options)
        job = rq_queue.create_job(
            rq_entry,
            args=(payload,),
            job_id=job_id,
            status=JobStatus.QUEUED,
            timeout=options.pop("job_timeout"),
            **options,
        )
        rq_queue._prepare_for_queue(job)
        keys = [job.key, rq_queue.key, rq_queue.redis_queues_keys]
        return keys, [job.id, -1 if job.ttl is None else job.ttl, *_build_hset_args(job)]  # type: ignore[no-untyped-call]

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
        """Move up to ``batch`` hand-offs into RQ; waits up to ``block_s`` for the first.

        What waits is taken in one ``RPOP`` and queued in one pipelined round trip (ids
        already taken are then handled one by one, as :meth:`enqueue` does). A hand-off that
        cannot be read or names no job is logged and dropped: its inbox event is the
        sweeper's."""
        item = self.connection.brpop([HANDOFF_KEY], timeout=block_s) if block_s > 0 else None
        if block_s > 0 and not item:
            return 0
        raws: list[Any] = [item[1]] if item else []
        more = self.connection.rpop(HANDOFF_KEY, batch - len(raws)) if len(raws) < batch else None
        raws += more or []  # type: ignore[arg-type]
        placed: list[tuple[HandOff, tuple[Queue, dict[str, Any], dict[str, Any]]]] = []
        for raw in raws:
            try:
                # [name, kwargs, job id, key]; a web process of an older release sends no key
                name, kwargs, job_id, *key = json.loads(raw)
                handoff: HandOff = (name, kwargs, job_id, key[0] if key else None)
                placed.append((handoff, self._placed(name, kwargs, job_id, None, handoff[3])))
            except Exception as exc:
                log.warning("queue.hand_off_dropped", error=f"{type(exc).__name__}: {exc}"[:300])
        if not placed:
            return len(raws)
        with self.connection.pipeline(transaction=False) as pipe:
            for (_, _, job_id, _), (rq_queue, payload, options) in placed:
                keys, args = self._unique_push(rq_queue, payload | {"job_id": job_id}, job_id, options)
                self._push(keys=keys, args=args, client=pipe)
            pushed = pipe.execute()
        for (name, kwargs, job_id, key), done in zip([h for h, _ in placed], pushed, strict=True):
            if not done:  # the id is taken: a finished job of it is cleared, a live one kept
                self.enqueue(name, kwargs, job_id=job_id, key=key)
        return len(raws)

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
        """The RQ queues whose started-job registry holds any job (one script, one round trip:
        a pipeline of a ``ZCARD`` per queue cost 1.5 ms of CPU, every 2 s in every worker)."""
        queues = list(self.queues.values())
        found = self._nonempty(keys=[q.started_job_registry.key for q in queues])
        return [queues[int(i) - 1] for i in found]

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

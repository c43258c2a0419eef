"""Job queues: RQ on Redis (production) and an in-process equivalent (embedded).

Both carry a :class:`~sync.jobs.JobMessage`, run it through :func:`sync.jobs.execute`
and retry it on the intervals fixed at enqueue. Job ids are deterministic and
unique: enqueueing an id that is already queued, scheduled or running is a no-op
that returns ``False``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import structlog
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus, get_current_job

from core.errors import ServiceDown
from db.forks import make_redis_fork_safe
from settings import Settings
from sync.handoff import HANDOFF_KEY, hand_off_sender
from sync.jobs import JOBS, JobMessage, Outcome, Result, execute, retry_intervals
from sync.outage import down_service

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.queue")
# Each `waybill worker` names itself WORKER_PREFIX + a random hex and keeps the key
# ALIVE_KEY % name alive (ALIVE_TTL_S, renewed every ALIVE_EVERY_S) from a thread of its
# own. A STARTED job whose worker has such a name and no such key is abandoned: its
# worker was killed, and nothing will finish it.
WORKER_PREFIX = "waybill-"
ALIVE_KEY = "waybill:alive:%s"
ALIVE_TTL_S = 10
ALIVE_EVERY_S = 2.0
HandOff = tuple[str, dict[str, Any], str]  # (job name, kwargs, job id)
LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class JobQueue(Protocol):
    def enqueue(
        self, name: str, kwargs: dict[str, Any], job_id: str, delay_s: float = 0, queue: str | None = None
    ) -> bool: ...
    def hand_off(self, name: str, kwargs: dict[str, Any], job_id: str) -> None: ...
    def hand_off_many(self, jobs: Sequence[HandOff]) -> None: ...
    def is_live(self, job_id: str) -> bool: ...
    def depth(self) -> dict[str, int]: ...
    def ping(self) -> None: ...


def build_message(
    settings: Settings, name: str, kwargs: dict[str, Any], job_id: str, queue: str | None = None
) -> JobMessage:
    """The job ``name`` on its own queue, or on ``queue`` when given (a schedule's)."""
    if name not in JOBS:
        raise LookupError(f"unknown job {name!r}")
    queue = queue or JOBS[name].queue
    if queue not in settings.queue.names:
        raise LookupError(f"job {name!r} uses queue {queue!r}, which is not in queue.names")
    intervals = retry_intervals(settings.queue.policy_for(queue))
    return JobMessage(name=name, kwargs=kwargs, job_id=job_id, queue=queue, intervals=intervals)


# --------------------------------------------------------------------------- RQ


def rq_entry(message: dict[str, Any]) -> Any:
    """What RQ workers run: one attempt of a Waybill job."""
    from sync.runtime import current

    msg = JobMessage(**message)
    rq_job = get_current_job()
    if rq_job is not None and rq_job.retries_left is not None:
        msg.attempt = len(msg.intervals) - rq_job.retries_left + 1
    if rq_job is not None:
        msg.outage_since = rq_job.meta.get(OUTAGE_SINCE)
    result = execute(current(), msg)
    if rq_job is not None:
        _keep_outage_start(rq_job, msg.outage_since)
    if result.outcome is Outcome.done:
        return result.value
    assert result.error is not None
    if rq_job is not None:
        if result.outcome is Outcome.wait:
            wait_without_spending_a_retry(rq_job, result.wait_s)
            # RQ logs each failure with its traceback: during an outage, a short one of
            # this call alone, not the driver's whole chain for every job every few seconds.
            service = down_service(result.error) or "service"
            error = type(result.error).__name__
            raise ServiceDown(service, f"{service} down ({error}): waiting {result.wait_s} s") from None
        elif result.outcome is Outcome.dead:
            rq_job.retries_left = 0  # already dead-lettered; RQ must not retry
        elif rq_job.retry_intervals and result.wait_s:
            index = max(len(rq_job.retry_intervals) - (rq_job.retries_left or 0), 0)
            if index < len(rq_job.retry_intervals):
                rq_job.retry_intervals[index] = max(rq_job.retry_intervals[index], round(result.wait_s))
    raise result.error


OUTAGE_SINCE = "waybill_outage_since"  # RQ job meta: when the job began waiting for a service


def _keep_outage_start(rq_job: Job, since: float | None) -> None:
    """Carry the outage's start to the job's next run (RQ saves meta with the retry)."""
    if since is None:
        rq_job.meta.pop(OUTAGE_SINCE, None)
    else:
        rq_job.meta[OUTAGE_SINCE] = since


def wait_without_spending_a_retry(rq_job: Job, wait_s: float) -> None:
    """Have RQ run the job again in ``wait_s`` with as many retries left as it has now.

    RQ's retry takes the interval at ``len(intervals) - retries_left`` and then takes one
    off ``retries_left``. Giving back one retry and putting ``wait_s`` at that index
    leaves the count and the intervals still to come as they were: the index is one
    already used (or, on the first attempt, ``wait_s`` goes in front of the list)."""
    wait = max(1, round(wait_s))  # RQ schedules in whole seconds
    intervals = list(rq_job.retry_intervals or [])
    left = rq_job.retries_left or 0
    index = len(intervals) - left - 1
    if index >= 0:
        intervals[index] = wait
    else:
        intervals.insert(0, wait)
    rq_job.retry_intervals = intervals
    rq_job.retries_left = left + 1


class RedisJobQueue:
    def __init__(self, settings: Settings, connection: Redis | None = None) -> None:
        self.settings = settings
        self.connection = connection or Redis.from_url(
            settings.redis_url or "", socket_connect_timeout=2, socket_timeout=5
        )
        make_redis_fork_safe(self.connection)  # a forked child opens its own (db/forks.py)
        self.queues = {name: Queue(name, connection=self.connection) for name in settings.queue.names}
        self.sender = hand_off_sender(settings.inbox.hand_off, self.connection)

    def close(self) -> None:
        """Close the kept hand-off sockets and redis-py's pooled connections."""
        self.sender.close()
        self.connection.connection_pool.disconnect()

    def enqueue(
        self, name: str, kwargs: dict[str, Any], job_id: str, delay_s: float = 0, queue: str | None = None
    ) -> bool:
        msg = build_message(self.settings, name, kwargs, job_id, queue)
        rq_queue = self.queues[msg.queue]
        options: dict[str, Any] = {
            "job_id": job_id,
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
        for _ in range(2):
            try:
                if delay_s > 0:
                    rq_queue.enqueue_in(timedelta(seconds=delay_s), rq_entry, asdict(msg), **options)
                else:
                    rq_queue.enqueue(rq_entry, asdict(msg), **options)
                return True
            except DuplicateJobError:
                if not self._clear_finished(job_id):
                    return False
        return False

    def _clear_finished(self, job_id: str) -> bool:
        """Delete a finished or failed job of the same id so it can run again."""
        try:
            existing = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return True
        if self._status(existing) in LIVE_STATUSES:
            return False
        existing.delete()
        return True

    def hand_off(self, name: str, kwargs: dict[str, Any], job_id: str) -> None:
        """Enqueue later, from a worker: one cheap LPUSH on the web tier's hot path.

        Building an RQ job costs more CPU than the rest of a webhook's intake; workers
        move hand-offs into RQ (:meth:`pump`). If one is lost between the two, the
        inbox sweeper enqueues its event from the database. Raises when Redis did not
        take it (unreachable, refused); the caller's inbox row still holds the event.
        """
        self.hand_off_many([(name, kwargs, job_id)])

    def hand_off_many(self, jobs: Sequence[HandOff]) -> None:
        """:meth:`hand_off` for several jobs in one LPUSH (all or none are taken)."""
        if not jobs:
            return
        self.sender.lpush(*(orjson.dumps([name, kwargs, job_id]) for name, kwargs, job_id in jobs))

    def pump(self, block_s: float = 1.0, batch: int = 100) -> int:
        """Move up to ``batch`` hand-offs into RQ; waits up to ``block_s`` for the first."""
        moved = 0
        item = self.connection.brpop([HANDOFF_KEY], timeout=block_s) if block_s > 0 else None
        while moved < batch:
            raw = item[1] if item else self.connection.rpop(HANDOFF_KEY)
            item = None
            if raw is None:
                break
            name, kwargs, job_id = json.loads(raw)  # type: ignore[arg-type]
            self.enqueue(name, kwargs, job_id=job_id)
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
        for queue in self.queues.values():
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

    def depth(self) -> dict[str, int]:
        return {name: q.count for name, q in self.queues.items()}

    def ping(self) -> None:
        self.connection.ping()


# --------------------------------------------------------------------------- embedded


@dataclass(frozen=True)
class JobRun:
    """One attempt an embedded queue ran (kept only while :attr:`EmbeddedJobQueue.record` is a list)."""

    name: str
    job_id: str
    kwargs: dict[str, Any]
    attempt: int
    outcome: str  # done, retry, dead, or crashed (the dead-letter write itself failed)
    value: Any = None
    error: str | None = None

    @classmethod
    def of(cls, msg: JobMessage, result: Result | None) -> JobRun:
        if result is None:
            return cls(msg.name, msg.job_id, dict(msg.kwargs), msg.attempt, "crashed")
        error = f"{type(result.error).__name__}: {result.error}" if result.error is not None else None
        return cls(
            msg.name, msg.job_id, dict(msg.kwargs), msg.attempt, result.outcome.value, result.value, error
        )


class EmbeddedJobQueue:
    """An in-process queue with worker threads that behaves like RQ for Waybill's jobs.

    Jobs are held in memory only; the database is the record of what is left to
    do, and the sweeper re-enqueues it after a restart.
    """

    def __init__(self, settings: Settings, runtime: Callable[[], Runtime]) -> None:
        self.settings = settings
        self._runtime = runtime
        self._heap: list[tuple[float, int, JobMessage]] = []
        self._live: dict[str, JobMessage] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._running = 0
        # Set to a list to keep every attempt run (the CLI reports what it ran); None keeps nothing.
        self.record: list[JobRun] | None = None

    def enqueue(
        self, name: str, kwargs: dict[str, Any], job_id: str, delay_s: float = 0, queue: str | None = None
    ) -> bool:
        msg = build_message(self.settings, name, kwargs, job_id, queue)
        with self._cond:
            if job_id in self._live:
                return False
            self._live[job_id] = msg
            self._push(msg, delay_s)
        return True

    def _push(self, msg: JobMessage, delay_s: float) -> None:
        heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._seq), msg))
        self._cond.notify()

    def hand_off(self, name: str, kwargs: dict[str, Any], job_id: str) -> None:
        self.enqueue(name, kwargs, job_id=job_id)

    def hand_off_many(self, jobs: Sequence[HandOff]) -> None:
        for name, kwargs, job_id in jobs:
            self.enqueue(name, kwargs, job_id=job_id)

    def is_live(self, job_id: str) -> bool:
        with self._cond:
            return job_id in self._live

    def depth(self) -> dict[str, int]:
        counts = dict.fromkeys(self.settings.queue.names, 0)
        with self._cond:
            for _, _, msg in self._heap:
                counts[msg.queue] = counts.get(msg.queue, 0) + 1
        return counts

    def ping(self) -> None:
        if self._threads and not any(t.is_alive() for t in self._threads):
            raise RuntimeError("embedded worker threads are not running")

    def idle(self) -> bool:
        with self._cond:
            return not self._live and self._running == 0

    def start(self, threads: int | None = None) -> None:
        self._stopping = False
        for n in range(threads or self.settings.queue.embedded_threads):
            t = threading.Thread(target=self._work, name=f"waybill-worker-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()

    def run_until_idle(self, timeout_s: float = 30) -> None:
        """Process everything due (and retries) in this thread; for tests and the CLI."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = self._next(block=False)
            if msg is None:
                with self._cond:
                    if not self._heap:
                        return
                    wait = self._heap[0][0] - time.monotonic()
                time.sleep(min(max(wait, 0.001), 0.05))
                continue
            self._perform(msg)
        raise TimeoutError("embedded queue did not become idle")

    def run_due(self, wait_s: float = 5.0, timeout_s: float = 120.0) -> list[JobMessage]:
        """Run in this thread every job due now or within ``wait_s``, and what they enqueue.

        Returns the jobs left waiting longer than that (retries with a longer backoff),
        soonest first, when nothing nearer is left or ``timeout_s`` has passed. The CLI
        uses it to finish a command's follow-up work before it exits.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = self._next(block=False)
            if msg is not None:
                self._perform(msg)
                continue
            with self._cond:
                if not self._heap and self._running == 0:
                    return []
                wait = self._heap[0][0] - time.monotonic() if self._heap else 0.05
                if wait > wait_s and self._running == 0:
                    return [m for _, _, m in sorted(self._heap)]
            time.sleep(min(max(wait, 0.001), 0.05))
        with self._cond:
            return [m for _, _, m in sorted(self._heap)]

    def _next(self, block: bool) -> JobMessage | None:
        with self._cond:
            while not self._stopping:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    self._running += 1
                    return heapq.heappop(self._heap)[2]
                if not block:
                    return None
                timeout = (self._heap[0][0] - time.monotonic()) if self._heap else 0.5
                self._cond.wait(max(0.001, min(timeout, 0.5)))
            return None

    def _work(self) -> None:
        while not self._stopping:
            msg = self._next(block=True)
            if msg is not None:
                self._perform(msg)

    def _perform(self, msg: JobMessage) -> None:
        try:
            result = execute(self._runtime(), msg)
        except Exception as exc:  # the dead-letter write itself failed (database down)
            log.error("job.crashed", job_id=msg.job_id, error=f"{type(exc).__name__}: {exc}")
            result = None
        if self.record is not None:
            self.record.append(JobRun.of(msg, result))
        with self._cond:
            self._running -= 1
            if result is not None and result.outcome in (Outcome.retry, Outcome.wait):
                if result.outcome is Outcome.retry:  # a wait for a service spends no attempt
                    msg.attempt += 1
                self._push(msg, result.wait_s)
            else:
                self._live.pop(msg.job_id, None)
            self._cond.notify_all()

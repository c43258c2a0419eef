"""The worker ``worker.py`` runs: RQ's in-process ``SimpleWorker`` with a job's Redis
bookkeeping in two round trips.

RQ's own loop spends some twenty-five round trips on every job, most of them on its
monitoring records: the worker's heartbeat (three commands) before and after each dequeue
and after each job, its state (busy, idle), the dequeue across every queue partition, the
job's fetch, the execution's records (two pipelines), the job's heartbeat at its end, and
the success's watch, read and transaction (the job deleted, with ``result_ttl=0``, by reading
its executions first). :class:`LeanWorker` keeps every record RQ keeps and makes them thus:

- **take** (one script, one round trip): pop the next job id round robin across the
  partitions, and in the same step mark it started exactly as RQ does (the job's status,
  worker and start time; the execution's hash and indexes; its entry in the queue's
  started-job registry, whose score says when it is abandoned) and read the job back. A
  worker killed at any point after this finds its job in the started-job registry, where
  ``RedisJobQueue.reap`` hands it back. (RQ pops, then fetches, then registers: a worker
  killed between those lost the job to the sweepers.) When every partition is empty it
  waits in one ``BLPOP`` as RQ does, then marks the popped job started with the same script.
- **finish** (one script, one round trip) for a job that succeeded and keeps no result
  (``result_ttl=0``, no dependents, callbacks, repeats, group or rate limit: every Waybill
  job): delete the job and its execution records and count it on the worker, as RQ's
  success path does. Anything else (a failure, a retry, a job that keeps its result) goes
  through RQ's own handling, unchanged.
- the worker's heartbeat (its hash's expiry, 480 s) is sent at most every
  ``HEARTBEAT_EVERY_S``, and the suspension flag (RQ's suspend command) read at most every
  ``SUSPENSION_EVERY_S``, instead of around every job.

Waybill's liveness key (``sync.redis_queue.ALIVE_KEY``, from a thread of ``worker.py``) is
what tells a killed worker's jobs; it is untouched.
"""

from __future__ import annotations

import math
import sys
import time
import uuid
from typing import Any

import redis.exceptions
from rq import SimpleWorker
from rq.defaults import DEFAULT_WORKER_TTL
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.timeouts import JobTimeoutException
from rq.utils import current_timestamp, now, utcformat
from rq.worker import DequeueStrategy, WorkerStatus

from sync.queue import partition_names

# KEYS: the queues to look in, in order; or none, and then ARGV 9.. describe them (see below).
# ARGV: 1 worker name, 2 execution id, 3 now (whole seconds), 4 now (RQ's text form),
#       5 now (seconds, float), 6 RQ's default worker TTL, 7 and 8 a queue key and a job id
#       already popped (by BLPOP) or '', 9 where the round robin starts, 10 partitions,
#       11.. queue names: the queues are their partitions, in ``partition_names`` order.
# Returns false, or {position (1-based; 0 for a popped job), job id, the job's hash}.
TAKE_SCRIPT = """
local wname, exec, now_s, now_text, now_f, default_ttl =
    ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local function start(qkey, id)
    local jkey = 'rq:job:' .. id
    if redis.call('EXISTS', jkey) == 0 then return false end
    local fields = redis.call('HMGET', jkey, 'origin', 'timeout')
    local origin = fields[1] or string.sub(qkey, 10)
    local timeout = tonumber(fields[2] or '')
    local ttl
    if timeout == -1 then ttl = default_ttl else ttl = (timeout or default_ttl) + 60 end
    local composite = id .. ':' .. exec
    local ekey = 'rq:execution:' .. composite
    redis.call('HSET', ekey, 'id', exec, 'job_id', id, 'created_at', now_f, 'last_heartbeat', now_f,
        'worker_name', wname)
    redis.call('EXPIRE', ekey, ttl)
    redis.call('ZADD', 'rq:executions:' .. id, now_s + ttl + 60, exec)
    redis.call('EXPIRE', 'rq:executions:' .. id, ttl + 60)
    redis.call('ZADD', 'rq:wip:' .. origin, now_s + ttl, composite)
    local wexec = 'rq:worker:' .. wname .. ':executions'
    redis.call('SADD', wexec, composite)
    redis.call('EXPIRE', wexec, ttl + 60)
    local wkey = 'rq:worker:' .. wname
    if redis.call('EXISTS', wkey) == 1 then redis.call('HSET', wkey, 'state', 'busy') end
    redis.call('HSET', jkey, 'last_heartbeat', now_text, 'status', 'started', 'started_at', now_text,
        'worker_name', wname)
    redis.call('PERSIST', jkey)
    return redis.call('HGETALL', jkey)
end
local function take(position, qkey)
    while true do
        local id = redis.call('LPOP', qkey)
        if not id then return false end
        local job = start(qkey, id)
        if job then return {position, id, job} end
    end
end
if ARGV[8] ~= '' then
    local job = start(ARGV[7], ARGV[8])
    if job then return {0, ARGV[8], job} end
    return false
end
if #KEYS > 0 then
    for i = 1, #KEYS do
        local got = take(i, KEYS[i])
        if got then return got end
    end
    return false
end
local names = {}
for i = 11, #ARGV do names[#names + 1] = ARGV[i] end
local count, first = #names * tonumber(ARGV[10]), tonumber(ARGV[9])
for step = 0, count - 1 do
    local index = (first + step) % count
    local partition = math.floor(index / #names)
    local qkey = 'rq:queue:' .. names[index % #names + 1]
    if partition > 0 then qkey = qkey .. '.' .. partition end
    local got = take(index + 1, qkey)
    if got then return got end
end
return false
"""

# KEYS: 1 job, 2 its dependents, 3 its dependencies, 4 its result, 5 the started-job registry,
#       6 the execution, 7 the job's executions, 8 the worker's executions, 9 the worker.
# ARGV: 1 the execution's composite key (job id:execution id), 2 seconds the job worked.
# Returns 1, or 0 (nothing done) when the job has dependents: RQ's own success path then.
FINISH_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6], KEYS[7])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[8], ARGV[1])
if redis.call('EXISTS', KEYS[9]) == 1 then
    redis.call('HSET', KEYS[9], 'state', 'idle')
    redis.call('HINCRBY', KEYS[9], 'successful_job_count', 1)
    redis.call('HINCRBYFLOAT', KEYS[9], 'total_working_time', ARGV[2])
end
return 1
"""

# The scripts name RQ's keys as RQ 3 spells them; a release that spells them otherwise must
# not run with them (the test suite runs them against RQ's own readers too).
assert Job.redis_job_namespace_prefix == "rq:job:"
assert Queue.redis_queue_namespace_prefix == "rq:queue:"
assert StartedJobRegistry.key_template.format("q") == "rq:wip:q"
assert ExecutionRegistry.key_template.format("j") == "rq:executions:j"


class LeanWorker(SimpleWorker):
    """RQ's ``SimpleWorker`` with the take and finish of a job in one round trip each (see
    the module's docstring). Everything else (failures, retries, stop requests, job
    timeouts, maintenance) is RQ's."""

    HEARTBEAT_EVERY_S = 15.0  # the worker's hash lives 480 s (RQ's worker TTL + 60)
    SUSPENSION_EVERY_S = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._take = self.connection.register_script(TAKE_SCRIPT)
        self._finish = self.connection.register_script(FINISH_SCRIPT)
        self._by_key = {q.key: q for q in self.queues}
        self._layout = _partition_layout([q.name for q in self.queues])
        self._first = 0  # where the round robin starts (in the layout's order)
        self._beat_at = -math.inf
        self._suspension_checked_at = -math.inf
        self._taken: dict[str, str] = {}  # job id -> execution id, marked started by the take

    # ------------------------------------------------------------- less often

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat, sent at most every ``HEARTBEAT_EVERY_S`` when RQ's loop calls it
        on its own (with a pipeline or a timeout of its own, always)."""
        if pipeline is None and timeout is None and time.monotonic() - self._beat_at < self.HEARTBEAT_EVERY_S:
            return
        if pipeline is None:
            with self.connection.pipeline() as pipe:
                super().heartbeat(timeout, pipe)
                pipe.execute()
        else:
            super().heartbeat(timeout, pipeline)
        self._beat_at = time.monotonic()

    def check_for_suspension(self, burst: bool) -> None:
        if time.monotonic() - self._suspension_checked_at < self.SUSPENSION_EVERY_S:
            return
        self._suspension_checked_at = time.monotonic()
        super().check_for_suspension(burst)

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """The state is written by the take and the finish; RQ's per-job calls only note it."""
        if pipeline is None and state in (WorkerStatus.IDLE, WorkerStatus.BUSY):
            self._state = state
            return
        super().set_state(state, pipeline)

    # ------------------------------------------------------------------ take

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """The next job, already marked started (``TAKE_SCRIPT``); with ``timeout`` None
        (burst), None when every queue is empty, else wait for one as RQ does."""
        self._state = WorkerStatus.IDLE
        idle_since = time.monotonic()
        connection_wait_time = 1.0
        while True:
            try:
                self.heartbeat()
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()  # type: ignore[no-untyped-call]
                taken = self._take_next()
                if taken is not None or timeout is None:
                    return taken
                wait = timeout
                if max_idle_time is not None:
                    left = math.ceil(max_idle_time - (time.monotonic() - idle_since))
                    if left <= 0:
                        return None
                    wait = min(wait, left)
                popped = self.connection.blpop([q.key for q in self._ordered_queues], wait)
                if popped is None:
                    continue
                taken = self._take_next((bytes(popped[0]), bytes(popped[1])))  # type: ignore[arg-type]
                if taken is not None:
                    return taken
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                self.log.error(
                    "Worker %s: could not connect to Redis instance: %s retrying in %d seconds...",
                    self.name,
                    exc,
                    connection_wait_time,
                )
                time.sleep(connection_wait_time)
                connection_wait_time = min(
                    connection_wait_time * self.exponential_backoff_factor, self.max_connection_wait_time
                )

    def _take_next(self, popped: tuple[bytes, bytes] | None = None) -> tuple[Job, Queue] | None:
        execution_id = uuid.uuid4().hex
        stamp = now()
        args: list[Any] = [
            self.name,
            execution_id,
            current_timestamp(),
            utcformat(stamp),
            stamp.timestamp(),
            DEFAULT_WORKER_TTL,
        ]
        keys: list[str] = []
        layout = self._layout if self._dequeue_strategy != DequeueStrategy.RANDOM else None
        if popped is not None:
            args += [popped[0], popped[1], 0, 0]
        elif layout is not None:
            first = self._first if self._dequeue_strategy == DequeueStrategy.ROUND_ROBIN else 0
            args += ["", "", first, layout[1], *layout[0]]
        else:
            keys = [q.key for q in self._ordered_queues]
            args += ["", "", 0, 0]
        found = self._take(keys=keys, args=args)
        if not found:
            return None
        position, raw_id, flat = found
        job_id = raw_id.decode()
        job = self.job_class(job_id, connection=self.connection, serializer=self.serializer)
        job.restore(dict(zip(flat[::2], flat[1::2], strict=True)))
        queue_key = popped[0].decode() if popped is not None else None
        if popped is None and layout is not None:
            self._first = int(position)  # the next look starts after this queue
            queue_key = self.queues[int(position) - 1].key
        elif popped is None:
            queue_key = keys[int(position) - 1]
        assert queue_key is not None
        queue = self._by_key[queue_key]
        if popped is not None or layout is None:
            self.reorder_queues(reference_queue=queue)
            if layout is not None:
                self._first = self.queues.index(queue) + 1
        job.redis_server_version = self.get_redis_server_version()  # type: ignore[no-untyped-call]
        self._taken[job.id] = execution_id
        self.log.info("Worker %s: %s: %s", self.name, queue.name, job.id)
        return job, queue

    # --------------------------------------------------------------- execute

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution_id = self._taken.pop(job.id, None)
        if execution_id is None:  # not taken by this worker's take (a subclass, a test): RQ's way
            super().execute_job(job, queue)
            return
        execution = Execution(execution_id, job.id, connection=self.connection, worker_name=self.name)
        execution._job = job
        self.executions[execution.id] = execution
        self._state = WorkerStatus.BUSY
        try:
            timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                value = job.perform()
            self._succeeded(job, queue, execution, value)
        except:  # noqa: E722 (as RQ's perform_job: whatever ended the job is its failure)
            self._finalize_failure(job, queue, execution, sys.exc_info())
        finally:
            self.executions.pop(execution.id, None)
            self._state = WorkerStatus.IDLE

    def _succeeded(self, job: Job, queue: Queue, execution: Any, value: Any) -> None:
        if not _finishes_plainly(job, self.default_result_ttl, value):
            self._finalize_success(job, queue, execution, value)
            return
        job.ended_at = now()
        job._result = value
        job._status = JobStatus.FINISHED
        assert job.started_at is not None
        worked = (job.ended_at - job.started_at).total_seconds()
        keys = [  # named here: RQ's registry objects cost more to build than the script to run
            job.key,
            job.dependents_key,
            job.dependencies_key,
            Result.get_key(job.id),  # type: ignore[no-untyped-call]
            f"rq:wip:{job.origin}",  # the started-job registry
            execution.key,
            f"rq:executions:{job.id}",
            execution.worker_executions_key,
            self.key,
        ]
        if not self._finish(keys=keys, args=[execution.composite_key, worked]):
            self.handle_job_success(job, queue, job.started_job_registry, execution)  # it has dependents
        self.log.info("Worker %s: %s: Job OK (%s)", self.name, job.origin, job.id)


def _finishes_plainly(job: Job, default_result_ttl: int, value: Any) -> bool:
    """Whether RQ's success path would do no more than delete the job and its records."""
    from rq import Retry

    return (
        not isinstance(value, Retry)
        and job.get_result_ttl(default_result_ttl) == 0
        and not job.repeats_left
        and not job._success_callback_name
        and not job.has_rate_limit
        and not job.group_id
        and not job.webhooks
    )


def _partition_layout(names: list[str]) -> tuple[list[str], int] | None:
    """``(queue names, partitions)`` when ``names`` are those queues' partitions in
    ``partition_names`` order (the take then names them in a few arguments), else None."""
    base = [name for name in names if "." not in name]
    if not base or len(names) % len(base):
        return None
    partitions = len(names) // len(base)
    return (base, partitions) if partition_names(base, partitions) == names else None

"""Job queues: RQ on Redis (production, ``sync/redis_queue.py``) and an in-process
equivalent (embedded, ``sync/embedded_queue.py``); here, what they share.

Both carry a :class:`~sync.jobs.JobMessage`, run it through :func:`sync.jobs.execute`
and retry it on the intervals fixed at enqueue. Job ids are deterministic and
unique: enqueueing an id that is already queued, scheduled or running is a no-op
that returns ``False``. A job that works through what is marked in the database (a stock
push writes every mark made before it reads them) is enqueued with ``rerun=True``: while
one of its id *runs*, it may already have read the marks, so a request that finds it
running queues a follow-up under :func:`follow_up_id` (itself coalesced: at most one
queued behind a running one). Without it, a mark made between the running job's last
read and its end waited for the next sweep. :func:`rq_entry` stays here: RQ stores its path
(``sync.queue.rq_entry``) with every job.

Fair scheduling across merchants (RQ only): each queue is split into
``queue.partitions`` RQ queues (``orders``, ``orders.1``, ... ``orders.31``), a job going to
the partition of its merchant's account (its *partition key*), and workers dequeue them
round robin (RQ's ``round_robin`` dequeue strategy), one job from each non-empty
partition in turn. A flash sale at one merchant fills its own partitions; the other
merchants' jobs are taken between its jobs instead of behind its backlog. A job's key
is given at its hand-off (the webhook's account), else inherited from the job that
enqueues it (:func:`partition_key`); a job with no key goes by a hash of its id.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from rq.job import Job, get_current_job

from core.errors import ServiceDown
from settings import Settings
from sync.jobs import JOBS, JobMessage, Outcome, execute, retry_intervals
from sync.outage import down_service

# (job name, kwargs, job id, partition key: the merchant's account id, or None)
HandOff = tuple[str, dict[str, Any], str, int | None]
PARTITION_KEY = "partition_key"  # the key's field in an RQ job's message (not a JobMessage field)
_partition_key: ContextVar[int | None] = ContextVar("waybill_partition_key", default=None)


FOLLOW_UP_SUFFIX = "__rerun"  # RQ takes letters, digits, _ and - in ids


def follow_up_id(job_id: str) -> str:
    """The id of the run queued behind a running ``job_id`` (``rerun=True``), and back."""
    if job_id.endswith(FOLLOW_UP_SUFFIX):
        return job_id[: -len(FOLLOW_UP_SUFFIX)]
    return job_id + FOLLOW_UP_SUFFIX


class JobQueue(Protocol):
    def enqueue(
        self,
        name: str,
        kwargs: dict[str, Any],
        job_id: str,
        delay_s: float = 0,
        queue: str | None = None,
        *,
        rerun: bool = False,
    ) -> bool: ...
    def hand_off(self, name: str, kwargs: dict[str, Any], job_id: str, key: int | None = None) -> None: ...
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


# ------------------------------------------------------------------- partitions


def partition_key() -> int | None:
    """The partition key of the job running in this context (None outside one, or unkeyed)."""
    return _partition_key.get()


@contextmanager
def partitioned_by(key: int | None) -> Iterator[None]:
    """Jobs enqueued in the block without a key of their own take ``key``."""
    token = _partition_key.set(key)
    try:
        yield
    finally:
        _partition_key.reset(token)


def partition_index(key: int | None, job_id: str, partitions: int) -> int:
    """Which of ``partitions`` a job goes to: its key's, else its id's (a stable hash)."""
    if partitions <= 1:
        return 0
    if key is None:
        return zlib.crc32(job_id.encode()) % partitions
    return key % partitions


def partition_name(queue: str, index: int) -> str:
    """Partition ``index`` of ``queue``: the queue's own name for 0 (so one partition is the
    plain queue), ``queue.index`` for the others (configured names hold no dot)."""
    return queue if index == 0 else f"{queue}.{index}"


def partition_names(names: Sequence[str], partitions: int) -> list[str]:
    """Every partition of ``names``, partition by partition (``intake, orders, ...,
    intake.1, orders.1, ...``): the order a round-robin worker starts from."""
    return [partition_name(name, i) for i in range(max(1, partitions)) for name in names]


def queue_of(partition: str) -> str:
    """The configured queue a partition belongs to."""
    return partition.split(".", 1)[0]


# --------------------------------------------------------------------------- RQ


def rq_entry(message: dict[str, Any]) -> Any:
    """What RQ workers run: one attempt of a Waybill job (the jobs it enqueues take its
    partition key, see :func:`partition_key`)."""
    message = dict(message)
    with partitioned_by(message.pop(PARTITION_KEY, None)):
        return _run_rq_attempt(message)


def _run_rq_attempt(message: dict[str, Any]) -> Any:
    from sync.runtime import current

    msg = JobMessage(**message)
    rq_job = get_current_job()
    if rq_job is not None and rq_job.retries_left is not None:
        msg.attempt = len(msg.intervals) - rq_job.retries_left + 1
    if rq_job is not None:
        msg.outage_since = rq_job.meta.get(OUTAGE_SINCE)
        msg.throttled_since = rq_job.meta.get(THROTTLED_SINCE)
    result = execute(current(), msg)
    if rq_job is not None:
        _keep_outage_start(rq_job, msg.outage_since)
        _keep_outage_start(rq_job, msg.throttled_since, THROTTLED_SINCE)
    if result.outcome is Outcome.done:
        return result.value
    assert result.error is not None
    if rq_job is not None:
        if result.outcome is Outcome.wait:
            wait_without_spending_a_retry(rq_job, result.wait_s)
            # RQ logs each failure with its traceback: during an outage, a short one of
            # this call alone, not the driver's whole chain for every job every few seconds.
            service = down_service(result.error)  # None: a throttle, raised as it is
            if service is not None:
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
THROTTLED_SINCE = "waybill_throttled_since"  # RQ job meta: when its run of throttles began


def _keep_outage_start(rq_job: Job, since: float | None, key: str = OUTAGE_SINCE) -> None:
    """Carry the outage's (or throttles') start to the job's next run (RQ saves meta with the retry)."""
    if since is None:
        rq_job.meta.pop(key, None)
    else:
        rq_job.meta[key] = since


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

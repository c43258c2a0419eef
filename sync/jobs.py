"""Job registry and the wrapper every job runs through, whatever the queue backend.

A job is a function ``fn(rt, **kwargs)`` registered with :func:`job`. The wrapper
binds a log context, times the job, classifies its failure and decides: done,
retry later, wait for a backing service, or dead (recorded in ``dead_letters`` for an
operator to retry).

A failure that says the database or Redis is down (:func:`sync.outage.down_service`)
is nobody's fault and ends when the service returns: the job waits for it
(``queue.outage``) and tries again without spending one of its retries, so an outage
of any length short of ``queue.outage.give_up_s`` leaves every job's budget whole.

A platform asking to slow down (:class:`core.errors.Throttled`: HTTP 429, THROTTLED) is
not a failure either: the job waits as asked without spending a retry, for as long as
``queue.throttle_budget_s`` from the first throttle in a row. Retries are for failures,
so a job of several platform calls does not run out of them on throttles alone.
"""

from __future__ import annotations

import contextvars
import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from rq.timeouts import BaseTimeoutException

from core.errors import Permanent, Retryable, Throttled
from db.models import DeadLetter
from db.session import session_scope
from settings import OutagePolicy, RetryPolicy
from sync.outage import down_service
from telemetry import JOB_DURATION, JOB_OUTCOMES

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.jobs")

JobFn = Callable[..., Any]


@dataclass(frozen=True)
class JobDef:
    name: str
    fn: JobFn
    queue: str


JOBS: dict[str, JobDef] = {}
# True while ``execute`` runs a job in this thread (``run_now`` works inline only then).
_in_job: contextvars.ContextVar[bool] = contextvars.ContextVar("waybill_in_job", default=False)
# What the job at hand has read once and may use again (``job_memo``); None outside a job.
_memo: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar(
    "waybill_job_memo", default=None
)


def job_memo() -> dict[Any, Any] | None:
    """A dict that lives as long as the job at hand, the steps ``run_now`` runs inside it
    included (None outside a job): what a job reads several times and may read once, such
    as an account's settings (``sync.account_settings.settings_for``), is kept in it. The
    next job reads it afresh, so a change made meanwhile reaches every worker at its next job."""
    return _memo.get()


def job(name: str, queue: str) -> Callable[[JobFn], JobFn]:
    """Register ``fn`` as the job ``name`` on ``queue``."""

    def register(fn: JobFn) -> JobFn:
        if name in JOBS and JOBS[name].fn is not fn:
            raise ValueError(f"job {name!r} registered twice")
        JOBS[name] = JobDef(name, fn, queue)
        return fn

    return register


def safe_job_id(*parts: object) -> str:
    """A deterministic job id RQ accepts (letters, digits, ``_`` and ``-`` only)."""
    text = "-".join(str(p) for p in parts)
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in text)[:200]


def retry_intervals(policy: RetryPolicy, rng: random.Random | None = None) -> list[float]:
    """Backoff with jitter, fixed at enqueue: attempt n waits about base * factor**n."""
    rng = rng or random.Random()
    out = []
    for n in range(policy.max):
        wait = min(policy.max_s, policy.base_s * policy.factor**n)
        wait *= 1 + rng.uniform(-policy.jitter, policy.jitter)
        out.append(round(max(0.01, wait), 2))
    return out


@dataclass
class JobMessage:
    """One job as a queue carries it."""

    name: str
    kwargs: dict[str, Any]
    job_id: str
    queue: str
    intervals: list[float] = field(default_factory=list)
    attempt: int = 1
    # When this job first failed for the current outage of a backing service (Unix time,
    # as it crosses processes); None while it is not waiting for one.
    outage_since: float | None = None
    # When the current run of throttles began (Unix time); None after any other outcome.
    throttled_since: float | None = None

    @property
    def final(self) -> bool:
        return self.attempt > len(self.intervals)

    def next_wait(self, asked_s: float | None) -> float:
        planned = self.intervals[self.attempt - 1] if not self.final else 0
        return max(planned, asked_s or 0)


def outage_wait(policy: OutagePolicy, waited_s: float, rng: random.Random | None = None) -> float:
    """The wait before trying again ``waited_s`` into an outage: ``base_s`` at first,
    then half the time waited so far (so the waits grow by half each time), at most
    ``max_s``, +/- ``jitter``."""
    rng = rng or random.Random()
    wait = min(policy.max_s, max(policy.base_s, waited_s / 2))
    wait *= 1 + rng.uniform(-policy.jitter, policy.jitter)
    return round(max(0.01, wait), 2)


class Outcome(enum.Enum):
    done = "done"
    retry = "retry"
    wait = "wait"  # a backing service is down: try again later, the attempt not counted
    dead = "dead"


@dataclass
class Result:
    outcome: Outcome
    error: BaseException | None = None
    wait_s: float = 0.0
    value: Any = None


def execute(rt: Runtime, msg: JobMessage) -> Result:
    """Run one attempt of a job and say what should happen next."""
    definition = JOBS.get(msg.name)
    bound = log.bind(job_id=msg.job_id, job=msg.name, attempt=msg.attempt)
    if definition is None:
        return _dead(rt, msg, LookupError(f"unknown job {msg.name!r}"), bound)
    started = time.perf_counter()
    token, memo = _in_job.set(True), _memo.set({})
    with structlog.contextvars.bound_contextvars(job_id=msg.job_id):
        try:
            value = definition.fn(rt, **msg.kwargs)
        except Permanent as exc:
            return _dead(rt, msg, exc, bound)
        except Exception as exc:
            service = down_service(exc)
            if service is not None:
                return _wait_for(rt, msg, exc, service, bound)
            msg.outage_since = None
            if not isinstance(exc, Throttled):
                msg.throttled_since = None
            elif (waited := _throttled_for(msg)) < rt.settings.queue.throttle_budget_s:
                return _wait_throttled(rt, msg, exc, waited, bound)
            if msg.final:
                return _dead(rt, msg, exc, bound)
            wait = msg.next_wait(exc.wait_s if isinstance(exc, Retryable) else None)
            bound.warning("job.retry", error=_describe(exc), wait_s=wait)
            JOB_OUTCOMES.labels(msg.name, "retry").inc()
            return Result(Outcome.retry, exc, wait)
        finally:
            _in_job.reset(token)
            _memo.reset(memo)
            JOB_DURATION.labels(msg.name).observe(time.perf_counter() - started)
    msg.outage_since = msg.throttled_since = None
    JOB_OUTCOMES.labels(msg.name, "done").inc()
    return Result(Outcome.done, value=value)


def run_now(rt: Runtime, name: str, job_id: str, **kwargs: Any) -> None:
    """Run the job ``name`` here, inside the job at hand (called from a job: ``execute``),
    rather than as a job of its own: work that follows at once is spared a queue round trip
    and a job's own cost. If it
    fails, it is enqueued as ``job_id`` (after the wait a ``Retryable`` asked for) and runs
    as its own job, with its own retries, so the job at hand never fails for it. A job's
    time limit (RQ's timeout) is not caught: it ends the job at hand."""
    if not _in_job.get():
        # Called outside a job (an operator's command, the console): the caller is not
        # kept waiting for the follow-up; it is queued as before.
        rt.enqueue(name, job_id=job_id, **kwargs)
        return
    try:
        JOBS[name].fn(rt, **kwargs)
    except BaseTimeoutException:
        raise
    except Exception as exc:
        wait = (exc.wait_s or 0.0) if isinstance(exc, Retryable) else 0.0
        log.info("job.run_now_deferred", job=name, job_id=job_id, error=type(exc).__name__, wait_s=wait)
        rt.enqueue(name, job_id=job_id, delay_s=wait, **kwargs)


def _wait_for(rt: Runtime, msg: JobMessage, exc: BaseException, service: str, bound: Any) -> Result:
    """Wait for ``service`` without spending an attempt; dead once the outage has lasted
    ``queue.outage.give_up_s`` for this job (if the database takes the record then: if not,
    the queue drops the job and the inbox sweeper re-derives it from the database)."""
    policy = rt.settings.queue.outage
    now = time.time()
    since = msg.outage_since if msg.outage_since is not None else now
    waited = max(0.0, now - since)
    if waited >= policy.give_up_s:
        msg.outage_since = None
        return _dead(rt, msg, exc, bound, f"{service} down for {round(waited)} s: ")
    msg.outage_since = since
    wait = outage_wait(policy, waited)
    # One line, no traceback: during an outage every job says the same thing.
    bound.warning("job.service_down", service=service, error=type(exc).__name__, wait_s=wait)
    JOB_OUTCOMES.labels(msg.name, "wait").inc()
    return Result(Outcome.wait, exc, wait)


def _throttled_for(msg: JobMessage) -> float:
    """Seconds since this job's current run of throttles began (starting it now if none)."""
    now = time.time()
    if msg.throttled_since is None:
        msg.throttled_since = now
    return max(0.0, now - msg.throttled_since)


def _wait_throttled(rt: Runtime, msg: JobMessage, exc: Throttled, waited: float, bound: Any) -> Result:
    """Wait as the platform asked (or as for an outage when it named no wait), the attempt
    not spent."""
    wait = exc.wait_s if exc.wait_s else outage_wait(rt.settings.queue.outage, waited)
    bound.warning("job.throttled", error=_describe(exc), wait_s=wait)
    JOB_OUTCOMES.labels(msg.name, "wait").inc()
    return Result(Outcome.wait, exc, wait)


# A job's argument -> the model whose row names the account it works for.
_OWNED_BY = {
    "store_id": "Store",
    "order_id": "Order",
    "event_id": "InboxEvent",
    "shipment_id": "Shipment",
    "return_id": "Return",
}


def account_of(s: Any, kwargs: dict[str, Any]) -> int | None:
    """The account a job works for, from its arguments (None: a job of the whole service)."""
    from db import models

    if isinstance(kwargs.get("account_id"), int):
        return int(kwargs["account_id"])
    for arg, model in _OWNED_BY.items():
        value = kwargs.get(arg)
        if isinstance(value, int) and not isinstance(value, bool):
            row = s.get(getattr(models, model), value)
            owner = getattr(row, "account_id", None)
            return owner if isinstance(owner, int) else None
    return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _dead(rt: Runtime, msg: JobMessage, exc: BaseException, bound: Any, why: str = "") -> Result:
    bound.error("job.dead", error=why + _describe(exc))
    JOB_OUTCOMES.labels(msg.name, "dead").inc()
    with session_scope(rt.sessions) as s:
        s.add(
            DeadLetter(
                account_id=account_of(s, msg.kwargs),
                job_id=msg.job_id,
                name=msg.name,
                queue=msg.queue,
                kwargs=msg.kwargs,
                error=(why + _describe(exc))[:2000],
                attempts=msg.attempt,
            )
        )
    return Result(Outcome.dead, exc)

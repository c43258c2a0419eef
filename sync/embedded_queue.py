"""The embedded job queue: worker threads in the service's own process that behave like RQ
for Waybill's jobs (the shared parts: ``sync/queue.py``)."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from settings import Settings
from sync.jobs import JobMessage, Outcome, Result, execute
from sync.queue import HandOff, build_message, follow_up_id

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.queue")


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
        self._running_ids: set[str] = set()  # ids of the jobs running now
        # Set to a list to keep every attempt run (the CLI reports what it ran); None keeps nothing.
        self.record: list[JobRun] | None = None

    def enqueue(
        self,
        name: str,
        kwargs: dict[str, Any],
        job_id: str,
        delay_s: float = 0,
        queue: str | None = None,
        *,
        rerun: bool = False,
    ) -> bool:
        with self._cond:
            if job_id in self._running_ids and rerun:
                job_id = follow_up_id(job_id)  # it may have read what this run is for
                if job_id in self._running_ids:
                    job_id = follow_up_id(job_id)
            if job_id in self._live:
                return False
            msg = build_message(self.settings, name, kwargs, job_id, queue)
            self._live[job_id] = msg
            self._push(msg, delay_s)
        return True

    def _push(self, msg: JobMessage, delay_s: float) -> None:
        heapq.heappush(self._heap, (time.monotonic() + delay_s, next(self._seq), msg))
        self._cond.notify()

    def hand_off(self, name: str, kwargs: dict[str, Any], job_id: str, key: int | None = None) -> None:
        self.enqueue(name, kwargs, job_id=job_id)

    def hand_off_many(self, jobs: Sequence[HandOff]) -> None:
        """Enqueue each job (one queue, no partitions: the key is not used)."""
        for name, kwargs, job_id, _key in jobs:
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
                    msg = heapq.heappop(self._heap)[2]
                    self._running_ids.add(msg.job_id)
                    return msg
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
            self._running_ids.discard(msg.job_id)
            if result is not None and result.outcome in (Outcome.retry, Outcome.wait):
                if result.outcome is Outcome.retry:  # a wait for a service spends no attempt
                    msg.attempt += 1
                self._push(msg, result.wait_s)
            else:
                self._live.pop(msg.job_id, None)
            self._cond.notify_all()

"""bench/ingest's load generator: a few processes, each with a few threads that own one
keep-alive ``http.client`` connection apiece (a lean client, so it is not what limits).

Closed loop: every connection sends its next request as soon as the last one is
answered, for a fixed time; the rate reached is the saturating rate.
Open loop: request ``i`` is due at ``start + i / rate`` whatever happened before, and
its latency runs from that due time, so a stalled server shows as queueing instead
of slowing the client down (no coordinated omission).

Imports nothing from Waybill: the client stands for Shopify.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import multiprocessing as mp
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Linux's CLOCK_MONOTONIC, the same clock in every process, so due times can be shared.
now = time.monotonic


@dataclass(frozen=True)
class Target:
    """What every request sends: one signed body, with a fresh event id each time."""

    port: int
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Tally:
    """What one process saw."""

    sent: int = 0
    accepted: int = 0
    in_window: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    span_s: float = 0.0  # from the start to the last answer

    def merge(self, other: Tally) -> None:
        self.sent += other.sent
        self.accepted += other.accepted
        self.in_window += other.in_window
        self.errors += other.errors[: max(0, 5 - len(self.errors))]
        self.latencies_ms += other.latencies_ms
        self.cpu_s += other.cpu_s
        self.span_s = max(self.span_s, other.span_s)


class _Client:
    """One keep-alive connection; each request carries distinct Shopify event and webhook ids."""

    def __init__(self, target: Target, prefix: str) -> None:
        self.target, self.ids = target, (f"{prefix}-{n}" for n in itertools.count())
        self.conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)

    def send(self) -> str | None:
        """One request; ``None`` when it was answered 200 ``accepted``, else what went wrong."""
        event_id = next(self.ids)
        headers = {**self.target.headers, "X-Shopify-Event-Id": event_id, "X-Shopify-Webhook-Id": event_id}
        try:
            self.conn.request("POST", self.target.path, body=self.target.body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            return f"{type(exc).__name__}: {exc}"
        if resp.will_close:
            self.conn.close()  # http.client reopens it on the next request
        if resp.status != 200 or json.loads(data or b"{}").get("status") != "accepted":
            return f"{resp.status} {data[:200]!r}"
        return None


def _closed_thread(client: _Client, end: float, tally: Tally, lock: threading.Lock) -> None:
    sent = accepted = in_window = 0
    errors: list[str] = []
    while now() < end:
        error = client.send()
        sent += 1
        if error is None:
            accepted += 1
            in_window += now() <= end
        elif len(errors) < 5:
            errors.append(error)
    with lock:
        tally.merge(Tally(sent, accepted, in_window, errors))


def _open_thread(client: _Client, slots: Iterator[float], tally: Tally, lock: threading.Lock) -> None:
    latencies: list[float] = []
    errors: list[str] = []
    accepted = 0
    for due in slots:
        delay = due - now()
        if delay > 0:
            time.sleep(delay)
        error = client.send()
        latencies.append((now() - due) * 1000)
        if error is None:
            accepted += 1
        elif len(errors) < 5:
            errors.append(error)
    with lock:
        tally.merge(Tally(len(latencies), accepted, accepted, errors, latencies))


class _Slots:
    """This process's share of the schedule, handed to whichever thread is free next."""

    def __init__(self, due_times: list[float]) -> None:
        self._it, self._lock = iter(due_times), threading.Lock()

    def __iter__(self) -> Iterator[float]:
        return self

    def __next__(self) -> float:
        with self._lock:
            return next(self._it)


def _process(job: dict[str, Any], ready: Any, go: Any, start: Any, out: Any) -> None:
    threads, lock, tally = job["threads"], threading.Lock(), Tally()
    prefix = f"{job['tag']}-{uuid.uuid4().hex[:8]}"
    clients = [_Client(job["target"], f"{prefix}-{t}") for t in range(threads)]
    ready.put(1)
    go.wait()
    t0, cpu0 = start.value, time.process_time()
    if job["rate"]:
        rate, idx, count = job["rate"], job["index"], int(job["rate"] * job["duration"])
        slots = _Slots([t0 + i / rate for i in range(idx, count, job["processes"])])
        run: Callable[[_Client], Any] = lambda c: _open_thread(c, slots, tally, lock)  # noqa: E731
    else:
        run = lambda c: _closed_thread(c, t0 + job["duration"], tally, lock)  # noqa: E731
    workers = [threading.Thread(target=run, args=(c,)) for c in clients]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    tally.cpu_s, tally.span_s = time.process_time() - cpu0, now() - t0
    out.put(tally)


def run_load(
    target: Target, tag: str, duration: float, processes: int, threads: int, rate: float = 0.0
) -> Tally:
    """Closed loop for ``duration`` s (``rate`` 0), else open loop at ``rate`` requests/s."""
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    start = ctx.Value("d", 0.0)
    base = {"target": target, "tag": tag, "duration": duration, "threads": threads, "rate": rate}
    jobs = [{**base, "index": i, "processes": processes} for i in range(processes)]
    procs = [ctx.Process(target=_process, args=(job, ready, go, start, out)) for job in jobs]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    start.value = now() + 0.05
    go.set()
    total = Tally()
    for _ in procs:
        total.merge(out.get(timeout=duration + 120))
    for p in procs:
        p.join()
    return total


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]

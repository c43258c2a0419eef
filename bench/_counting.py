"""Counts of a Waybill process's work, for the benchmarks' detail lines.

Not imported by Waybill: a benchmark copies this file as ``sitecustomize.py`` into a
directory it puts on the ``PYTHONPATH`` of the processes it starts (gunicorn, the
workers, the scheduler), so the same counts are taken on the code of any git ref
(``--baseline``). In each process it counts the SQL statements sent through SQLAlchemy
(every engine), the transactions committed, and reads the job attempts Waybill's own
``waybill_jobs_total`` counter holds; a thread writes them, with the process's role, to
``$WAYBILL_BENCH_COUNT_DIR/<pid>.json`` every half second (``snapshot`` adds them up).
A forked child (gunicorn's workers) starts counting afresh under its own pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

EVERY_S = 0.5
_counts: Counter[str] = Counter()
_lock = threading.Lock()


def _role() -> str:
    argv = " ".join(sys.argv)
    if "gunicorn" in argv:
        return "web"
    if "worker.py" in argv:
        return "scheduler" if "--scheduler" in argv else "worker"
    return "other"


def _jobs() -> dict[str, float]:
    """Job attempts by ``job:outcome`` from Waybill's counter, if this process imported it."""
    telemetry = sys.modules.get("telemetry")
    counter = getattr(telemetry, "JOB_OUTCOMES", None)
    if counter is None:
        return {}
    out: dict[str, float] = {}
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                out[f"{sample.labels['job']}:{sample.labels['outcome']}"] = sample.value
    return out


def _write(directory: Path) -> None:
    with _lock:
        counts = dict(_counts)
    data: dict[str, Any] = {"role": _role(), "counts": counts, "jobs": _jobs()}
    path = directory / f"{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _loop(directory: Path) -> None:
    while True:
        time.sleep(EVERY_S)
        with contextlib.suppress(Exception):  # a count is not worth a process
            _write(directory)


def _start_thread() -> None:
    directory = Path(os.environ["WAYBILL_BENCH_COUNT_DIR"])
    threading.Thread(target=_loop, args=(directory,), name="bench-counting", daemon=True).start()


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _counts.clear()
    _start_thread()


def _listen() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def statement(*_args: Any, **_kw: Any) -> None:
        _counts["statements"] += 1

    def commit(*_args: Any, **_kw: Any) -> None:
        _counts["commits"] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "commit", commit)


def snapshot(directory: str) -> dict[str, Counter[str]]:
    """The counts written so far, added up per role (``web``, ``worker``, ``scheduler``):
    ``statements``, ``commits`` and ``job:<name>:<outcome>`` attempts."""
    totals: dict[str, Counter[str]] = {}
    for path in Path(directory).glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        total = totals.setdefault(data["role"], Counter())
        total.update(data["counts"])
        total.update({f"job:{k}": v for k, v in data["jobs"].items()})
    return totals


if os.environ.get("WAYBILL_BENCH_COUNT_DIR") and __name__ == "sitecustomize":
    try:
        _listen()
    except ImportError:
        pass
    else:
        os.register_at_fork(after_in_child=_after_fork)
        _start_thread()

"""Test jobs registered for one test, with retries and outage waits of a few milliseconds: the
set-up the tests of the job machinery share (retries, throttles, outages, follow-up steps)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select

from db.models import DeadLetter
from sync.jobs import JOBS, JobDef


def quick_queue(retries: int, outage: bool = False) -> dict[str, Any]:
    """``queue`` settings: one attempt and ``retries`` retries 10 ms apart, no jitter, no queue's
    own retries; with ``outage``, outage waits of 10 to 20 ms (giving up after an hour)."""
    queue: dict[str, Any] = {
        "retry": {"max": retries, "base_s": 0.01, "factor": 1.0, "jitter": 0.0},
        "retry_by_queue": {},
    }
    if outage:
        queue["outage"] = {"base_s": 0.01, "max_s": 0.02, "give_up_s": 3600}
    return queue


@contextmanager
def registered(config: dict[str, Any], *jobs: JobDef, retries: int, outage: bool = False) -> Iterator[None]:
    """``jobs`` in the job registry while the block runs, ``config`` (before the app is built)
    set to :func:`quick_queue`'s retries."""
    config["queue"] = quick_queue(retries, outage)
    for definition in jobs:
        JOBS[definition.name] = definition
    try:
        yield
    finally:
        for definition in jobs:
            JOBS.pop(definition.name, None)


def dead_letters(rt: Any) -> list[DeadLetter]:
    """Every dead letter, in the order written."""
    with rt.session() as s:
        return list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))

"""Operator jobs: dead-letter retries and the end-to-end ping."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from sqlalchemy import select

from db.models import DeadLetter, TimelineEntry, utcnow
from db.timeline import record
from sync.jobs import job

if TYPE_CHECKING:
    from sync.runtime import Runtime


@job("requeue_dead_letters", queue="reconcile")
def requeue_dead_letters(rt: Runtime) -> int:
    """Enqueue again the dead jobs an operator asked to retry (`flask jobs retry`)."""
    with rt.session() as s:
        rows = list(s.scalars(select(DeadLetter).where(DeadLetter.state == "retry_requested").limit(500)))
        count = 0
        for row in rows:
            rt.queue.enqueue(row.name, dict(row.kwargs), job_id=row.job_id)
            row.state = "retried"
            row.retried_at = utcnow()
            count += 1
    return count


def retry_dead_letter(
    rt: Runtime, dead_letter_id: int, account_id: int | None = None, actor: str | None = None
) -> bool:
    """Run a failed job again with a fresh set of retries (``waybill jobs retry`` and the
    console's failed-jobs page). ``account_id``: only a job of that account (the console);
    ``actor``: who asked, on the account's timeline. False when there is no such failed job."""
    with rt.session() as s:
        row = s.get(DeadLetter, dead_letter_id, with_for_update=True)
        if row is None or row.state != "dead" or (account_id is not None and row.account_id != account_id):
            return False
        row.state = "retry_requested"
        if actor is not None:
            record(s, row.account_id, f"job:{row.id}", actor, "job.retried", f"{row.name} ({row.job_id})")
    requeue_dead_letters(rt)
    return True


@job("ping", queue="reconcile")
def ping(rt: Runtime, token: str) -> str:
    """Prove the pipeline end to end: a worker writes a timeline entry the caller waits for."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with rt.session() as s:
        s.add(
            TimelineEntry(
                subject=f"ping:{token}", actor=f"worker:{worker}", action="ping", reason="jobs ping"
            )
        )
    return worker


@job("noop", queue="intake")
def noop(rt: Runtime) -> None:
    """Does nothing; measures the job machinery itself (bench/queue_overhead)."""

"""Operator jobs: dead-letter retries and the end-to-end ping."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from sqlalchemy import select

from db.models import DeadLetter, TimelineEntry, utcnow
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

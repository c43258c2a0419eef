"""Console area: failed jobs (staff).

The account's dead letters (jobs that exhausted their retries or failed for good): the
job, its error, attempts and when it failed, newest first, a page at a time; **Retry**
runs one again with a fresh set of retries (``sync.maintenance.retry_dead_letter``, the
same function as ``waybill jobs retry``). The CLI has no discard, so neither has the page.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from sqlalchemy import func, select

from db.models import DeadLetter, Role
from sync.maintenance import retry_dead_letter
from web import runtime
from web.console import bp, page, render

PAGE_SIZE = 50


@bp.get("/app/jobs")
@page(Role.staff)
def jobs() -> Any:
    number = max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))
    with runtime().session() as s:
        mine = (DeadLetter.account_id == g.account_id, DeadLetter.state == "dead")
        total = s.scalar(select(func.count(DeadLetter.id)).where(*mine)) or 0
        rows = list(
            s.scalars(
                select(DeadLetter)
                .where(*mine)
                .order_by(DeadLetter.failed_at.desc(), DeadLetter.id.desc())
                .limit(PAGE_SIZE)
                .offset((number - 1) * PAGE_SIZE)
            )
        )
        items = [
            {
                "id": r.id,
                "name": r.name,
                "job_id": r.job_id,
                "queue": r.queue,
                "error": r.error,
                "attempts": r.attempts,
                "failed_at": r.failed_at,
                "args": ", ".join(f"{k}={v}" for k, v in sorted((r.kwargs or {}).items())),
            }
            for r in rows
        ]
    return render(
        "jobs.html",
        items=items,
        total=total,
        page=number,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


@bp.post("/app/jobs/<int:dead_letter_id>/retry")
@page(Role.staff)
def job_retry(dead_letter_id: int) -> Any:
    if not retry_dead_letter(runtime(), dead_letter_id, account_id=g.account_id, actor=g.actor):
        abort(404)  # not a failed job of this account (another's, or already retried)
    flash(f"Job {dead_letter_id} queued again with a fresh set of retries.", "ok")
    return redirect(url_for("console.jobs"), code=303)

"""``resume_returns`` (``schedules`` in config.yaml): the returns' work re-derived from the
database, so a lost queue message (a Redis restart, a dead worker) loses no return.

Re-enqueued (each job does nothing when its step is done): the label of an approved
return whose merchant prepays labels and that has none and no problem noted; the refund
or exchange of a return past approval that is not finished and not held; the
write-back of every return changed in the last day.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from core.returns import ReturnState
from db.models import Return, utcnow
from sync.jobs import job
from sync.returns.common import soon

if TYPE_CHECKING:
    from sync.runtime import Runtime

BATCH = 500
WAITING = (ReturnState.in_transit, ReturnState.received, ReturnState.inspected)


@job("resume_returns", queue="returns")
def resume_returns(rt: Runtime) -> dict[str, int]:
    """Re-enqueue the returns' unfinished work; counts per job."""
    since = utcnow() - timedelta(days=1)
    with rt.session() as s:
        labels = list(
            s.scalars(
                select(Return.id)
                .where(Return.state == ReturnState.approved, Return.label.is_(None), Return.problem.is_(None))
                .limit(BATCH)
            )
        )
        refunds = list(
            s.scalars(
                select(Return.id).where(Return.state.in_(WAITING), Return.hold_reason.is_(None)).limit(BATCH)
            )
        )
        changed = list(s.scalars(select(Return.id).where(Return.updated_at >= since).limit(BATCH)))
    for return_id in labels:
        soon(rt, "buy_return_label", return_id)
    for return_id in refunds:
        soon(rt, "refund_return", return_id, "sweep")
    for return_id in changed:
        soon(rt, "write_back_return", return_id, "sweep")
    return {"buy_return_label": len(labels), "refund_return": len(refunds), "write_back_return": len(changed)}

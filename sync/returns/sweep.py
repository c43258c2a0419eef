"""``resume_returns`` (``schedules`` in config.yaml): the returns' work re-derived from the
database, so a lost queue message (a Redis restart, a dead worker) loses no return.

Re-enqueued (each job does nothing when its step is done): the label of an approved
return whose merchant prepays labels and that has none and no problem noted; the refund
or exchange of a return past approval that is not finished and not held; the
write-back of a return changed in the last day whose state was not told yet (its note is
not done in the effects ledger).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.returns import ReturnState
from db.models import Effect, EffectState, Return
from sync.jobs import job
from sync.returns.common import soon

if TYPE_CHECKING:
    from sync.runtime import Runtime

BATCH = 500
WAITING = (ReturnState.in_transit, ReturnState.received, ReturnState.inspected)


# The note each state is told in (sync/returns/write_back.py ``STEPS``): done, the
# write-back of that state is done.
NOTE_OF = {
    ReturnState.refused: "refused",
    ReturnState.approved: "approved",
    ReturnState.label_sent: "label_sent",
    ReturnState.in_transit: "label_sent",
    ReturnState.received: "received",
    ReturnState.inspected: "inspected",
    ReturnState.refunded: "settled",
    ReturnState.exchanged: "settled",
    ReturnState.closed: "closed",
}


def _not_written(s: Session, rows: list[Any]) -> list[int]:
    """The returns whose current state's note is not in the effects ledger as done."""
    keys = {f"retnote:{rid}:{NOTE_OF[ReturnState(state)]}": rid for rid, state in rows if state in NOTE_OF}
    if not keys:
        return []
    done = set(
        s.scalars(select(Effect.key).where(Effect.key.in_(list(keys)), Effect.state == EffectState.done))
    )
    return [rid for key, rid in keys.items() if key not in done]


@job("resume_returns", queue="returns")
def resume_returns(rt: Runtime) -> dict[str, int]:
    """Re-enqueue the returns' unfinished work; counts per job."""
    since = rt.now() - timedelta(days=1)
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
        changed = _not_written(
            s, list(s.execute(select(Return.id, Return.state).where(Return.updated_at >= since).limit(BATCH)))
        )
    for return_id in labels:
        soon(rt, "buy_return_label", return_id)
    for return_id in refunds:
        soon(rt, "refund_return", return_id, "sweep")
    for return_id in changed:
        soon(rt, "write_back_return", return_id, "sweep")
    return {"buy_return_label": len(labels), "refund_return": len(refunds), "write_back_return": len(changed)}

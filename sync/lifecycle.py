"""``advance``: the one way a flow changes an order's stage.

It refuses a move the life cycle (core/lifecycle.py) does not have, sets the stage and
says why on the order's timeline (``order.<stage>`` by default), in the caller's
transaction. Moves are counted in ``waybill_order_moves_total`` once that transaction
commits (a rolled-back move is not counted).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.lifecycle import Stage, check
from db.models import Order as OrderRow
from db.models import utcnow
from db.timeline import record
from telemetry import ORDER_MOVES

_MOVES = "waybill.order_moves"  # Session.info key: moves made in the open transaction


def advance(
    s: Session,
    row: OrderRow,
    to: Stage,
    actor: str,
    reason: str | None,
    data: Any = None,
    action: str | None = None,
) -> None:
    """Move the order to ``to`` and record it (``IllegalTransition`` for a move not in the table)."""
    stage = check(row.stage, to)
    row.stage = stage.value
    row.updated_at = utcnow()
    record(s, row.account_id, f"order:{row.id}", actor, action or f"order.{stage}", reason, data)
    s.info.setdefault(_MOVES, []).append(stage)


def storefront_cancelled(s: Session, row: OrderRow, actor: str, reason: str) -> None:
    """The storefront cancelled the order: ``order.cancelled`` on its timeline, and the stage
    cancelled, except a rejected order's (the storefront cancelled it because we asked)."""
    if row.stage == Stage.REJECTED:
        record(s, row.account_id, f"order:{row.id}", actor, "order.cancelled", reason)
    else:
        advance(s, row, Stage.CANCELLED, actor, reason)


@event.listens_for(Session, "after_commit")
def _count_moves(s: Session) -> None:
    if s.in_nested_transaction():  # a savepoint: the transaction may still roll back
        return
    for stage in s.info.pop(_MOVES, ()):
        ORDER_MOVES.labels(str(stage)).inc()


@event.listens_for(Session, "after_rollback")
def _forget_moves(s: Session) -> None:
    if s.in_nested_transaction():  # a savepoint: its moves stay counted with the transaction
        return
    s.info.pop(_MOVES, None)

"""A reconciliation of every store after Waybill refused storefront webhooks (503) because
its database was down.

Two things go wrong without it. Some platforms never send a refused delivery again, so their
orders reach Waybill only by polling. And a channel's own level change (its sale lowered
it) read back before the refused order is in would be taken for a merchant edit, and the
order's units taken off again when it arrives: the stock settles must wait for the
missed orders, as they do after a restart (``sync.reconcile.owe_reconciliation``).

So a storefront receiver that answers 503 sets a flag in Redis (up while PostgreSQL is
not; :func:`note_refused`), and the scheduler, each round (:func:`reconcile_after_refusals`):
notes on every active store that a reconciliation is owed (settles wait for it) and queues
``reconcile_all`` now. While the database is still down the flag stays for the next round;
a refusal after the reconciliation was queued sets it again, for one more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.refused")
OWED_KEY = "waybill:reconcile_owed"
RECONCILE_JOB_ID = "periodic-reconcile_all"  # the scheduler's own id: never doubled


def _redis(rt: Runtime) -> Any:
    """The queue's Redis connection; None in embedded mode (no Redis: the periodic
    reconciliation finds what was refused)."""
    return getattr(rt.queue, "connection", None)


def note_refused(rt: Runtime) -> None:
    """Remember that a storefront webhook was answered 503. Never raises: Redis may be away
    too, and then the scheduler's reconciliation when it regains Redis is the net."""
    redis = _redis(rt)
    if redis is None:
        return
    try:
        redis.set(OWED_KEY, b"1")
    except Exception as exc:
        log.warning("webhook.refusal_not_noted", error=type(exc).__name__)


def reconcile_after_refusals(rt: Runtime) -> bool:
    """Owe every store a reconciliation and queue it, if a refusal was noted (see the module's
    docstring); whether one was queued. Raises when the database or Redis cannot be reached
    (the flag is kept)."""
    from sync.reconcile import owe_reconciliation

    redis = _redis(rt)
    if redis is None or not redis.exists(OWED_KEY) or rt.queue.is_live(RECONCILE_JOB_ID):
        return False  # none noted, or one queued or running (it may have polled before): after it
    redis.delete(OWED_KEY)
    try:
        stores = owe_reconciliation(rt)
        queued = rt.queue.enqueue("reconcile_all", {}, job_id=RECONCILE_JOB_ID)
    except BaseException:
        redis.set(OWED_KEY, b"1")
        raise
    if not queued:  # one was queued meanwhile
        redis.set(OWED_KEY, b"1")
        return False
    log.info("reconcile.after_refusals", stores=stores)
    return True

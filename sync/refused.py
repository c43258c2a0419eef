"""Stores owed a reconciliation because Waybill refused their webhooks while its database
was down.

WooCommerce never sends a delivery again after a failure (``docs/operations.md``,
"Drills"): an order whose webhook was answered 503 reaches Waybill only by polling. So a
WooCommerce receiver that answers 503 notes the store in Redis (up while PostgreSQL is
not), and the scheduler queues the reconciliation of every noted store each round
(:func:`enqueue_owed`), with the same job id as the periodic one, so one still queued or
running is never doubled. One that starts before the database is back waits for it
(``queue.outage``); a store refused again meanwhile stays noted and is reconciled once
more after it. Shopify sends a refused delivery again on its own schedule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from sync.jobs import safe_job_id

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.refused")
OWED_KEY = "waybill:reconcile_owed"
MAX_NOTED = 10_000  # store ids kept at most (they come from unauthenticated URLs)
PER_ROUND = 100  # reconciliations queued per scheduler round at most


def _redis(rt: Runtime) -> Any:
    """The queue's Redis connection; None in embedded mode (no Redis: the periodic
    reconciliation finds what was refused)."""
    return getattr(rt.queue, "connection", None)


def note_refused(rt: Runtime, store_id: int) -> None:
    """Remember that a delivery to ``store_id`` was answered 503. Never raises: Redis may
    be away too, and then the periodic reconciliation is the net."""
    redis = _redis(rt)
    if redis is None:
        return
    try:
        if redis.scard(OWED_KEY) < MAX_NOTED:
            redis.sadd(OWED_KEY, store_id)
    except Exception as exc:
        log.warning("webhook.refusal_not_noted", store_id=store_id, error=type(exc).__name__)


def enqueue_owed(rt: Runtime) -> int:
    """Queue the reconciliation of each noted store (see the module's docstring); returns
    how many were queued. A store whose reconciliation is still live stays noted."""
    redis = _redis(rt)
    if redis is None:
        return 0
    queued, keep = 0, [int(raw) for raw in redis.spop(OWED_KEY, PER_ROUND) or []]
    try:
        for store_id in list(keep):
            job_id = safe_job_id("reconcile-store", store_id)
            if rt.enqueue("reconcile_store", job_id=job_id, store_id=store_id):
                queued += 1
                keep.remove(store_id)
    finally:  # still live, or not reached when Redis failed midway
        if keep:
            redis.sadd(OWED_KEY, *keep)
    if queued:
        log.info("reconcile.owed_after_refusals", stores=queued)
    return queued

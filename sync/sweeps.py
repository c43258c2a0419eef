"""The safety-net sweeps that run on a schedule of their own (``schedules`` in config.yaml).

Each re-derives lost work from the database: a job that died, a hand-off that Redis lost,
an observation nobody settled. The functions live with their flows; these are their job
entry points, so that each sweep is one named schedule with its own interval and queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync import pipeline, shipping, stock_settle
from sync.jobs import job

if TYPE_CHECKING:
    from sync.runtime import Runtime


@job("settle_overdue", queue="inventory")
def settle_overdue(rt: Runtime) -> int:
    """Settle every store's channel observations overdue for it; returns how many stores."""
    return stock_settle.settle_due(rt)


@job("resume_shipping", queue="shipping")
def resume_shipping(rt: Runtime) -> int:
    """Enqueue shipping for ready or packed orders, and the write-back of bought labels, left
    without a live job; returns how many jobs were enqueued."""
    return shipping.resume_stalled(rt)


@job("resume_verification", queue="orders")
def resume_verification(rt: Runtime) -> int:
    """Enqueue the verification of paid orders left received or verifying without a live job;
    returns how many orders were found."""
    return pipeline.resume_stalled(rt)

"""What a CLI command's follow-up work becomes in each run mode.

A command that changes an order (approve, reject, pack, ship run, a dead letter's
retry) enqueues the jobs that carry the order on. In production mode (``REDIS_URL``)
they go to Redis and the workers run them, as from the web app. In embedded mode
the service's queue lives inside the service's process, out of the CLI's reach, so
the command runs the jobs itself before it returns, in this process, and says so:

    approved order 12; ran its next steps here: decision written back to the storefront,
    1 label bought, fulfilment written back to the storefront; order 12 is now fulfilled

Running here is safe beside a running service: every outside effect goes through the
effects ledger (a claim in the database before the call, the outcome recorded after),
so if the service's sweeper picks up the same work it finds it done, and every job
starts by reading the stage it expects. Work that must wait longer (a storefront that
is down: a retry with backoff) is left to the service's sweeper, and the command says
which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import click
import requests
from sqlalchemy import func, select

from db.models import Order, Shipment
from sync.embedded_queue import EmbeddedJobQueue, JobRun
from sync.jobs import JobMessage
from sync.runtime import Runtime

WAIT_S = 5.0  # a retry due within this long is waited for; a later one is left to the service
TIMEOUT_S = 120.0  # the most a command spends on follow-up work
# What a finished job did, in the words an operator reads.
DONE_WORDS = {
    "write_back_verdict": "decision written back to the storefront",
    "write_back_fulfillment": "fulfilment written back to the storefront",
    "cancel_on_storefront": "cancelled on the storefront",
    "stop_order": "pipeline stopped",
    "push_stock": "stock pushed to the channels",
    "settle_stock": "channel stock settled",
    "verify_order": "verified",
    "process_inbox_event": "event processed",
    "ping": "ping answered",
    "write_back_return": "return written back to the storefront",
    "buy_return_label": "return label run",
    "refund_return": "refund run",
    "ship_exchange": "exchange parcel run",
}


@dataclass
class FollowUp:
    """What :func:`run_follow_up` did: the attempts run here, and the jobs left for later."""

    ran: list[JobRun] = field(default_factory=list)
    left: list[JobMessage] = field(default_factory=list)
    timed_out: bool = False


def embedded_queue(rt: Runtime) -> EmbeddedJobQueue | None:
    return rt.queue if isinstance(rt.queue, EmbeddedJobQueue) else None


def run_follow_up(rt: Runtime, timeout_s: float = TIMEOUT_S) -> FollowUp | None:
    """Embedded mode: run the jobs this process enqueued, and theirs; None in production mode."""
    queue = embedded_queue(rt)
    if queue is None:
        return None
    done = FollowUp()
    queue.record = done.ran
    started = time.monotonic()
    try:
        done.left = queue.run_due(wait_s=WAIT_S, timeout_s=timeout_s)
    finally:
        queue.record = None
    done.timed_out = time.monotonic() - started >= timeout_s
    return done


def _labels(rt: Runtime, ran: list[JobRun]) -> int:
    """Labels bought by the ship_order attempts that ran (parcels that now have a tracking code)."""
    order_ids = {int(r.kwargs["order_id"]) for r in ran if r.name == "ship_order" and r.outcome == "done"}
    if not order_ids:
        return 0
    with rt.session() as s:
        count = s.scalar(
            select(func.count(Shipment.id)).where(
                Shipment.order_id.in_(order_ids), Shipment.tracking_code.is_not(None)
            )
        )
    return int(count or 0)


def _written_back(rt: Runtime, ran: list[JobRun]) -> bool:
    """Whether a parcel of an order whose ship_order ran here is now written back."""
    order_ids = {int(r.kwargs["order_id"]) for r in ran if r.name == "ship_order" and r.outcome == "done"}
    if not order_ids:
        return False
    with rt.session() as s:
        count = s.scalar(
            select(func.count(Shipment.id)).where(
                Shipment.order_id.in_(order_ids), Shipment.state == "fulfilled"
            )
        )
    return bool(count)


def describe(rt: Runtime, done: FollowUp) -> str:
    """One phrase for what ran here and what did not."""
    steps: list[str] = []
    for run in done.ran:
        if run.outcome != "done":
            continue
        if run.name == "ship_order":
            words = f"shipping run ({run.value})"
        else:
            words = DONE_WORDS.get(run.name, run.name.replace("_", " "))
        if words not in steps:
            steps.append(words)
    labels = _labels(rt, done.ran)
    if labels:
        steps = [f"label bought for {labels} parcel(s)" if s.startswith("shipping run") else s for s in steps]
    # The shipping job writes its parcels back in place (``run_now``): no job of their own ran.
    fulfilled = DONE_WORDS["write_back_fulfillment"]
    if fulfilled not in steps and _written_back(rt, done.ran):
        steps.append(fulfilled)
    failed = sorted({f"{r.name} failed ({r.error})" for r in done.ran if r.outcome in ("dead", "crashed")})
    text = "ran its next steps here: " + (", ".join(steps) if steps else "nothing was due")
    if failed:
        text += "; " + "; ".join(failed) + " (see `jobs failed`)"
    if done.left:
        names = ", ".join(sorted({m.name for m in done.left}))
        text += f"; left for the running service to retry: {names}"
    if done.timed_out:
        text += "; stopped waiting after the time limit"
    return text


def report(rt: Runtime, headline: str, order_id: int | None = None) -> None:
    """Run the follow-up work (embedded) or say it was enqueued (production), after ``headline``."""
    done = run_follow_up(rt)
    if done is None:
        click.echo(f"{headline}; its next steps are queued for the workers (production mode)")
        return
    text = f"{headline}; {describe(rt, done)}"
    if order_id is not None:
        with rt.session() as s:
            order = s.get(Order, order_id)
            if order is not None:
                held = f" (held: {order.hold_reason})" if order.hold_reason else ""
                text += f"; order {order_id} is now {order.stage}{held}"
    click.echo(text)


def service_url(rt: Runtime) -> str:
    """Where an embedded service started from these settings answers, on loopback."""
    return f"http://127.0.0.1:{rt.settings.port}"


def service_status(rt: Runtime, timeout_s: float = 2.0) -> tuple[bool | None, str]:
    """Ask the embedded service's ``/readyz``: (True ready, False not ready, None none answers), and why."""
    base = service_url(rt)
    url = f"{base}/readyz"
    try:
        answer = requests.get(url, timeout=timeout_s, allow_redirects=False)
    except requests.RequestException:
        return None, f"no service answers at {url}"
    body: Any
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "status" not in body:
        return False, f"{url} answered {answer.status_code}, not a Waybill readiness answer"
    if answer.status_code == 200 and body.get("status") == "ready":
        return True, f"the service at {base} is ready (its database and worker threads answer)"
    down = ", ".join(sorted(body.get("down") or {})) or "unknown"
    return False, f"the service at {base} is not ready (down: {down})"

"""bench/tracking's platforms: bench/pipeline's sandbox Shopify and WooCommerce, and an
EasyPost simulator whose trackers move on a fake clock that only the parent moves.

Run as a child process (``start``), so the simulators' CPU is theirs. The parent drives it
through a pipe: place orders (bench/pipeline's catalog and carts), register the EasyPost
webhook, move the carrier's clock (scan by scan at a wall-clock pace, or a stretch at
once), and read what the storefronts hold.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from bench import _pipeline_sandbox as pipeline
from bench._child import Child

TRACKER_UPDATED = "tracker.updated"
EVENT_MARKER = "[waybill event:"  # the WooCommerce customer note of a tracking event


def start() -> Child:
    """The platforms' process; ``info`` holds their URLs and the credentials Waybill needs."""
    return Child(_main, name="bench-tracking-sandbox")


def _main(conn: Connection) -> None:
    from sandbox.harness import FakeClock

    # the carrier's time moves only when the parent says
    shopify, woo, easypost = pipeline.platforms("Bench Pipeline", FakeClock(start=time.time()))
    methods = carrier_methods(easypost) | {
        "steady": lambda rate, wall_s: _steady(easypost, rate, wall_s),
        "tracking": lambda: _tracking(shopify, woo, easypost),
    }
    pipeline.serve_platforms(conn, shopify, woo, easypost, methods)


def carrier_methods(easypost: Any) -> dict[str, Callable[..., Any]]:
    """The parent's handles on the carrier: register its webhook, move its clock, and how far
    the journeys still go."""
    return {
        "hook": lambda url: easypost.events.create_webhook("test", {"url": url})["id"],
        "advance": lambda seconds, step_s: _advance(easypost, seconds, step_s),
        "journeys_left_s": lambda: _journeys_left_s(easypost),
    }


def _updates(easypost: Any) -> int:
    """``tracker.updated`` Events the carrier has emitted so far."""
    with easypost._lock:
        return sum(plan.updates for plan in easypost.tracking.plans.values())


def _advance(easypost: Any, seconds: float, step_s: float | None) -> int:
    """Move the carrier's clock ``seconds`` (ticking every ``step_s``); the Events it emitted."""
    before = _updates(easypost)
    easypost.advance(seconds, step_s)
    return _updates(easypost) - before


def _steady(easypost: Any, rate: float, wall_s: float) -> dict[str, Any]:
    """For ``wall_s`` seconds of wall time, every ``1 / rate`` s move the carrier's clock to its
    next scan, so its Event goes out then: Events at a steady rate, whatever the scans' spacing
    in carrier time. Returns the Events emitted, the wall time taken and how late the pace ran."""
    period = 1.0 / rate
    started = time.perf_counter()
    sent, late_max, due = 0, 0.0, started
    while due - started < wall_s:
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # pacing the load generator, not waiting for a result
        else:
            late_max = max(late_max, -pause)
        with easypost._lock:
            next_at = easypost.tracking.next_scan_at()
        if next_at is None:
            break  # every parcel is home
        sent += _advance(easypost, max(0.0, next_at - easypost.clock.now()), None)
        due += period
    return {"events": sent, "wall_s": time.perf_counter() - started, "late_max_s": late_max}


def _journeys_left_s(easypost: Any) -> float:
    """Carrier seconds until the last planned scan of any tracker (0: nothing moves any more)."""
    with easypost._lock:
        plans = easypost.tracking.plans.values()
        last = max((p.scans[-1].at for p in plans if p.applied < len(p.scans)), default=None)
        return 0.0 if last is None else max(0.0, last - easypost.clock.now())


def _tracking(shopify: Any, woo: Any, easypost: Any) -> dict[str, Any]:
    """What the storefronts hold of the tracking write-backs, and what the carrier sent."""
    with shopify._lock:
        fulfilments = list(shopify.shops[pipeline.SHOP].fulfillments.values())
        events = {f.id: [(e["status"], e["happenedAt"]) for e in f.events] for f in fulfilments}
        calls = {f.id: f.event_calls for f in fulfilments}
    with woo._lock:
        tags = Counter(
            (n["order_id"], line)
            for n in woo.store.notes.values()
            for line in str(n["note"]).splitlines()
            if line.startswith(EVENT_MARKER)
        )
    with easypost._lock:
        trackers = easypost.tracking.trackers.values()
        states = Counter(str(t["status"]) for t in trackers)
    return {
        "shopify_events": {str(fid): evs for fid, evs in events.items()},
        "shopify_event_calls": {str(fid): n for fid, n in calls.items()},
        "woo_event_notes": sum(tags.values()),
        "woo_duplicate_notes": sum(n - 1 for n in tags.values() if n > 1),
        "tracker_states": dict(states),
        "updates_sent": _updates(easypost),
    }

"""``refresh_tracking`` (scheduled, queue tracking): missed Events recovered, late and stalled
parcels caught.

Each run, over the parcels on their way (a label bought, not voided, not done moving),
``REFRESH_BATCH`` at a time in id order within ``REFRESH_BUDGET_S``:

1. a parcel not heard from (no Event, no refresh) for longer than its route's usual gap
   between scans has its tracker retrieved and applied as an Event would be
   (sync/tracking/events.py), so a lost webhook costs one refresh interval;
2. every parcel is checked against its estimate (``late`` past ``tracking.late_grace_h``)
   and its route's stall threshold (``stalled``); a new exception keeps the threshold and
   the last scan's time in its ``data``, and ``push_tracking`` is enqueued (notices).

Thresholds come from :func:`thresholds_for`, once per run per route key (carrier, service,
route class): the seam to ``core.transit`` (stall_threshold and usual_gap over the gaps
learned from ``tracking_scans``). Until that is wired it answers the configured default:
``tracking.default_gap_h`` hours as the stall threshold, half of it as the usual gap.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import or_, select

from core.errors import Permanent, Retryable
from core.tracking import STATE_KINDS, WAITING, DeliveryState, Finding, late_finding, stall_finding
from db.models import Shipment
from sync.jobs import job
from sync.tracking import exceptions
from sync.tracking.events import apply_report, push_soon

if TYPE_CHECKING:
    from connectors.easypost.client import EasyPost
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.tracking")
REFRESH_BATCH = 200  # parcels read per round
REFRESH_BUDGET_S = 600.0  # a run starts no round after this long (the interval is 900 s)
ON_THE_WAY = ("purchased", "fulfilled")
DONE = tuple(str(s) for s in WAITING if s is not DeliveryState.available_for_pickup)

RouteKey = tuple[str, str, str]  # (carrier upper-cased, service, route class)


@dataclass(frozen=True)
class Thresholds:
    """For one route key: how long between scans is usual (refresh after it) and how long
    is a stall, in seconds, and where the figures come from."""

    usual_gap_s: float
    stall_s: float
    source: str = "default"


def route_key(carrier: str | None, service: str | None, route_class: str | None) -> RouteKey:
    return ((carrier or "").upper(), service or "", route_class or "")


def route_class_of(
    origin_country: str | None, origin_state: str | None, dest_country: str | None, dest_state: str | None
) -> str:
    """local (same state), domestic (same country) or international: ``core.transit.route_class``'s
    classes, kept here until that lands."""
    if not origin_country or not dest_country or origin_country.upper() != dest_country.upper():
        return "international"
    if origin_state and dest_state and origin_state.upper() == dest_state.upper():
        return "local"
    return "domestic"


def thresholds_for(rt: Runtime, keys: Iterable[RouteKey]) -> dict[RouteKey, Thresholds]:
    """The thresholds of each route key (the seam to ``core.transit``; see the module's docstring)."""
    stall = rt.settings.tracking.default_gap_h * 3600.0
    return {key: Thresholds(usual_gap_s=stall / 2, stall_s=stall) for key in keys}


@job("refresh_tracking", queue="tracking")
def refresh_tracking(rt: Runtime) -> dict[str, int]:
    """One run (see the module's docstring); returns what it did."""
    now = rt.now()
    deadline = time.monotonic() + REFRESH_BUDGET_S
    counts = {"checked": 0, "retrieved": 0, "opened": 0, "failed": 0}
    client: list[EasyPost] = []
    after = 0
    known: dict[RouteKey, Thresholds] = {}  # computed once per run per route key
    while True:
        batch = _batch(rt, after)
        known.update(thresholds_for(rt, {key for _, key, _ in batch} - set(known)))
        for shipment_id, key, heard in batch:
            counts["checked"] += 1
            limits = known[key]
            if heard is None or (now - heard).total_seconds() > limits.usual_gap_s:
                _retrieve(rt, client, shipment_id, counts)
            if _check(rt, shipment_id, limits, now):
                counts["opened"] += 1
                push_soon(rt, shipment_id, f"refresh{int(now.timestamp())}")
        if len(batch) < REFRESH_BATCH:
            break
        if time.monotonic() >= deadline:
            log.warning("tracking.refresh_budget_spent", next_after=batch[-1][0], **counts)
            break
        after = batch[-1][0]
    log.info("tracking.refreshed", **counts)
    return counts


def _batch(rt: Runtime, after: int) -> list[tuple[int, RouteKey, datetime | None]]:
    """The next parcels on their way: (id, route key, last heard from or shipped)."""
    with rt.session() as s:
        rows = s.execute(
            select(
                Shipment.id,
                Shipment.carrier,
                Shipment.service,
                Shipment.route_class,
                Shipment.last_heard_at,
                Shipment.shipped_at,
            )
            .where(Shipment.state.in_(ON_THE_WAY), Shipment.id > after)
            .where(or_(Shipment.delivery_state.is_(None), Shipment.delivery_state.not_in(DONE)))
            .order_by(Shipment.id)
            .limit(REFRESH_BATCH)
        ).all()
    return [(r[0], route_key(r[1], r[2], r[3]), r[4] or r[5]) for r in rows]


def _retrieve(rt: Runtime, client: list[EasyPost], shipment_id: int, counts: dict[str, int]) -> None:
    """Retrieve the parcel's tracker and apply it; one parcel's failure does not stop the run."""
    with rt.session() as s:
        tracker_id = s.scalar(select(Shipment.tracker_id).where(Shipment.id == shipment_id))
    if not tracker_id:
        return
    if not client:
        from sync.carriers import easypost_client

        client.append(easypost_client(rt))
    try:
        report = client[0].retrieve_tracker(tracker_id)
    except (Retryable, Permanent) as exc:
        counts["failed"] += 1
        log.warning(
            "tracking.retrieve_failed", shipment_id=shipment_id, error=f"{type(exc).__name__}: {exc}"[:300]
        )
        return
    if isinstance(apply_report(rt, report), int):
        counts["retrieved"] += 1
        push_soon(rt, shipment_id, f"pull{int(rt.now().timestamp())}")


def _check(rt: Runtime, shipment_id: int, limits: Thresholds, now: datetime) -> bool:
    """Open late and stalled exceptions the parcel has crossed into; whether one opened."""
    grace = timedelta(hours=rt.settings.tracking.late_grace_h)
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id, with_for_update=True)
        if sh is None or sh.state not in ON_THE_WAY:
            return False
        state = DeliveryState(sh.delivery_state) if sh.delivery_state else None
        exceptions.settle(s, sh, state, now, False, STATE_KINDS.get(state) if state else None)
        found: list[tuple[Finding, dict[str, Any]]] = []
        late = late_finding(sh.est_delivery_at, now, state, grace)
        if late is not None and sh.est_delivery_at is not None:
            est = sh.est_delivery_at.isoformat()
            found.append((late, {"cause": est, "est_delivery_at": est, "grace_s": grace.total_seconds()}))
        stall = stall_finding(sh.last_scan_at, now, limits.stall_s, state)
        if stall is not None and sh.last_scan_at is not None:
            last = sh.last_scan_at.isoformat()
            data = {
                "cause": last,
                "last_scan_at": last,
                "threshold_s": limits.stall_s,
                "source": limits.source,
            }
            found.append((stall, data))
        opened = [exceptions.open_exception(s, sh, finding, now, data) for finding, data in found]
        return any(o is not None for o in opened)

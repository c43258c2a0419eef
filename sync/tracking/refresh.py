"""``refresh_tracking`` (scheduled, queue tracking): missed Events recovered, late and stalled
parcels caught.

Each run, over the parcels on their way (a label bought, not voided, not done moving),
``REFRESH_BATCH`` at a time in id order within ``REFRESH_BUDGET_S``:

1. a parcel with no new scan for longer than its route's usual gap between scans (and
   nothing heard for a quarter of it), or about to be called stalled, has its tracker
   retrieved and applied as an Event would be (sync/tracking/events.py), so a lost
   webhook costs one refresh interval and never makes a false stall (:func:`should_retrieve`);
2. every parcel is checked against its estimate (``late`` past ``tracking.late_grace_h``)
   and its route's stall threshold (``stalled``); a new exception keeps the threshold and
   the last scan's time in its ``data``, and ``push_tracking`` is enqueued (notices).

Thresholds come from :func:`thresholds_for`, once per run per route key (carrier, service,
route class): ``core.transit.stall_threshold`` and ``usual_gap`` over the gaps between
consecutive scans of each parcel on that route, learned from the latest ``HISTORY_SCANS``
rows of ``tracking_scans`` (``tracking.default_gap_h`` until a route has history; blended
while it has little; see docs/transit.md).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import or_, select

from core.errors import Permanent, Retryable
from core.tracking import STATE_KINDS, WAITING, DeliveryState, Finding, late_finding, stall_finding
from core.transit import GapPolicy, gaps_between, stall_threshold, usual_gap
from db.models import Shipment, TrackingScan
from settings import TrackingSettings
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

Route = tuple[str, str, str]  # (carrier upper-cased, service, route class): a parcel's route key
HISTORY_SCANS = 50_000  # the latest scans a run learns gaps from (all routes together)


@dataclass(frozen=True)
class Thresholds:
    """For one route key: how long between scans is usual (refresh after it) and how long
    is a stall, in seconds, and where the figures come from."""

    usual_gap_s: float
    stall_s: float
    source: str = "default"
    samples: int = 0


def route_key(carrier: str | None, service: str | None, route_class: str | None) -> Route:
    return ((carrier or "").strip().upper(), (service or "").strip(), route_class or "")


def gap_policy(settings: TrackingSettings) -> GapPolicy:
    default_s = settings.default_gap_h * 3600.0
    return GapPolicy(
        percentile=settings.gap_percentile,
        margin=settings.gap_margin,
        min_samples=settings.gap_min_samples,
        default_s=default_s,
        floor_s=min(GapPolicy.floor_s, default_s),
        cap_s=max(GapPolicy.cap_s, default_s),
    )


@dataclass
class Gaps:
    """One route key's history: gaps that ended, and how long parcels still on their way
    have been quiet now (gaps not ended yet: a long gap ends last, so leaving them out
    would learn from the short ones first)."""

    ended: list[float] = field(default_factory=list)
    still_open: list[float] = field(default_factory=list)


def learned_gaps(rt: Runtime, keys: Iterable[Route], now: datetime) -> dict[Route, Gaps]:
    """Seconds between consecutive scans of each parcel, by route key, from the latest
    scans; and, for a parcel still moving, the seconds from its last scan to ``now``."""
    wanted = set(keys)
    with rt.session() as s:
        rows = s.execute(
            select(TrackingScan.shipment_id, TrackingScan.happened_at)
            .order_by(TrackingScan.id.desc())
            .limit(HISTORY_SCANS)
        ).all()
        ids = {r[0] for r in rows}
        routes: dict[int, Route] = {}
        moving: set[int] = set()
        for sid, carrier, service, route_class, state, delivery in s.execute(
            select(
                Shipment.id,
                Shipment.carrier,
                Shipment.service,
                Shipment.route_class,
                Shipment.state,
                Shipment.delivery_state,
            ).where(Shipment.id.in_(ids))
        ):
            routes[sid] = route_key(carrier, service, route_class)
            if state in ON_THE_WAY and delivery not in DONE:
                moving.add(sid)
    times: dict[int, list[datetime]] = defaultdict(list)
    for shipment_id, happened_at in rows:
        if routes.get(shipment_id) in wanted:
            times[shipment_id].append(happened_at)
    gaps: dict[Route, Gaps] = defaultdict(Gaps)
    for shipment_id, seen in times.items():
        route = gaps[routes[shipment_id]]
        route.ended.extend(gaps_between(seen))
        if shipment_id in moving:
            route.still_open.append(max(0.0, (now - max(seen)).total_seconds()))
    return gaps


def thresholds_for(
    rt: Runtime, keys: Iterable[Route], now: datetime | None = None
) -> dict[Route, Thresholds]:
    """The thresholds of each route key at ``now`` (default: the runtime's clock), learned
    (see the module's docstring)."""
    keys = set(keys)
    if not keys:
        return {}
    policy = gap_policy(rt.settings.tracking)
    learned = learned_gaps(rt, keys, now or rt.now())
    out: dict[Route, Thresholds] = {}
    for key in keys:
        gaps = learned.get(key, Gaps())
        stall = stall_threshold(gaps.ended, policy, gaps.still_open)
        usual = min(usual_gap(gaps.ended, policy), stall.seconds / 2)  # asked well before a stall
        out[key] = Thresholds(usual, stall.seconds, str(stall.source), stall.samples)
    return out


@job("refresh_tracking", queue="tracking")
def refresh_tracking(rt: Runtime) -> dict[str, int]:
    """One run (see the module's docstring); returns what it did."""
    now = rt.now()
    deadline = time.monotonic() + REFRESH_BUDGET_S
    counts = {"checked": 0, "retrieved": 0, "opened": 0, "failed": 0}
    client: list[EasyPost] = []
    after = 0
    known: dict[Route, Thresholds] = {}  # computed once per run per route key
    while True:
        batch = _batch(rt, after)
        known.update(thresholds_for(rt, {row[1] for row in batch} - set(known), now))
        for shipment_id, key, heard, last_scan in batch:
            counts["checked"] += 1
            limits = known[key]
            if should_retrieve(now, heard, last_scan, limits):
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


def should_retrieve(
    now: datetime, heard: datetime | None, last_scan: datetime | None, limits: Thresholds
) -> bool:
    """Whether to ask the carrier: no new scan for longer than the route's usual gap, and
    nothing heard for a quarter of it (Events that repeat old scans count as heard); or,
    always once, when the parcel is about to be called stalled and nothing was heard since
    the threshold was crossed (a lost Event must not make a stall)."""
    if heard is None:
        return True
    since = last_scan or heard
    quiet, silent = (now - since).total_seconds(), (now - heard).total_seconds()
    if quiet <= limits.usual_gap_s:
        return False
    crossed = quiet > limits.stall_s and (heard - since).total_seconds() <= limits.stall_s
    return crossed or silent > limits.usual_gap_s / 4


def _batch(rt: Runtime, after: int) -> list[tuple[int, Route, datetime | None, datetime | None]]:
    """The next parcels on their way: (id, route key, last heard from (or shipped), last scan)."""
    with rt.session() as s:
        rows = s.execute(
            select(
                Shipment.id,
                Shipment.carrier,
                Shipment.service,
                Shipment.route_class,
                Shipment.last_heard_at,
                Shipment.shipped_at,
                Shipment.last_scan_at,
            )
            .where(Shipment.state.in_(ON_THE_WAY), Shipment.id > after)
            .where(or_(Shipment.delivery_state.is_(None), Shipment.delivery_state.not_in(DONE)))
            .order_by(Shipment.id)
            .limit(REFRESH_BATCH)
        ).all()
    return [(r[0], route_key(r[1], r[2], r[3]), r[4] or r[5], r[6]) for r in rows]


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
                "samples": limits.samples,
            }
            found.append((stall, data))
        opened = [exceptions.open_exception(s, sh, finding, now, data) for finding, data in found]
        return any(o is not None for o in opened)

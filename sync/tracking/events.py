"""Carrier tracker Events in: the parcel's scans recorded once, its delivery state moved.

``tracker_changed`` Events (the carrier's ``tracker.created`` / ``tracker.updated``) and the
trackers a refresh retrieves (sync/tracking/refresh.py) go through :func:`apply_report`:

1. find the shipment by tracker id, else by tracking code and carrier; when no shipment
   is the report's, it goes to the return parcels (``sync/returns/parcels.apply``: a
   return with that tracker), else it is ignored with the reason, not an error;
2. under the shipment's row lock, merge the report's scans with the stored ones
   (core.tracking.merge: each scan once, carrier time decides, so duplicated and reordered
   Events converge), record the new ones (``tracking_scans``, and one timeline entry each
   on the order: status, detail, the carrier's words and the place's city, no personal data);
3. set the shipment's delivery fields (state from the merged scans, estimate from the
   freshest report, last scan, last heard = ``rt.now()``, delivered at);
4. clear the exceptions the news resolves, open the carrier's (failure, return to sender,
   pickup, error, attempted delivery), move the order to ``delivered`` once every live
   parcel is;
5. enqueue ``push_tracking`` (storefront and customer told, sync/tracking/write_back.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from connectors.easypost.mappers import event_tracker
from connectors.readers.errors import MappingError
from connectors.storefront import EventKind
from core.lifecycle import Stage
from core.tracking import (
    FINAL,
    DeliveryState,
    Place,
    Scan,
    TrackerReport,
    carrier_finding,
    latest_scan_at,
    merge,
    state_of,
)
from db.models import InboxEvent, Shipment, TrackingScan, utcnow
from db.models import Order as OrderRow
from db.timeline import record
from sync.intake import handles
from sync.jobs import safe_job_id
from sync.lifecycle import advance
from sync.tracking import exceptions

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.tracking")
ACTOR = "tracking"


@handles(EventKind.tracker_changed)
def on_tracker_changed(rt: Runtime, event_id: int) -> str | None:
    """One tracker Event: applied, or ignored with the reason when no parcel of ours is its."""
    with rt.session() as s:
        event = s.get(InboxEvent, event_id)
        if event is None:
            return "the event is gone"
        body = event.body
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MappingError(f"tracker event: the body is not JSON ({type(exc).__name__})") from exc
    report = event_tracker(payload)
    applied = apply_report(rt, report)
    if isinstance(applied, str):
        log.info(
            "tracking.no_shipment", tracker_id=report.tracker_id, carrier=report.carrier, outcome=applied
        )
        return applied
    push_soon(rt, applied, f"evt{event_id}")
    return None


def push_soon(rt: Runtime, shipment_id: int, why: str) -> None:
    rt.enqueue("push_tracking", job_id=safe_job_id("trackpush", shipment_id, why), shipment_id=shipment_id)


def find_shipment(s: Session, report: TrackerReport) -> Shipment | None:
    """The live shipment the report is about: by tracker id, else tracking code and carrier."""
    by_tracker = s.scalars(
        select(Shipment).where(Shipment.tracker_id == report.tracker_id).order_by(Shipment.id.desc())
    ).first()
    if by_tracker is not None:
        return by_tracker
    return s.scalars(
        select(Shipment)
        .where(
            Shipment.tracking_code == report.tracking_code,
            func.upper(Shipment.carrier) == report.carrier.upper(),
            Shipment.state != "voided",
        )
        .order_by(Shipment.id.desc())
    ).first()


_SCANS = (
    select(TrackingScan)
    .where(TrackingScan.shipment_id == bindparam("w_shipment"))
    .order_by(TrackingScan.happened_at, TrackingScan.id)
)  # built once: read at every report and every tracking push


def stored_scans(s: Session, shipment_id: int) -> list[Scan]:
    """The shipment's scans in carrier time (ties: the order they were recorded in)."""
    rows = s.scalars(_SCANS, {"w_shipment": shipment_id})
    return [
        Scan(
            r.happened_at,
            DeliveryState(r.status),
            r.status_detail or "",
            r.message or "",
            Place.from_dict(r.place),
        )
        for r in rows
    ]


def apply_report(rt: Runtime, report: TrackerReport) -> int | str:
    """Apply one carrier report (see the module's docstring); the shipment's id, or why it
    was not applied (no shipment of ours is the report's, or its label was voided). A
    report no shipment has goes to the return parcels (its reason says what became of it)."""
    applied = _apply_to_shipment(rt, report)
    return _return_parcel(rt, report) if applied is None else applied


def _apply_to_shipment(rt: Runtime, report: TrackerReport) -> int | str | None:
    """``apply_report`` on the report's shipment; None when no shipment is its."""
    now = rt.now()
    with rt.session() as s:
        found = find_shipment(s, report)
        if found is None:
            return None
        sh = s.get(Shipment, found.id, with_for_update=True)
        assert sh is not None
        if sh.state == "voided":
            return f"the label of tracker {report.tracker_id} was voided"
        known = stored_scans(s, sh.id)
        new, merged = merge(known, report.scans)
        for scan in new:
            _record_scan(s, sh, scan, now)
        state = _update_shipment(sh, report, merged, now)
        finding = carrier_finding(state, merged[-1] if merged else None)
        exceptions.settle(s, sh, state, now, bool(new), finding.kind if finding else None)
        if finding is not None:
            cause = merged[-1].key if merged else f"{report.status}:{report.status_detail}"
            exceptions.open_exception(s, sh, finding, now, {"cause": cause, "state": str(state)})
        s.flush()
        settle_order(s, sh.order_id)
        return sh.id


def _return_parcel(rt: Runtime, report: TrackerReport) -> str:
    """No shipment is the report's: a return parcel's, when a return has the tracker
    (sync/returns/parcels.py); the reason, either way, for the caller's log."""
    from sync.returns import parcels

    applied = parcels.apply(rt, report)
    return f"return {applied}: applied" if isinstance(applied, int) else applied


def _record_scan(s: Session, sh: Shipment, scan: Scan, now: datetime) -> None:
    s.add(
        TrackingScan(
            account_id=sh.account_id,
            shipment_id=sh.id,
            key=scan.key,
            happened_at=scan.happened_at,
            status=str(scan.status),
            status_detail=scan.detail or None,
            message=scan.message or None,
            place=scan.place.to_dict() if scan.place is not None else None,
            received_at=now,
        )
    )
    place = scan.place
    where = {"city": place.city, "state": place.state, "country": place.country} if place else {}
    words = f": {scan.message}" if scan.message else ""
    record(
        s,
        sh.account_id,
        f"order:{sh.order_id}",
        ACTOR,
        "tracking.scan",
        f"parcel {sh.package} {scan.status}{words}"[:500],
        {
            "shipment_id": sh.id,
            "status": str(scan.status),
            "detail": scan.detail,
            "happened_at": scan.happened_at.isoformat(),
            "place": where,
        },
    )


def _update_shipment(sh: Shipment, report: TrackerReport, merged: list[Scan], now: datetime) -> DeliveryState:
    """The shipment's delivery fields from every scan known; the estimate only from the freshest report."""
    state = state_of(merged, report.status)
    latest = latest_scan_at(merged)
    freshest = not report.scans or latest_scan_at(report.scans) == latest
    sh.tracker_id = sh.tracker_id or report.tracker_id
    sh.carrier = sh.carrier or report.carrier[:32]
    sh.service = sh.service or (report.service or "")[:64] or None
    sh.delivery_state = str(state)
    if freshest and report.est_delivery_at is not None:
        sh.est_delivery_at = report.est_delivery_at
    if sh.promised_at is None:  # the first estimate the carrier gave: on time is judged by it
        sh.promised_at = sh.est_delivery_at
    sh.last_scan_at = latest
    sh.last_heard_at = now
    if state is DeliveryState.delivered:
        sh.delivered_at = next(
            (scan.happened_at for scan in merged if scan.status is DeliveryState.delivered), latest
        )
    elif state not in FINAL:
        sh.delivered_at = None
    sh.updated_at = utcnow()
    return state


def settle_order(s: Session, order_id: int) -> bool:
    """A fulfilled order whose every live (not voided) parcel is delivered becomes
    ``delivered``; returns whether it moved."""
    row = s.get(OrderRow, order_id, with_for_update=True)
    if row is None or row.stage != Stage.FULFILLED:
        return False
    live = [
        sh for sh in s.scalars(select(Shipment).where(Shipment.order_id == order_id)) if sh.state != "voided"
    ]
    if not live or any(sh.delivery_state != DeliveryState.delivered for sh in live):
        return False
    advance(s, row, Stage.DELIVERED, ACTOR, f"the carrier delivered {len(live)} parcel(s)")
    return True

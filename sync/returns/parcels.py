"""Return parcels' tracking: carrier Events for a tracker that no shipment has.

``sync/tracking/events.py`` finds a shipment by tracker id; when none is the report's it
hands the report to :func:`apply`, which finds the return by ``Return.tracker_id`` (else
tracking code and carrier), and under the return's row lock records each new scan once on
the order's timeline (``return.scan``, keyed by the scan: a replayed or reordered Event adds
nothing), keeps the parcel's fields (delivery state, first and last scan, delivered at)
and moves the return: the first carrier scan makes it ``in_transit``, delivery to the
merchant ``received``. Each move enqueues ``refund_return`` (its evidence may now be there)
and the write-back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.returns import ReturnState
from core.tracking import DeliveryState, Scan, TrackerReport, latest_scan_at, state_of
from db.models import Return, TimelineEntry, utcnow
from db.timeline import write_pending
from sync.returns.common import move, note, soon

if TYPE_CHECKING:
    from sync.runtime import Runtime

# Scans that say the carrier has the parcel (pre_transit is only the label printed).
MOVING = frozenset(
    {
        DeliveryState.in_transit,
        DeliveryState.out_for_delivery,
        DeliveryState.delivered,
        DeliveryState.available_for_pickup,
        DeliveryState.failure,
        DeliveryState.return_to_sender,
    }
)
TRACKED = (ReturnState.label_sent, ReturnState.in_transit, ReturnState.approved)


def find_return(s: Session, report: TrackerReport) -> Return | None:
    """The return whose parcel the report is about: by tracker id, else tracking code and carrier."""
    found = s.scalars(
        select(Return).where(Return.tracker_id == report.tracker_id).order_by(Return.id.desc())
    ).first()
    if found is not None or not report.tracking_code:
        return found
    return s.scalars(
        select(Return)
        .where(
            Return.tracking_code == report.tracking_code, func.upper(Return.carrier) == report.carrier.upper()
        )
        .order_by(Return.id.desc())
    ).first()


def apply(rt: Runtime, report: TrackerReport) -> int | str:
    """Apply one carrier report to its return; the return's id, or why nothing was applied."""
    with rt.session() as s:
        found = find_return(s, report)
        if found is None:
            return f"no parcel of ours has tracker {report.tracker_id} ({report.carrier})"
        ret = s.get(Return, found.id, with_for_update=True)
        assert ret is not None
        before = ret.state
        new = _record_scans(s, ret, report.scans)
        _update(ret, report, new, rt.now())
        _advance(s, ret)
        moved, return_id = ret.state != before, ret.id
    if moved:
        soon(rt, "refund_return", return_id, f"scan-{ret.state}")
        soon(rt, "write_back_return", return_id, ret.state)
    return return_id


def _known_keys(s: Session, ret: Return) -> set[str]:
    write_pending(s)  # scans recorded earlier in this transaction count
    rows = s.scalars(
        select(TimelineEntry.data).where(
            TimelineEntry.account_id == ret.account_id,
            TimelineEntry.subject == f"order:{ret.order_id}",
            TimelineEntry.action == "return.scan",
        )
    )
    return {str(d.get("key")) for d in rows if d and d.get("return_id") == ret.id}


def _record_scans(s: Session, ret: Return, scans: tuple[Scan, ...]) -> list[Scan]:
    known = _known_keys(s, ret)
    new: list[Scan] = []
    for scan in sorted(scans, key=lambda sc: sc.happened_at):
        if scan.key in known:
            continue
        known.add(scan.key)
        new.append(scan)
        place = scan.place
        words = f": {scan.message}" if scan.message else ""
        where = {"city": place.city, "state": place.state, "country": place.country} if place else {}
        data = {
            "key": scan.key,
            "status": str(scan.status),
            "happened_at": scan.happened_at.isoformat(),
            "place": where,
        }
        note(s, ret, "return.scan", f"return parcel {scan.status}{words}"[:500], data, "tracking")
    return new


def _update(ret: Return, report: TrackerReport, new: list[Scan], now: datetime) -> None:
    state = state_of(list(report.scans), report.status)
    latest = latest_scan_at(list(report.scans))
    if ret.last_scan_at is None or (latest is not None and latest >= ret.last_scan_at):
        ret.delivery_state = str(state)
        ret.last_scan_at = latest or ret.last_scan_at
    moving = [sc.happened_at for sc in report.scans if sc.status in MOVING]
    if moving and (ret.first_scan_at is None or min(moving) < ret.first_scan_at):
        ret.first_scan_at = min(moving)
    if ret.first_scan_at is None and report.status in MOVING:
        ret.first_scan_at = latest or now
    delivered = [sc.happened_at for sc in report.scans if sc.status is DeliveryState.delivered]
    if delivered and ret.delivered_at is None:
        ret.delivered_at = min(delivered)
    elif report.status is DeliveryState.delivered and ret.delivered_at is None:
        ret.delivered_at = latest or now
    ret.tracking_code = ret.tracking_code or report.tracking_code[:64] or None
    ret.tracker_id = ret.tracker_id or report.tracker_id[:64]
    ret.updated_at = utcnow()


def _advance(s: Session, ret: Return) -> None:
    """label_sent -> in_transit at the first carrier scan; -> received on delivery."""
    if ret.state not in TRACKED:
        return
    if ret.first_scan_at is not None and ret.state == ReturnState.label_sent:
        move(s, ret, ReturnState.in_transit, "the carrier has the return parcel", actor="tracking")
    if ret.delivered_at is not None and ret.state in (ReturnState.label_sent, ReturnState.in_transit):
        move(
            s,
            ret,
            ReturnState.received,
            "the carrier delivered the return parcel",
            actor="tracking",
            at=ret.delivered_at,
        )

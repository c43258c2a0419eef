"""``push_tracking``: every status change of a parcel told to its storefront once, in carrier time.

Run after each tracker report (sync/tracking/events.py) and after the parcel's fulfilment
is written back (sync/shipping/write_back.py). It first sends the customer notices due
(sync/tracking/notices.py), then, once the parcel is written back (it has a fulfilment
reference; before that it returns ``waiting``):

- each status change (``core.tracking.changes`` over the stored scans) is posted through
  ``Storefront.post_tracking_event`` inside the effects ledger under
  ``trackevt:<shipment>:<milestone>:<carrier epoch>`` (``find_tracking_event`` recovers a lost
  answer), so a replayed Event or a second run writes nothing twice; the buyer is told
  (``notify``) at the merchant's ``customer_milestones``;
- where the storefront takes order statuses of the merchant's (``custom_statuses``), the
  merchant's ``order_status`` map is applied once per order and milestone
  (``orderstatus:<order>:<milestone>:<status>``); ``delivered`` only once the order is. A
  status the store lacks is refused once, noted on the order's timeline, and not retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.storefront import Storefront
from connectors.storefront.writes import (
    EventPlace,
    OrderStatusRefused,
    TrackingStatus,
    TrackingUpdate,
    Written,
)
from core.lifecycle import Stage
from core.tracking import DeliveryState, Milestone, Scan, changes
from db.effects import EffectFailed, EffectRecord, Progress
from db.models import Effect, EffectState, Shipment, Store
from db.models import Order as OrderRow
from db.timeline import record
from sync.jobs import job
from sync.locks import order_lock
from sync.storefronts import storefront
from sync.tracking import notices
from sync.tracking.events import settle_order, stored_scans
from sync.tracking.merchant import MerchantTracking, for_account

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.tracking")
ACTOR = "tracking"


@dataclass
class Parcel:
    """What one run needs of the shipment, read once."""

    shipment_id: int
    order_id: int
    account_id: int
    platform_order_id: str
    fulfilment_ref: str | None
    tracking_code: str
    est: datetime | None
    steps: list[tuple[Scan, Milestone]]
    merchant: MerchantTracking
    store: Store
    order_delivered: bool
    notices_due: tuple[list[str], notices.Addressee | None]  # read with the parcel


@job("push_tracking", queue="tracking")
def push_tracking(rt: Runtime, shipment_id: int) -> str:
    """Notices due, then the storefront told each status change not yet written; returns
    ``written <n>`` (changes in the ledger now), ``waiting``, or why nothing was done."""
    parcel = _load(rt, shipment_id)
    if isinstance(parcel, str):
        return parcel
    notices.send(rt, *parcel.notices_due)
    if not parcel.fulfilment_ref:
        return "waiting"
    if not parcel.steps:
        return "written 0"  # no news from the carrier yet (a parcel just written back)
    shop = storefront(rt, parcel.store)
    done = _written(rt, [event_key(shipment_id, scan, milestone) for scan, milestone in parcel.steps])
    for scan, milestone in parcel.steps:
        if event_key(shipment_id, scan, milestone) not in done:  # the ledger would answer it
            _post(rt, shop, parcel, scan, milestone)
    _order_statuses(rt, shop, parcel)
    return f"written {len(parcel.steps)}"


def event_key(shipment_id: int, scan: Scan, milestone: Milestone) -> str:
    """The effects-ledger key of one status change written back."""
    return f"trackevt:{shipment_id}:{milestone}:{int(scan.happened_at.timestamp())}"


def _written(rt: Runtime, keys: list[str]) -> set[str]:
    """Which of ``keys`` the ledger holds as done: those changes are not sent through it again
    (one query instead of a claim per change already written)."""
    if not keys:
        return set()
    with rt.session() as s:
        found = s.scalars(select(Effect.key).where(Effect.key.in_(keys), Effect.state == EffectState.done))
        return set(found)


# A parcel read by the caller in its own transaction, for the ``push_tracking`` it runs next
# (``held``): the fulfilment write-back reads it with the shipment and order it has just
# written, so the push that follows at once does not read them again.
_HELD: ContextVar[Parcel | None] = ContextVar("waybill_tracking_held", default=None)


@contextmanager
def held(parcel: Parcel | str) -> Iterator[None]:
    """Within: ``push_tracking`` of this parcel uses it instead of reading it (a str: as read)."""
    token = _HELD.set(parcel if isinstance(parcel, Parcel) else None)
    try:
        yield
    finally:
        _HELD.reset(token)


def _load(rt: Runtime, shipment_id: int) -> Parcel | str:
    parcel = _HELD.get()
    if parcel is not None and parcel.shipment_id == shipment_id:
        return parcel
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        if sh is None:
            return "missing"
        if sh.state == "voided" or sh.tracking_code is None:
            return sh.state
        row = s.get(OrderRow, sh.order_id)
        store = s.get(Store, sh.store_id)
        if row is None or store is None:
            return "missing"
        s.expunge(store)
        return read_parcel(rt, s, sh, row, store)


def read_parcel(rt: Runtime, s: Session, sh: Shipment, row: OrderRow, store: Store) -> Parcel | str:
    """What ``push_tracking`` needs of the parcel ``sh`` of order ``row`` (loaded in ``s``),
    or why there is nothing to push."""
    if sh.state == "voided" or sh.tracking_code is None:
        return sh.state
    if sh.delivery_state == DeliveryState.delivered:  # else the order is not delivered whole
        settle_order(s, sh.order_id)  # a parcel delivered before it was written back (moves ``row``)
    if row.stage == Stage.CANCELLED:
        return "cancelled"
    ref = sh.fulfillment_ref if sh.state == "fulfilled" else None
    steps = changes(stored_scans(s, sh.id))
    merchant = for_account(rt, s, row.account_id)
    return Parcel(
        shipment_id=sh.id,
        order_id=row.id,
        account_id=row.account_id,
        platform_order_id=row.platform_order_id,
        fulfilment_ref=ref,
        tracking_code=sh.tracking_code,
        est=sh.est_delivery_at,
        steps=steps,
        merchant=merchant,
        store=store,
        order_delivered=row.stage == Stage.DELIVERED,
        notices_due=notices.due_for(rt, s, sh, row, merchant, [m for _, m in steps]),
    )


def update_for(parcel: Parcel, scan: Scan, milestone: Milestone) -> TrackingUpdate:
    place = scan.place
    assert parcel.fulfilment_ref is not None
    return TrackingUpdate(
        fulfilment_ref=parcel.fulfilment_ref,
        tracking_number=parcel.tracking_code,
        status=TrackingStatus(milestone.value),
        happened_at=scan.happened_at,
        estimated_delivery_at=parcel.est,
        place=EventPlace(place.city, place.state, place.country, place.postal_code) if place else None,
        message=scan.message or None,
        notify=parcel.merchant.tells_customer(milestone),
    )


def _post(rt: Runtime, shop: Storefront, parcel: Parcel, scan: Scan, milestone: Milestone) -> None:
    update = update_for(parcel, scan, milestone)
    acted: list[Written] = []

    def act(progress: Progress) -> dict[str, Any]:
        written = shop.post_tracking_event(parcel.platform_order_id, update)
        acted.append(written)
        return written.to_dict()

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        written = shop.find_tracking_event(parcel.platform_order_id, update)
        return written.to_dict() if written is not None else None

    with order_lock(rt, parcel.order_id):  # it may rewrite the record of every parcel (sync/locks.py)
        rt.ledger.run(
            event_key(parcel.shipment_id, scan, milestone),
            "tracking_event",
            {"shipment_id": parcel.shipment_id, "status": str(milestone), "at": scan.happened_at.isoformat()},
            act,
            recover,
            account_id=parcel.account_id,
        )
    if acted:
        told = " (the customer told)" if update.notify else ""
        _note(
            rt,
            parcel,
            "tracking.written",
            f"{shop.platform} told: {milestone}{told}",
            {"status": str(milestone)},
        )


def _order_statuses(rt: Runtime, shop: Storefront, parcel: Parcel) -> None:
    """The merchant's order status of each milestone reached, once per order."""
    wanted = parcel.merchant.order_status
    if not shop.custom_statuses or not wanted:
        return
    for milestone in dict.fromkeys(m for _, m in parcel.steps):
        status = wanted.get(milestone.value)
        if not status or (milestone is Milestone.delivered and not parcel.order_delivered):
            continue
        try:
            rt.ledger.run(
                f"orderstatus:{parcel.order_id}:{milestone}:{status}",
                "order_status",
                {"order": parcel.platform_order_id, "status": status},
                lambda progress, st=status: shop.set_order_status(parcel.platform_order_id, st).to_dict(),  # type: ignore[misc]
                recover=None,  # setting a status again is harmless
                account_id=parcel.account_id,
            )
        except EffectFailed:
            continue  # refused before, and noted then
        except OrderStatusRefused as exc:
            log.warning("tracking.order_status_refused", order_id=parcel.order_id, status=status)
            _note(rt, parcel, "tracking.order_status_refused", str(exc)[:500], {"status": status})


def _note(rt: Runtime, parcel: Parcel, action: str, reason: str, data: dict[str, Any]) -> None:
    with rt.session() as s:
        record(
            s,
            parcel.account_id,
            f"order:{parcel.order_id}",
            ACTOR,
            action,
            reason,
            {"shipment_id": parcel.shipment_id, **data},
        )

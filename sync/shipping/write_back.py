"""Fulfilment write-back: the storefront told that a parcel shipped, with its tracking.

``write_back_fulfillment`` runs per parcel once its label is bought (``fulfil:<shipment
id>``: the storefront's ``fulfil``, which looks for the tracking number before it writes,
so a retry never writes twice), one parcel of an order at a time (``order_lock``: a
storefront may keep all of an order's parcels in one record it rewrites whole). When
every parcel is in, the order is fulfilled, and a storefront that needs orders completed
is told once (``complete:<order>``), unless the write of the last parcel completed it
already (its details say ``completed``). Then the parcel's tracking news follows
(``push_tracking``, sync/tracking/write_back.py), in the same job (``run_now``: a job of
its own if that fails).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connectors.storefront import Storefront
from connectors.storefront.writes import ParcelShipped
from core.lifecycle import WRITING_BACK, Stage
from core.shipping import Label
from db.models import Order as OrderRow
from db.models import Shipment, Store, utcnow
from sync.jobs import job, run_now, safe_job_id
from sync.locks import order_lock
from sync.shipping.common import move, note, order_shipments, was_cancelled
from sync.storefronts import storefront
from sync.tracking.links import tracking_page_url
from sync.tracking.merchant import for_account
from sync.tracking.write_back import Parcel as TrackedParcel
from sync.tracking.write_back import held, read_parcel

if TYPE_CHECKING:
    from sync.runtime import Runtime


# A parcel with its order and store, in one query (built once).
_PARCEL = (
    select(Shipment, OrderRow, Store)
    .outerjoin(OrderRow, OrderRow.id == Shipment.order_id)
    .outerjoin(Store, Store.id == Shipment.store_id)
    .where(Shipment.id == bindparam("shipment_id"))
)


@job("write_back_fulfillment", queue="shipping")
def write_back(rt: Runtime, shipment_id: int) -> str:
    """Tell the storefront this parcel shipped, with its tracking; returns the shipment's state."""
    with rt.session() as s:
        found = s.execute(_PARCEL, {"shipment_id": shipment_id}).first()
        if found is None:
            return "missing"
        sh, row, store = found
        if sh.state != "purchased" or sh.label is None or row is None or store is None:
            return sh.state
        if was_cancelled(row):
            return "cancelled"
        parcel = _parcel_shipped(rt, s, sh)
        order_id, platform_order_id, account_id = row.id, row.platform_order_id, row.account_id
        shop = storefront(rt, store, s)
    request = {
        "shipment_id": shipment_id,
        "order": platform_order_id,
        "tracking_number": parcel.tracking_number,
    }
    recorded: list[_Recorded] = []

    def record_fulfilment(s: Session, done: dict[str, Any]) -> None:
        recorded.append(_record_fulfilment(s, rt, shop, store, shipment_id, str(done.get("ref") or "")))

    with order_lock(rt, order_id):  # the order's other parcels are written one at a time
        done = rt.ledger.run(
            f"fulfil:{shipment_id}",
            "fulfilment",
            request,
            lambda progress: shop.fulfil(platform_order_id, parcel).to_dict(),
            recover=None,  # the storefront looks for this tracking number before writing
            account_id=account_id,
            then=record_fulfilment,  # in the outcome's own transaction
        )
    completed = done.get("completed") is True  # the write of the last parcel completed the order
    return _after_fulfilment(rt, shop, shipment_id, recorded[-1], completed)


class _Recorded(NamedTuple):
    """What ``_record_fulfilment`` leaves for the steps after its commit."""

    state: str
    every: bool  # every live parcel of the order is written back
    order_id: int
    platform_order_id: str
    account_id: int
    parcel: TrackedParcel | str  # for the tracking push, read in the same transaction (str: none, why)


def _parcel_shipped(rt: Runtime, s: Session, sh: Shipment) -> ParcelShipped:
    """The parcel as the storefront is told: its order lines (all open lines when a unit has no
    line id), its tracking (Waybill's tracking page when the merchant opts in:
    ``tracking.branded_page``), and whether every other parcel is written back or voided."""
    assert sh.label is not None
    label = Label.from_dict(sh.label)
    lines = Counter(str(i.get("line_id") or "") for i in (sh.parcel.get("items") or []))
    others_done = all(
        o.state in ("fulfilled", "voided") for o in order_shipments(s, sh.order_id) if o.id != sh.id
    )
    return ParcelShipped(
        lines=None if "" in lines else tuple(sorted(lines.items())),
        carrier=label.carrier,
        tracking_number=label.tracking_code,
        tracking_url=tracking_page_url(rt, sh.id)
        if for_account(rt, s, sh.account_id).branded_page
        else label.tracking_url,
        last=others_done,
    )


def _record_fulfilment(
    s: Session, rt: Runtime, shop: Storefront, store: Store, shipment_id: int, ref: str
) -> _Recorded:
    """The parcel fulfilled and the order's stage, in ``s``'s transaction (the outcome's)."""
    sh = s.get(Shipment, shipment_id, with_for_update=True)
    assert sh is not None
    row = s.get(OrderRow, sh.order_id, with_for_update=True)
    assert row is not None
    if sh.state == "purchased":
        sh.state, sh.fulfillment_ref, sh.updated_at = "fulfilled", ref[:128], utcnow()
        note(
            s,
            row,
            "shipment.fulfilled",
            f"parcel {sh.package}: {shop.platform} told, tracking {sh.tracking_code}",
            {"shipment_id": sh.id, "ref": ref},
        )
    live = [o for o in order_shipments(s, row.id) if o.state != "voided"]
    every = bool(live) and all(o.state == "fulfilled" for o in live)
    stage = Stage.FULFILLED if every else Stage.PARTIALLY_FULFILLED
    advancing = row.stage in (Stage.PACKED, *WRITING_BACK)
    if not was_cancelled(row) and advancing and row.stage != stage:
        done = sum(o.state == "fulfilled" for o in live)
        move(s, row, stage, f"{done} of {len(live)} parcel(s) written back to {shop.platform}")
    parcel = read_parcel(rt, s, sh, row, store)  # for the tracking push: read here
    return _Recorded(sh.state, every, row.id, row.platform_order_id, row.account_id, parcel)


def _after_fulfilment(
    rt: Runtime, shop: Storefront, shipment_id: int, recorded: _Recorded, completed: bool
) -> str:
    """Once the fulfilment is committed: the order completed where the storefront needs it,
    then the parcel's tracking news so far."""
    if recorded.every and shop.needs_completion and not completed:
        _complete(rt, shop, recorded.order_id, recorded.platform_order_id, recorded.account_id)
    # The carrier's news so far (and what comes later) follows the fulfilment (sync/tracking):
    # here, in this job; its own job if that fails (which reads the parcel afresh).
    job_id = safe_job_id("trackpush", shipment_id, "fulfilled")
    with held(recorded.parcel):
        run_now(rt, "push_tracking", job_id, shipment_id=shipment_id)
    return recorded.state


def _complete(rt: Runtime, shop: Storefront, order_id: int, platform_order_id: str, account_id: int) -> None:
    """Every parcel is in: a storefront that needs it has the order completed (once; parcels
    written back at the same time may each have seen the other still open)."""
    rt.ledger.run(
        f"complete:{order_id}",
        "order_complete",
        {"order": platform_order_id},
        lambda progress: shop.complete(platform_order_id).to_dict(),
        recover=None,  # completing it again is harmless
        account_id=account_id,
    )

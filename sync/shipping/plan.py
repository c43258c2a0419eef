"""Before any label: may the order ship now, and which parcels does it need.

``start``, in one transaction under the order's lock, moves a ready order to packed (after
its pack scan when ``verify_packing``), chooses the boxes once (one ``Shipment`` row per
parcel, unique per order and package) or holds the order with the packing problem, and
reads the parcels ``ship_order`` still has to buy labels for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Retryable
from core.lifecycle import SHIPPABLE, Stage
from core.orders import Order
from core.parcels import BoxSpec, Measure, choose_parcels, pack_items, unweighed
from core.shipping import Parcel, parcel_from_json, parcel_to_json
from db.models import Order as OrderRow
from db.models import Shipment
from sync.account_settings import settings_for
from sync.catalog import measures_for
from sync.shipping.common import (
    AWAITING_SCAN,
    MAX_PROBLEM,
    OPEN_STATES,
    hold,
    move,
    note,
    scan_passed,
    was_cancelled,
)
from sync.shipping.trackers import tracker_kept

if TYPE_CHECKING:
    from settings import Settings, ShippingSettings
    from sync.runtime import Runtime


@dataclass(frozen=True)
class Context:
    """What one run of ``ship_order`` works from: the order, and the account's settings
    as read when the run began (None: read them when needed)."""

    order_id: int
    account_id: int
    order: Order
    settings: Settings | None = None


def account_settings(rt: Runtime, ctx: Context) -> Settings:
    """The settings of ``ctx``'s account: those the run began with, else read now."""
    return ctx.settings if ctx.settings is not None else settings_for(rt, ctx.account_id)


def _enter(s: Session, rt: Runtime, order_id: int) -> tuple[Context, OrderRow] | str:
    """The order, when it may ship now (moving it to packed), else the stage to stop at; in
    ``s``'s transaction (the order stays locked until it commits), with the order's row
    (kept by the caller: the session holds an unchanged row only weakly)."""
    row = s.get(OrderRow, order_id, with_for_update=True)
    if row is None:
        return "missing"
    if row.stage not in SHIPPABLE or row.hold_reason is not None or was_cancelled(row):
        return row.stage
    if row.stage == Stage.READY_TO_SHIP:
        verify = rt.settings.shipping.verify_packing
        if verify and not scan_passed(s, row.id):
            return AWAITING_SCAN
        move(s, row, Stage.PACKED, "contents verified" if verify else "packed without scan")
    settings = settings_for(rt, row.account_id, s)  # once for the run, in this transaction
    return Context(row.id, row.account_id, Order.from_dict(row.data), settings), row


OpenParcel = tuple[int, tuple[int, Parcel]]  # a parcel without a label: id, (package, parcel)


def start(rt: Runtime, order_id: int) -> tuple[Context, list[OpenParcel], set[int]] | str:
    """In one transaction, under the order's lock: the order may ship (packed), its parcels
    planned once (a packing problem holds it), then read. Returns the run's context, the
    parcels without a label yet (id, package and parcel, in package order) and the bought
    parcels whose tracker is not kept (``tracker_kept``), else where the order stops."""
    try:
        with rt.session() as s:
            entered = _enter(s, rt, order_id)
            if isinstance(entered, str):
                return entered
            gate, row = entered
            problem = _plan(s, rt, gate, account_settings(rt, gate).shipping, row)
            if problem is None:
                rows = s.execute(_PARCELS, {"w_order": order_id}).all()
    except IntegrityError as exc:  # another run planned them first (it held the lock before us)
        raise Retryable("the order's parcels were planned concurrently; retry") from exc
    if problem is not None:
        return hold(rt, order_id, problem)
    open_parcels = [(r.id, (r.package, parcel_from_json(r.parcel))) for r in rows if r.state in OPEN_STATES]
    untracked = {r.id for r in rows if r.state == "purchased" and not tracker_kept(r.tracker_id, r.label)}
    return gate, open_parcels, untracked


# An order's parcels as ``start`` reads them (built once).
_PARCELS = (
    select(
        Shipment.id, Shipment.package, Shipment.parcel, Shipment.state, Shipment.tracker_id, Shipment.label
    )
    .where(Shipment.order_id == bindparam("w_order"))
    .order_by(Shipment.package)
)


def _plan(
    s: Session, rt: Runtime, ctx: Context, settings: ShippingSettings, row: OrderRow | None = None
) -> str | None:
    """In ``s``: nothing when parcels are planned already, else the plan saved; or the
    problem that holds the order (nothing written then). ``row``: the order, when the
    caller has it loaded."""
    packages: dict[int, str] = {
        row.package: row.state
        for row in s.execute(
            select(Shipment.package, Shipment.state).where(Shipment.order_id == ctx.order_id)
        )
    }
    if any(state != "voided" for state in packages.values()):
        return None
    first = max(packages, default=0) + 1  # after voided labels, new parcels get new numbers (and keys)
    if ctx.order.shipping_address is None or ctx.order.shipping_address.is_empty():
        return "the order has no shipping address"
    row = row if row is not None else s.get(OrderRow, ctx.order_id)
    assert row is not None
    known = measures_for(s, row.store_id, ctx.order.line_items)
    try:
        items = pack_items(
            ctx.order.line_items,
            settings.item_dimensions,
            settings.default_item_grams,
            settings.default_item_cm,
            known,
        )
    except ValueError as exc:  # a malformed item_dimensions entry
        return str(exc)
    plan = choose_parcels(items, [BoxSpec.from_settings(b) for b in settings.boxes])
    if plan.problem is not None:
        return plan.problem
    _save_plan(s, rt, row, ctx.order, plan.parcels, first, known)
    return None


def _save_plan(
    s: Session,
    rt: Runtime,
    row: OrderRow,
    order: Order,
    parcels: Sequence[Parcel],
    first: int,
    known: Mapping[str, Measure],
) -> None:
    """One planned Shipment row per parcel, numbered from ``first``."""
    for package, parcel in enumerate(parcels, start=first):
        s.add(
            Shipment(
                account_id=row.account_id,
                store_id=row.store_id,
                order_id=row.id,
                package=package,
                state="planned",
                parcel=parcel_to_json(parcel),
            )
        )
    _note_default_weights(s, row, order, known, rt.settings.shipping.default_item_grams)
    boxes = [f"{p.box} ({p.weight_g} g)" for p in parcels]
    note(s, row, "shipment.planned", f"{len(boxes)} parcel(s): {', '.join(boxes)}")


def _note_default_weights(
    s: Session, row: OrderRow, order: Order, known: Mapping[str, Measure], default_grams: int
) -> None:
    """Say on the timeline which lines were weighed at the default: neither line nor catalog knew."""
    guessed = unweighed(order.line_items, known)
    if not guessed:
        return
    names = ", ".join((line.sku or line.title) for line in guessed)
    note(
        s,
        row,
        "shipment.default_weight",
        f"no weight known for {names}: {default_grams} g a unit assumed"[:MAX_PROBLEM],
        {"lines": [line.line_id for line in guessed], "grams": default_grams},
    )

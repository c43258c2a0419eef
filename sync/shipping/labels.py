"""Labels: per parcel, the EasyPost shipment, the rate, the label bought once, the tracker.

``ship_order`` (queue "shipping") plans the parcels (sync/shipping/plan.py) and then, per
parcel, walks the effects ledger:

1. ``shipment:<order>:<package>``: create the EasyPost shipment (its reference is the key,
   so a create whose answer was lost is found again by reference); the id is committed at
   once (state created).
2. choose the rate (core/rates.py; every rate considered lands in ``Shipment.rates`` and
   on the timeline), then ``label:<order>:<package>:<rate>``: buy. A claim left unknown or
   expired (a lost answer, a dead worker) is recovered by retrieving the shipment and using
   its label: a shipment that has a label is never bought again. A refusal (Permanent)
   moves on to the next fallback rate under a new key; anything else is raised and retried.
3. ``tracker:<shipment id>``: start the tracker. The label is stored (state purchased),
   and when every parcel has one the order is label_purchased and the write-back
   (sync/shipping/write_back.py) runs per parcel, in this job (``run_now``: its own job
   if that fails, or when ``ship_order`` was called outside a job).

The outside ids (shipment, tracking code, tracker) are written with each effect's outcome
(``found_outside_id``): each call is its act's last step. The account's settings are read
once, when the run begins (``Context.settings``).

A purchase in flight when the order is cancelled is noticed under the order's row lock when
its label is recorded, and voided then.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from core.errors import Permanent
from core.lifecycle import SHIPPABLE, Stage
from core.parcels import customs_lines, needs_customs
from core.rates import choose_rate, insurance_for
from core.shipping import Label, Parcel, Rate, RateChoice, parcel_from_json, parcel_to_json
from db.effects import EffectRecord, Progress, Then
from db.models import Order as OrderRow
from db.models import Shipment, utcnow
from db.timeline import record
from sync.jobs import job, run_now
from sync.shipping.common import (
    ACTOR,
    MAX_PROBLEM,
    OPEN_STATES,
    easypost,
    hold,
    move,
    note,
    order_shipments,
    stop_reason,
    was_cancelled,
    write_back_job_id,
)
from sync.shipping.plan import Context, account_settings, start
from sync.shipping.policy import on_time_stats, rate_policy, route_of
from sync.shipping.trackers import start_tracker, tracker_kept
from sync.shipping.void import void_labels

if TYPE_CHECKING:
    from connectors.easypost.client import EasyPost
    from settings import ShippingSettings
    from sync.runtime import Runtime


@job("ship_order", queue="shipping")
def ship_order(rt: Runtime, order_id: int) -> str:
    """Plan parcels, buy one label per parcel, start trackers; returns where the order stands."""
    started = start(rt, order_id)
    if isinstance(started, str):
        return started
    gate, open_parcels, untracked = started
    client = easypost(rt)
    decided: list[Decided] = []
    for n, (shipment_id, parcel) in enumerate(open_parcels):
        # ``start`` has just checked the order under its lock for the first parcel; a
        # cancellation landing later is noticed when the label is recorded (and voided).
        stopped = stop_reason(rt, order_id) if n else None
        if stopped is not None:
            return stopped
        problem = buy_parcel(rt, client, gate, shipment_id, parcel, untracked, decided)
        if problem is not None:
            return hold(rt, order_id, problem)
    for shipment_id in sorted(untracked):
        start_tracker(rt, client, gate, shipment_id)
    # The last label's transaction saw every parcel: its answer stands (else read it now).
    last = decided[-1] if open_parcels and len(decided) == len(open_parcels) else None
    return _after_labels(rt, order_id, last)


def buy_parcel(
    rt: Runtime,
    client: EasyPost,
    ctx: Context,
    shipment_id: int,
    planned: tuple[int, Parcel] | None = None,
    untracked: set[int] | None = None,
    decided: list[Decided] | None = None,
) -> str | None:
    """Create, choose, buy and record one parcel's label; returns a problem that holds the order.
    ``planned``: its package number and parcel, when the caller has read them; ``untracked``:
    the caller's set of bought parcels whose tracker is not kept, this one added if so;
    ``decided``: gets ``_labels_in``'s answer, taken in the label's own transaction."""
    if planned is None:
        with rt.session() as s:
            sh = s.get(Shipment, shipment_id)
            assert sh is not None
            planned = sh.package, parcel_from_json(sh.parcel)
    package, parcel = planned
    account = account_settings(rt, ctx).shipping
    easypost_id, choice = _shipment_and_choice(rt, client, ctx, shipment_id, package, parcel, account)
    if choice.chosen is None:
        return choice.reason
    insurance = insurance_for(parcel.value, account.insure_above)
    refused: list[str] = []
    route = route_of(rt.settings.shipping, ctx.order)
    cancelled: list[int] = []

    def record_label(s: Session, done: dict[str, Any]) -> None:
        row = _record_label(s, rt, shipment_id, Label.from_dict(done), route, untracked)
        if was_cancelled(row):
            cancelled.append(ctx.order_id)
        elif decided is not None:
            decided.append(_labels_in(s, row))

    for rate in (choice.chosen, *choice.fallbacks):
        try:
            _buy(rt, client, ctx, package, easypost_id, rate, insurance, then=record_label)
        except Permanent as exc:
            why = f"{rate.carrier} {rate.service}: {exc}"[:300]
            refused.append(why)
            with rt.session() as s:
                row = s.get(OrderRow, ctx.order_id)
                assert row is not None
                note(
                    s, row, "shipment.buy_refused", why, {"shipment_id": shipment_id, "rate": rate.to_dict()}
                )
            continue
        if cancelled:
            void_labels(rt, ctx.order_id, "the order was cancelled while its label was being bought")
        return None
    return "every eligible rate was refused: " + "; ".join(refused)


def _shipment_and_choice(
    rt: Runtime,
    client: EasyPost,
    ctx: Context,
    shipment_id: int,
    package: int,
    parcel: Parcel,
    account: ShippingSettings,
) -> tuple[str, RateChoice]:
    """The parcel's EasyPost shipment (``_create``) and the rate chosen by the merchant's
    policy, recorded in the shipment's own outcome transaction."""
    policy = rate_policy(account, ctx.order, on_time_stats(rt, ctx.account_id, account))
    chosen: list[tuple[str, RateChoice]] = []

    def record_choice(s: Session, done: dict[str, Any]) -> None:
        easypost_id, rates = _created(done)
        choice = choose_rate(rates, policy)
        _record_choice(s, ctx, shipment_id, easypost_id, choice)
        chosen.append((easypost_id, choice))

    _create(rt, client, ctx, shipment_id, package, parcel, then=record_choice)
    return chosen[-1]


def _create(
    rt: Runtime,
    client: EasyPost,
    ctx: Context,
    shipment_id: int,
    package: int,
    parcel: Parcel,
    then: Then,
) -> None:
    """The EasyPost shipment of this parcel (created once) and its rates, handed to ``then``
    (the caller's ``_record_choice``) in the outcome's own transaction; its id is in the
    ledger once created."""
    key = f"shipment:{ctx.order_id}:{package}"
    to = ctx.order.shipping_address
    assert to is not None
    ship_from = dict(rt.settings.shipping.ship_from)
    customs = None
    if needs_customs(ship_from.get("country"), to.country_code):
        titles = {(li.sku or li.title): li.title for li in ctx.order.line_items}
        customs = customs_lines(parcel, titles, ship_from.get("country") or "")

    def act(progress: Progress) -> dict[str, Any]:
        easypost_id, rates = client.create_shipment(to, ship_from, parcel, customs, reference=key)
        progress.found_outside_id(easypost_id)  # committed with the outcome: found by reference
        return {"id": easypost_id, "rates": [r.to_dict() for r in rates]}

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        state = client.retrieve_shipment(found.outside_id) if found.outside_id else None
        state = state or client.find_by_reference(key)
        if state is None:
            return None  # never created: creating is safe
        return {"id": state.id, "rates": [r.to_dict() for r in state.rates]}

    request = {"order_id": ctx.order_id, "package": package, "parcel": parcel_to_json(parcel)}
    rt.ledger.run(key, "easypost_shipment", request, act, recover, account_id=ctx.account_id, then=then)


def _created(done: dict[str, Any]) -> tuple[str, list[Rate]]:
    """The EasyPost shipment's id and rates, as the ledger keeps them."""
    return str(done["id"]), [Rate.from_dict(r) for r in done.get("rates") or []]


def _record_choice(s: Session, ctx: Context, shipment_id: int, easypost_id: str, choice: RateChoice) -> None:
    """The EasyPost shipment's id (state ``created``), every rate considered and why the winner
    won, on the shipment and the timeline (once per change), in ``s``'s transaction."""
    data = choice.to_dict()
    sh = s.get(Shipment, shipment_id, with_for_update=True)
    assert sh is not None
    if sh.easypost_id is None:
        sh.easypost_id, sh.state, sh.updated_at = easypost_id, "created", utcnow()
    if sh.rates == data:
        return
    sh.rates, sh.updated_at = data, utcnow()
    if choice.chosen is None:
        sh.problem = choice.reason[:MAX_PROBLEM]
    reason = f"rates considered (parcel {sh.package}): {choice.reason}"
    record(s, ctx.account_id, f"order:{ctx.order_id}", ACTOR, "shipment.rates", reason, data)


def _buy(
    rt: Runtime,
    client: EasyPost,
    ctx: Context,
    package: int,
    easypost_id: str,
    rate: Rate,
    insurance: Decimal | None,
    then: Then | None = None,
) -> Label:
    """Buy ``rate`` once; after a lost answer or a dead worker the shipment's own label is used.
    ``then``: the caller's record of the label, in the outcome's own transaction."""
    key = f"label:{ctx.order_id}:{package}:{rate.rate_id}"

    def act(progress: Progress) -> dict[str, Any]:
        label = client.buy(easypost_id, rate.rate_id, insurance)
        progress.found_outside_id(label.tracking_code)  # committed with the outcome: see recover
        return label.to_dict()

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        state = client.retrieve_shipment(easypost_id)
        return state.label.to_dict() if state.label is not None else None

    request = {
        "shipment": easypost_id,
        "rate_id": rate.rate_id,
        "insurance": str(insurance) if insurance is not None else None,
    }
    done = rt.ledger.run(key, "label", request, act, recover, account_id=ctx.account_id, then=then)
    return Label.from_dict(done)


def _record_label(
    s: Session, rt: Runtime, shipment_id: int, label: Label, route_class: str, untracked: set[int] | None
) -> OrderRow:
    """Stores the label (state purchased) with what tracking needs (tracker, carrier,
    service, route class, shipped at), in ``s``'s transaction, the parcel added to
    ``untracked`` if its tracker is not kept; returns the order, locked (if it was
    cancelled meanwhile, the caller has its labels voided once this is committed)."""
    sh = s.get(Shipment, shipment_id, with_for_update=True)
    assert sh is not None
    row = s.get(OrderRow, sh.order_id, with_for_update=True)
    assert row is not None
    if sh.state in OPEN_STATES:
        sh.label, sh.tracking_code = label.to_dict(), label.tracking_code
        sh.state, sh.problem, sh.updated_at = "purchased", None, utcnow()
        sh.tracker_id = (str(label.tracker_id)[:64] if label.tracker_id else None) or sh.tracker_id
        sh.carrier, sh.service = label.carrier[:32], label.service[:64]
        sh.route_class, sh.shipped_at = route_class, rt.now()
        price = f" for {label.price.amount} {label.price.currency}" if label.price else ""
        note(
            s,
            row,
            "shipment.label_purchased",
            f"parcel {sh.package}: {label.carrier} {label.service}{price}, tracking {label.tracking_code}",
            {"shipment_id": sh.id, "label": label.to_dict()},
        )
    if untracked is not None and sh.state == "purchased" and not tracker_kept(sh.tracker_id, sh.label):
        untracked.add(sh.id)
    return row


Decided = tuple[str, list[int]]  # ``_labels_in``: the order's stage, the parcels to write back


def _after_labels(rt: Runtime, order_id: int, decided: Decided | None = None) -> str:
    """label_purchased when every parcel has its label; the write-backs follow. ``decided``:
    ``_labels_in``'s answer, when the last label's own transaction took it."""
    if decided is None:
        with rt.session() as s:
            row = s.get(OrderRow, order_id, with_for_update=True)
            if row is None:
                return "missing"
            decided = _labels_in(s, row)
    stage, pending = decided
    for shipment_id in pending:  # here, in this job; the write-back job if it fails
        run_now(rt, "write_back_fulfillment", write_back_job_id(shipment_id), shipment_id=shipment_id)
    return stage


def _labels_in(s: Session, row: OrderRow) -> Decided:
    """In ``s``, the order locked: label_purchased once every live parcel has its label; and
    the bought parcels to write back (none while one is open or the order is stopped)."""
    live = [sh for sh in order_shipments(s, row.id) if sh.state != "voided"]
    if was_cancelled(row) or row.stage not in SHIPPABLE:
        return row.stage, []
    if not live or any(sh.state in OPEN_STATES for sh in live):
        return row.stage, []
    if row.stage == Stage.PACKED:
        codes = ", ".join(sh.tracking_code or "" for sh in live)
        move(s, row, Stage.LABEL_PURCHASED, f"{len(live)} label(s) bought: {codes}")
    return row.stage, [sh.id for sh in live if sh.state == "purchased"]

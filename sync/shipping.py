"""Shipping: parcels, rates, exactly-once labels, trackers, fulfilment write-back, pick and pack.

ready_to_ship -> packed -> label_purchased -> partially_fulfilled | fulfilled; a problem
(nothing fits, no address, no eligible rate, every rate refused) puts the order on_hold
with ``hold_reason`` "shipping: <why>" and ``waybill ship run ID`` resumes it.

``ship_order`` (queue "shipping") plans the parcels once (one ``Shipment`` row per parcel,
unique per order and package) and then, per parcel, walks the effects ledger:

1. ``shipment:<order>:<package>``: create the EasyPost shipment (its reference is the key,
   so a create whose answer was lost is found again by reference); the id is committed at
   once (state created).
2. choose the rate (core/rates.py; every rate considered lands in ``Shipment.rates`` and
   on the timeline), then ``label:<order>:<package>:<rate>``: buy. A claim left unknown or
   expired (a lost answer, a dead worker) is recovered by retrieving the shipment and using
   its label: a shipment that has a label is never bought again. A refusal (Permanent)
   moves on to the next fallback rate under a new key; anything else is raised and retried.
3. ``tracker:<shipment id>``: start the tracker. The label is stored (state purchased),
   and when every parcel has one the order is label_purchased and ``write_back_fulfillment``
   runs per parcel (``fulfil:<shipment id>``: Shopify fulfilmentCreate or WooCommerce
   tracking meta and note; both connectors look before they write, so a retry never writes
   twice).

``void_labels`` refunds every purchased label of a cancelled order (``refund:<shipment id>``).
A purchase in flight when the order is cancelled is noticed under the order's row lock when
its label is recorded, and voided then.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Permanent
from core.money import Money
from core.orders import Order
from core.parcels import (
    BoxSpec,
    Measure,
    choose_parcels,
    customs_lines,
    needs_customs,
    pack_items,
    unweighed,
)
from core.picking import pick_list, verify_packing
from core.rates import RatePolicy, choose_rate, insurance_for, service_level_for
from core.shipping import Label, PackItem, Parcel, Rate, RateChoice
from db.effects import EffectRecord, Progress
from db.models import Order as OrderRow
from db.models import Platform, Shipment, Store, TimelineEntry, utcnow
from db.timeline import record
from sync.catalog import measures_for
from sync.jobs import job, safe_job_id

if TYPE_CHECKING:
    from connectors.easypost.client import EasyPost
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.shipping")

ACTOR = "shipping"
SHIPPABLE = ("ready_to_ship", "packed", "label_purchased")
AWAITING_SCAN = "awaiting_pack_scan"
HOLD_PREFIX = "shipping: "
OPEN_STATES = ("planned", "created")  # no label yet
PACK_ACTIONS = ("pack.verified", "pack.mismatch")
MAX_PROBLEM = 900
STALLED_AFTER = timedelta(seconds=60)  # due work this old with no live job is enqueued again
SWEEP_LIMIT = 500


class ShippingError(Exception):
    """A pick or pack request that cannot be served; ``status`` is the HTTP answer it maps to."""

    status = 409


class OrderNotFound(ShippingError):
    status = 404


class ShippingInputError(ShippingError):
    status = 400


# --- small conversions ------------------------------------------------------------------


def rate_from_dict(data: Mapping[str, Any]) -> Rate:
    days = data.get("delivery_days")
    return Rate(
        rate_id=str(data["rate_id"]),
        carrier=str(data["carrier"]),
        service=str(data["service"]),
        price=Money.from_dict(dict(data["price"])),
        delivery_days=int(days) if days is not None else None,
    )


def label_from_dict(data: Mapping[str, Any]) -> Label:
    price = data.get("price")
    return Label(
        shipment_id=str(data["shipment_id"]),
        tracking_code=str(data["tracking_code"]),
        carrier=str(data["carrier"]),
        service=str(data["service"]),
        label_url=str(data.get("label_url") or ""),
        price=Money.from_dict(dict(price)) if price else None,
        tracker_id=data.get("tracker_id"),
        tracking_url=data.get("tracking_url"),
    )


def parcel_to_json(parcel: Parcel) -> dict[str, Any]:
    """``Parcel.to_dict()`` plus what rebuilding it needs (each unit's size and value)."""
    data = parcel.to_dict()
    data["value"] = str(parcel.value)
    for out, item in zip(data["items"], parcel.items, strict=True):
        out["dims_cm"] = [str(d) for d in item.dims_cm]
        out["value"] = str(item.value)
    return data


def parcel_from_json(data: Mapping[str, Any]) -> Parcel:
    items = tuple(
        PackItem(
            sku=str(i["sku"]),
            grams=int(i["grams"]),
            dims_cm=_three([Decimal(str(d)) for d in i.get("dims_cm") or (0, 0, 0)]),
            line_id=str(i.get("line_id") or ""),
            value=Decimal(str(i.get("value") or "0")),
        )
        for i in data.get("items") or []
    )
    return Parcel(
        box=str(data["box"]),
        length_cm=Decimal(str(data["length_cm"])),
        width_cm=Decimal(str(data["width_cm"])),
        height_cm=Decimal(str(data["height_cm"])),
        weight_g=int(data["weight_g"]),
        items=items,
    )


def _three(values: Sequence[Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    a, b, c = (list(values) + [Decimal("0")] * 3)[:3]
    return a, b, c


def move(s: Session, row: OrderRow, stage: str, reason: str | None, data: Any = None) -> None:
    """Change the order's stage and say why on its timeline."""
    from core.lifecycle import Stage
    from sync.lifecycle import advance

    advance(s, row, Stage(stage), ACTOR, reason, data)


def _note(s: Session, row: OrderRow, action: str, reason: str | None, data: Any = None) -> None:
    record(s, row.account_id, f"order:{row.id}", ACTOR, action, reason, data)


def _cancelled(row: OrderRow) -> bool:
    return row.stage == "cancelled" or row.cancelled_at is not None


def ship_soon(rt: Runtime, order_id: int) -> None:
    rt.enqueue("ship_order", job_id=safe_job_id("ship", order_id), order_id=order_id)


def write_back_soon(rt: Runtime, shipment_id: int) -> None:
    rt.enqueue("write_back_fulfillment", job_id=safe_job_id("fulfil", shipment_id), shipment_id=shipment_id)


# --- ship_order -------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What one run of ``ship_order`` works from."""

    order_id: int
    account_id: int
    order: Order


@job("ship_order", queue="shipping")
def ship_order(rt: Runtime, order_id: int) -> str:
    """Plan parcels, buy one label per parcel, start trackers; returns where the order stands."""
    gate = _enter(rt, order_id)
    if isinstance(gate, str):
        return gate
    planned = _plan(rt, gate)
    if planned is not None:
        return planned
    client = _easypost(rt)
    for shipment_id in _shipment_ids(rt, order_id, OPEN_STATES):
        stopped = _stopped(rt, order_id)
        if stopped is not None:
            return stopped
        problem = _buy_parcel(rt, client, gate, shipment_id)
        if problem is not None:
            return _hold(rt, order_id, problem)
    for shipment_id in _shipment_ids(rt, order_id, ("purchased",)):
        _start_tracker(rt, client, gate, shipment_id)
    return _after_labels(rt, order_id)


def _enter(rt: Runtime, order_id: int) -> Context | str:
    """The order, when it may ship now (moving it to packed), else the stage to stop at."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        if row is None:
            return "missing"
        if row.stage not in SHIPPABLE or row.hold_reason is not None or _cancelled(row):
            return row.stage
        if row.stage == "ready_to_ship":
            verify = rt.settings.shipping.verify_packing
            if verify and not scan_passed(s, row.id):
                return AWAITING_SCAN
            move(s, row, "packed", "contents verified" if verify else "packed without scan")
        return Context(row.id, row.account_id, Order.from_dict(row.data))


def scan_passed(s: Session, order_id: int) -> bool:
    """Whether the order's latest pack scan matched."""
    last = s.scalar(
        select(TimelineEntry.action)
        .where(TimelineEntry.subject == f"order:{order_id}", TimelineEntry.action.in_(PACK_ACTIONS))
        .order_by(TimelineEntry.id.desc())
        .limit(1)
    )
    return last == "pack.verified"


def _plan(rt: Runtime, ctx: Context) -> str | None:
    """Creates the order's Shipment rows once; a packing problem holds the order (its stage returned)."""
    with rt.session() as s:
        packages: dict[int, str] = {
            row.package: row.state
            for row in s.execute(
                select(Shipment.package, Shipment.state).where(Shipment.order_id == ctx.order_id)
            )
        }
    if any(state != "voided" for state in packages.values()):
        return None
    first = max(packages, default=0) + 1  # after voided labels, new parcels get new numbers (and keys)
    settings = rt.settings.shipping
    if ctx.order.shipping_address is None or ctx.order.shipping_address.is_empty():
        return _hold(rt, ctx.order_id, "the order has no shipping address")
    with rt.session() as s:
        row = s.get(OrderRow, ctx.order_id)
        store_id = row.store_id if row is not None else None
        known = measures_for(s, store_id, ctx.order.line_items) if store_id is not None else {}
    try:
        items = pack_items(
            ctx.order.line_items,
            settings.item_dimensions,
            settings.default_item_grams,
            settings.default_item_cm,
            known,
        )
    except ValueError as exc:  # a malformed item_dimensions entry
        return _hold(rt, ctx.order_id, str(exc))
    plan = choose_parcels(items, [BoxSpec.from_settings(b) for b in settings.boxes])
    if plan.problem is not None:
        return _hold(rt, ctx.order_id, plan.problem)
    try:
        with rt.session() as s:
            row = s.get(OrderRow, ctx.order_id)
            assert row is not None
            for package, parcel in enumerate(plan.parcels, start=first):
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
            _note_default_weights(s, row, ctx.order, known, settings.default_item_grams)
            boxes = [f"{p.box} ({p.weight_g} g)" for p in plan.parcels]
            _note(s, row, "shipment.planned", f"{len(boxes)} parcel(s): {', '.join(boxes)}")
    except IntegrityError:
        pass  # another run planned them first: its rows stand
    return None


def _note_default_weights(
    s: Session, row: OrderRow, order: Order, known: Mapping[str, Measure], default_grams: int
) -> None:
    """Say on the timeline which lines were weighed at the default: neither line nor catalog knew."""
    guessed = unweighed(order.line_items, known)
    if not guessed:
        return
    names = ", ".join((line.sku or line.title) for line in guessed)
    _note(
        s,
        row,
        "shipment.default_weight",
        f"no weight known for {names}: {default_grams} g a unit assumed"[:MAX_PROBLEM],
        {"lines": [line.line_id for line in guessed], "grams": default_grams},
    )


def _shipment_ids(rt: Runtime, order_id: int, states: Sequence[str]) -> list[int]:
    with rt.session() as s:
        return list(
            s.scalars(
                select(Shipment.id)
                .where(Shipment.order_id == order_id, Shipment.state.in_(states))
                .order_by(Shipment.package)
            )
        )


def _stopped(rt: Runtime, order_id: int) -> str | None:
    """The stage when the order may no longer ship (cancelled or held meanwhile), else None."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        if row is None:
            return "missing"
        if _cancelled(row) or row.hold_reason is not None or row.stage not in SHIPPABLE:
            return row.stage
        return None


def _hold(rt: Runtime, order_id: int, problem: str) -> str:
    """Holds the order with ``shipping: <problem>``; returns its stage."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        if row is None:
            return "missing"
        if _cancelled(row) or row.stage not in SHIPPABLE:
            return row.stage
        row.hold_reason = (HOLD_PREFIX + problem)[:MAX_PROBLEM]
        move(s, row, "on_hold", row.hold_reason)
    log.info("shipping.held", order_id=order_id, problem=problem[:200])
    return "on_hold"


def _easypost(rt: Runtime) -> EasyPost:
    from sync.carriers import easypost_client

    return easypost_client(rt)


# --- one parcel ---------------------------------------------------------------------------


def _buy_parcel(rt: Runtime, client: EasyPost, ctx: Context, shipment_id: int) -> str | None:
    """Create, choose, buy and record one parcel's label; returns a problem that holds the order."""
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        assert sh is not None
        package, parcel = sh.package, parcel_from_json(sh.parcel)
    easypost_id, rates = _create(rt, client, ctx, shipment_id, package, parcel)
    choice = choose_rate(rates, policy_for(rt, ctx.order))
    _record_choice(rt, shipment_id, choice)
    if choice.chosen is None:
        return choice.reason
    insurance = insurance_for(parcel.value, rt.settings.shipping.insure_above)
    refused: list[str] = []
    for rate in (choice.chosen, *choice.fallbacks):
        try:
            label = _buy(rt, client, ctx, package, easypost_id, rate, insurance)
        except Permanent as exc:
            why = f"{rate.carrier} {rate.service}: {exc}"[:300]
            refused.append(why)
            with rt.session() as s:
                row = s.get(OrderRow, ctx.order_id)
                assert row is not None
                _note(
                    s, row, "shipment.buy_refused", why, {"shipment_id": shipment_id, "rate": rate.to_dict()}
                )
            continue
        _record_label(rt, shipment_id, label)
        return None
    return "every eligible rate was refused: " + "; ".join(refused)


def policy_for(rt: Runtime, order: Order) -> RatePolicy:
    settings = rt.settings.shipping
    level = service_level_for(order.shipping_method, settings.method_map, settings.default_level)
    known = settings.service_levels.get(level)
    return RatePolicy(
        level=level,
        max_days=known.max_days if known is not None else None,
        allow=frozenset(settings.carriers_allow),
        deny=frozenset(settings.carriers_deny),
    )


def _create(
    rt: Runtime, client: EasyPost, ctx: Context, shipment_id: int, package: int, parcel: Parcel
) -> tuple[str, list[Rate]]:
    """The EasyPost shipment of this parcel (created once) and its rates; its id is committed at once."""
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
        progress.record_outside_id(easypost_id)
        return {"id": easypost_id, "rates": [r.to_dict() for r in rates]}

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        state = client.retrieve_shipment(found.outside_id) if found.outside_id else None
        state = state or client.find_by_reference(key)
        if state is None:
            return None  # never created: creating is safe
        return {"id": state.id, "rates": [r.to_dict() for r in state.rates]}

    request = {"order_id": ctx.order_id, "package": package, "parcel": parcel_to_json(parcel)}
    done = rt.ledger.run(key, "easypost_shipment", request, act, recover, account_id=ctx.account_id)
    easypost_id = str(done["id"])
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id, with_for_update=True)
        assert sh is not None
        if sh.easypost_id is None:
            sh.easypost_id, sh.state, sh.updated_at = easypost_id, "created", utcnow()
    return easypost_id, [rate_from_dict(r) for r in done.get("rates") or []]


def _record_choice(rt: Runtime, shipment_id: int, choice: RateChoice) -> None:
    """Every rate considered, and why the winner won, on the shipment and the timeline (once per change)."""
    data = choice.to_dict()
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        assert sh is not None
        if sh.rates == data:
            return
        sh.rates, sh.updated_at = data, utcnow()
        if choice.chosen is None:
            sh.problem = choice.reason[:MAX_PROBLEM]
        row = s.get(OrderRow, sh.order_id)
        assert row is not None
        _note(s, row, "shipment.rates", f"rates considered (parcel {sh.package}): {choice.reason}", data)


def _buy(
    rt: Runtime,
    client: EasyPost,
    ctx: Context,
    package: int,
    easypost_id: str,
    rate: Rate,
    insurance: Decimal | None,
) -> Label:
    """Buy ``rate`` once; after a lost answer or a dead worker the shipment's own label is used."""
    key = f"label:{ctx.order_id}:{package}:{rate.rate_id}"

    def act(progress: Progress) -> dict[str, Any]:
        label = client.buy(easypost_id, rate.rate_id, insurance)
        progress.record_outside_id(label.tracking_code)
        return label.to_dict()

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        state = client.retrieve_shipment(easypost_id)
        return state.label.to_dict() if state.label is not None else None

    request = {
        "shipment": easypost_id,
        "rate_id": rate.rate_id,
        "insurance": str(insurance) if insurance is not None else None,
    }
    done = rt.ledger.run(key, "label", request, act, recover, account_id=ctx.account_id)
    return label_from_dict(done)


def _record_label(rt: Runtime, shipment_id: int, label: Label) -> None:
    """Stores the label (state purchased); an order cancelled meanwhile gets it voided at once."""
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id, with_for_update=True)
        assert sh is not None
        row = s.get(OrderRow, sh.order_id, with_for_update=True)
        assert row is not None
        if sh.state in OPEN_STATES:
            sh.label, sh.tracking_code = label.to_dict(), label.tracking_code
            sh.state, sh.problem, sh.updated_at = "purchased", None, utcnow()
            price = f" for {label.price.amount} {label.price.currency}" if label.price else ""
            _note(
                s,
                row,
                "shipment.label_purchased",
                f"parcel {sh.package}: {label.carrier} {label.service}{price}, "
                f"tracking {label.tracking_code}",
                {"shipment_id": sh.id, "label": label.to_dict()},
            )
        cancelled, order_id = _cancelled(row), row.id
    if cancelled:
        void_labels(rt, order_id, "the order was cancelled while its label was being bought")


def _start_tracker(rt: Runtime, client: EasyPost, ctx: Context, shipment_id: int) -> None:
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        assert sh is not None and sh.label is not None
        label = label_from_dict(sh.label)

    def act(progress: Progress) -> dict[str, Any]:
        tracker_id, url = client.create_tracker(label.tracking_code, label.carrier)
        progress.record_outside_id(tracker_id)
        return {"id": tracker_id, "public_url": url}

    done = rt.ledger.run(
        f"tracker:{shipment_id}",
        "tracker",
        {"tracking_code": label.tracking_code, "carrier": label.carrier},
        act,
        recover=None,  # EasyPost answers a second create with the existing tracker
        account_id=ctx.account_id,
    )
    if label.tracker_id == done.get("id") and label.tracking_url == done.get("public_url"):
        return
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id, with_for_update=True)
        assert sh is not None and sh.label is not None
        sh.label = {**sh.label, "tracker_id": done.get("id"), "tracking_url": done.get("public_url")}
        sh.updated_at = utcnow()


def _after_labels(rt: Runtime, order_id: int) -> str:
    """label_purchased when every parcel has its label; the write-backs are enqueued."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        if row is None:
            return "missing"
        shipments = list(s.scalars(select(Shipment).where(Shipment.order_id == order_id)))
        live = [sh for sh in shipments if sh.state != "voided"]
        if _cancelled(row) or row.stage not in SHIPPABLE:
            return row.stage
        if not live or any(sh.state in OPEN_STATES for sh in live):
            return row.stage
        if row.stage == "packed":
            codes = ", ".join(sh.tracking_code or "" for sh in live)
            move(s, row, "label_purchased", f"{len(live)} label(s) bought: {codes}")
        pending = [sh.id for sh in live if sh.state == "purchased"]
        stage = row.stage
    for shipment_id in pending:
        write_back_soon(rt, shipment_id)
    return stage


# --- fulfilment write-back ------------------------------------------------------------------


@job("write_back_fulfillment", queue="shipping")
def write_back(rt: Runtime, shipment_id: int) -> str:
    """Tell the storefront this parcel shipped, with its tracking; returns the shipment's state."""
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        if sh is None:
            return "missing"
        row = s.get(OrderRow, sh.order_id)
        store = s.get(Store, sh.store_id)
        if sh.state != "purchased" or sh.label is None or row is None or store is None:
            return sh.state
        if _cancelled(row):
            return "cancelled"
        label = label_from_dict(sh.label)
        lines = Counter(str(i.get("line_id") or "") for i in (sh.parcel.get("items") or []))
        others_done = all(
            o.state in ("fulfilled", "voided")
            for o in s.scalars(select(Shipment).where(Shipment.order_id == sh.order_id, Shipment.id != sh.id))
        )
        platform, platform_order_id, account_id = store.platform, row.platform_order_id, row.account_id
        s.expunge(store)
    notify = rt.settings.shipping.notify_customer
    act = _fulfil_shopify if platform is Platform.shopify else _fulfil_woo
    request = {"shipment_id": shipment_id, "order": platform_order_id, "tracking_number": label.tracking_code}
    done = rt.ledger.run(
        f"fulfil:{shipment_id}",
        "fulfilment",
        request,
        lambda progress: act(rt, store, platform_order_id, label, lines, notify, others_done),
        recover=None,  # both connectors look for this tracking number before writing
        account_id=account_id,
    )
    return _record_fulfilment(rt, shipment_id, str(done.get("ref") or ""), store)


def _fulfil_shopify(
    rt: Runtime,
    store: Store,
    order_id: str,
    label: Label,
    lines: Counter[str],
    notify: bool,
    last: bool,
) -> dict[str, Any]:
    from connectors.shopify import fulfillment
    from sync.stores import shopify_client

    wanted = None if "" in lines else sorted(lines.items())
    ref = fulfillment.fulfill(
        shopify_client(rt, store),
        order_id,
        wanted,
        label.carrier,
        label.tracking_code,
        label.tracking_url,
        notify,
    )
    return {"ref": ref}


def _fulfil_woo(
    rt: Runtime,
    store: Store,
    order_id: str,
    label: Label,
    lines: Counter[str],
    notify: bool,
    last: bool,
) -> dict[str, Any]:
    from connectors.woocommerce import fulfillment
    from sync.stores import woo_client

    ref = fulfillment.complete_with_tracking(
        woo_client(rt, store),
        order_id,
        label.carrier,
        label.tracking_code,
        label.tracking_url,
        notify,
        complete=last,
    )
    return {"ref": ref, "completed": last}


def _record_fulfilment(rt: Runtime, shipment_id: int, ref: str, store: Store) -> str:
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id, with_for_update=True)
        assert sh is not None
        row = s.get(OrderRow, sh.order_id, with_for_update=True)
        assert row is not None
        if sh.state == "purchased":
            sh.state, sh.fulfillment_ref, sh.updated_at = "fulfilled", ref[:128], utcnow()
            _note(
                s,
                row,
                "shipment.fulfilled",
                f"parcel {sh.package}: {store.platform} told, tracking {sh.tracking_code}",
                {"shipment_id": sh.id, "ref": ref},
            )
        live = [
            o for o in s.scalars(select(Shipment).where(Shipment.order_id == row.id)) if o.state != "voided"
        ]
        every = bool(live) and all(o.state == "fulfilled" for o in live)
        stage = "fulfilled" if every else "partially_fulfilled"
        advancing = row.stage in ("packed", "label_purchased", "partially_fulfilled")
        if not _cancelled(row) and advancing and row.stage != stage:
            done = sum(o.state == "fulfilled" for o in live)
            move(s, row, stage, f"{done} of {len(live)} parcel(s) written back to {store.platform}")
        order_id, platform_order_id, account_id = row.id, row.platform_order_id, row.account_id
        state = sh.state
    if every and store.platform is Platform.woocommerce:
        _complete_woo(rt, store, order_id, platform_order_id, account_id)
    return state


def _complete_woo(rt: Runtime, store: Store, order_id: int, platform_order_id: str, account_id: int) -> None:
    """Every parcel is in: the WooCommerce order is completed (once; parcels written back at the
    same time may each have seen the other still open)."""
    from connectors.woocommerce import fulfillment
    from sync.stores import woo_client

    def act(progress: Progress) -> dict[str, Any]:
        fulfillment.set_status(woo_client(rt, store), platform_order_id, "completed")
        return {"status": "completed"}

    rt.ledger.run(
        f"complete:{order_id}",
        "woo_complete",
        {"order": platform_order_id},
        act,
        recover=None,  # setting the same status again is harmless
        account_id=account_id,
    )


# --- voiding ---------------------------------------------------------------------------------


def void_labels(rt: Runtime, order_id: int, reason: str) -> int:
    """Refund every purchased label of the order (once each); returns how many were voided now.

    A refund EasyPost refuses is recorded on the shipment and the timeline (nothing to retry);
    a failure that may pass (5xx, timeout) is raised for the caller's job to retry.
    """
    with rt.session() as s:
        found = [
            (sh.id, sh.easypost_id, sh.account_id)
            for sh in s.scalars(
                select(Shipment).where(Shipment.order_id == order_id, Shipment.state == "purchased")
            )
            if sh.easypost_id
        ]
    if not found:
        return 0
    client = _easypost(rt)
    voided = 0
    for shipment_id, easypost_id, account_id in found:
        assert easypost_id is not None
        try:
            status = _refund(rt, client, shipment_id, easypost_id, account_id)
        except Permanent as exc:
            _void_failed(rt, shipment_id, str(exc))
            continue
        voided += _mark_voided(rt, shipment_id, reason, status)
    return voided


def _refund(rt: Runtime, client: EasyPost, shipment_id: int, easypost_id: str, account_id: int) -> str:
    def act(progress: Progress) -> dict[str, Any]:
        return {"refund_status": client.refund(easypost_id)}

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        status = client.retrieve_shipment(easypost_id).refund_status
        return {"refund_status": status} if status else None

    done = rt.ledger.run(
        f"refund:{shipment_id}", "refund", {"shipment": easypost_id}, act, recover, account_id=account_id
    )
    return str(done.get("refund_status") or "submitted")


def _mark_voided(rt: Runtime, shipment_id: int, reason: str, status: str) -> int:
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id, with_for_update=True)
        if sh is None or sh.state != "purchased":
            return 0
        sh.state, sh.updated_at = "voided", utcnow()
        row = s.get(OrderRow, sh.order_id)
        assert row is not None
        _note(
            s,
            row,
            "shipment.voided",
            f"parcel {sh.package}: label {sh.tracking_code} refund {status}: {reason}"[:MAX_PROBLEM],
            {"shipment_id": sh.id, "refund_status": status},
        )
        return 1


def _void_failed(rt: Runtime, shipment_id: int, why: str) -> None:
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        if sh is None:
            return
        sh.problem = f"refund refused: {why}"[:MAX_PROBLEM]
        row = s.get(OrderRow, sh.order_id)
        assert row is not None
        _note(s, row, "shipment.void_failed", sh.problem, {"shipment_id": sh.id})


# --- operators and the sweep ------------------------------------------------------------------


def resume(rt: Runtime, order_id: int, actor: str) -> str:
    """Release a shipping hold (the merchant fixed boxes, carriers or the address) and ship now.

    Returns the stage ``ship_order`` left the order in. Holds that are not shipping's
    (review, oversold) are left to their owners.
    """
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        if row is None:
            raise OrderNotFound(f"order {order_id} not found")
        if row.stage == "on_hold" and (row.hold_reason or "").startswith(HOLD_PREFIX):
            was = row.hold_reason
            row.hold_reason = None
            row.stage = "ready_to_ship"
            row.updated_at = utcnow()
            record(s, row.account_id, f"order:{row.id}", actor, "order.ready_to_ship", f"released: {was}")
    return str(ship_order(rt, order_id))


def void_order(rt: Runtime, order_id: int, reason: str, actor: str) -> int:
    """Void the order's unused labels on an operator's word; a live order waits on hold until
    ``resume`` buys new ones. Returns how many labels were voided."""
    voided = void_labels(rt, order_id, reason)
    if not voided:
        return 0
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        if row is not None and not _cancelled(row) and row.stage in SHIPPABLE:
            row.hold_reason = f"{HOLD_PREFIX}labels voided by {actor}: {reason}"[:MAX_PROBLEM]
            move(s, row, "on_hold", row.hold_reason)
    return voided


def resume_stalled(rt: Runtime) -> int:
    """Work the database says is due and no job carries (a lost job, an embedded restart):
    orders waiting to ship and labels not yet written back. Returns how many were enqueued."""
    cutoff = utcnow() - STALLED_AFTER
    # Without auto_ship an operator starts each order: only orders already started resume.
    stalled = ("ready_to_ship", "packed") if rt.settings.shipping.auto_ship else ("packed",)
    with rt.session() as s:
        orders = list(
            s.scalars(
                select(OrderRow.id)
                .where(
                    OrderRow.stage.in_(stalled),
                    OrderRow.hold_reason.is_(None),
                    OrderRow.updated_at <= cutoff,
                )
                .limit(SWEEP_LIMIT)
            )
        )
        parcels = list(
            s.scalars(
                select(Shipment.id)
                .join(OrderRow, OrderRow.id == Shipment.order_id)
                .where(
                    Shipment.state == "purchased",
                    Shipment.updated_at <= cutoff,
                    OrderRow.stage.in_(("label_purchased", "partially_fulfilled")),
                )
                .limit(SWEEP_LIMIT)
            )
        )
    enqueued = 0
    for order_id in orders:
        if not rt.queue.is_live(safe_job_id("ship", order_id)) and _may_start(rt, order_id):
            ship_soon(rt, order_id)
            enqueued += 1
    for shipment_id in parcels:
        if not rt.queue.is_live(safe_job_id("fulfil", shipment_id)):
            write_back_soon(rt, shipment_id)
            enqueued += 1
    return enqueued


def _may_start(rt: Runtime, order_id: int) -> bool:
    """Whether shipping may start without a person: packed orders were started already; a
    ready one needs its pack scan (``verify_packing``) or ``auto_ship``."""
    settings = rt.settings.shipping
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        if row is None or row.stage not in ("ready_to_ship", "packed"):
            return False
        if row.stage == "packed":
            return True
        if settings.verify_packing:
            return scan_passed(s, order_id)
        return settings.auto_ship


# --- pick and pack -----------------------------------------------------------------------------


def _order_in(s: Session, account_id: int, order_id: int) -> OrderRow:
    row = s.get(OrderRow, order_id)
    if row is None or row.account_id != account_id:
        raise OrderNotFound(f"order {order_id} not found")
    return row


def pick_list_for(rt: Runtime, account_id: int, order_ids: list[int] | None) -> list[dict[str, Any]]:
    """The pick list (one line per SKU, in bin order) for the orders, or every ready_to_ship order."""
    with rt.session() as s:
        if order_ids is None:
            rows = list(
                s.scalars(
                    select(OrderRow)
                    .where(OrderRow.account_id == account_id, OrderRow.stage == "ready_to_ship")
                    .order_by(OrderRow.id)
                )
            )
        else:
            rows = [_order_in(s, account_id, oid) for oid in dict.fromkeys(order_ids)]
        batch = [(str(r.id), Order.from_dict(r.data)) for r in rows]
        numbers = {str(r.id): r.number for r in rows}
    lines = pick_list(batch, rt.settings.shipping.bins)
    return [
        {
            "bin": p.bin,
            "sku": p.sku,
            "title": p.title,
            "quantity": p.quantity,
            "orders": [{"id": int(ref), "number": numbers[ref]} for ref in p.orders],
        }
        for p in lines
    ]


def expected_units(order: Order) -> dict[str, int]:
    """The units the parcel must hold, per SKU (title when a line has none)."""
    units: Counter[str] = Counter()
    for line in order.line_items:
        if line.requires_shipping and line.quantity > 0:
            units[(line.sku or "").strip() or line.title] += line.quantity
    return dict(units)


def record_pack_scan(
    rt: Runtime, account_id: int, order_id: int, scanned: list[str], actor: str
) -> dict[str, Any]:
    """Check what was scanned into the parcel against the order; a match lets the label be bought.

    A mismatch is recorded (``pack.mismatch``) and the order stays ready_to_ship.
    """
    if not isinstance(scanned, list) or not all(isinstance(c, str) for c in scanned):
        raise ShippingInputError("scanned must be a list of SKUs or barcodes")
    if not actor or not actor.strip():
        raise ShippingInputError("actor is required: who packed the parcel")
    with rt.session() as s:
        row = _order_in(s, account_id, order_id)
        if row.stage != "ready_to_ship" or row.hold_reason is not None:
            why = f": {row.hold_reason}" if row.hold_reason else ""
            raise ShippingError(f"order {order_id} is {row.stage}{why}, not ready to pack")
        check = verify_packing(expected_units(Order.from_dict(row.data)), scanned, barcodes_for(rt))
        result = {
            "order_id": row.id,
            "ok": check.ok,
            "message": check.message,
            "missing": dict(check.missing),
            "extra": dict(check.extra),
            "unknown": list(check.unknown),
            "stage": row.stage,
        }
        subject = f"order:{row.id}"
        if check.ok:
            record(
                s,
                account_id,
                subject,
                actor.strip()[:64],
                "pack.verified",
                check.message,
                {"scanned": len(scanned)},
            )
        else:
            data = {k: result[k] for k in ("missing", "extra", "unknown")}
            record(s, account_id, subject, actor.strip()[:64], "pack.mismatch", check.message, data)
    if check.ok:
        ship_soon(rt, order_id)
    return result


def barcodes_for(rt: Runtime) -> dict[str, str]:
    """Barcode -> SKU. The catalog import does not keep barcodes yet, so scans are SKUs."""
    return {}

"""``buy_return_label``: the return label, once per return, sent to the customer.

1. the parcel of the returned units (core/parcels.py, the catalog's weights as for an
   order), from the customer's address (the order's shipping address) to the merchant's
   return address (``returns.address``, else ``shipping.ship_from``);
2. ``retlabel:<return>`` in the effects ledger: EasyPost's ``is_return`` shipment, its
   cheapest allowed rate bought (``EasyPost.buy_return_label``); after a lost answer or a
   dead worker ``find_return_label`` (by the key, the shipment's reference) finds it, so a
   return never gets two labels;
3. the tracker (``rettracker:<return>``) when the purchase did not start one;
4. state ``label_sent`` with the parcel's fields (tracker, code, carrier), then the
   customer's e-mail with the label link (``retmail:<return>:label``, through the notifier),
   and the storefront told (``write_back_return``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.addresses import Address
from core.orders import LineItem, Order
from core.parcels import BoxSpec, choose_parcels, pack_items
from core.rates import RatePolicy
from core.returns import ReturnState
from core.shipping import Label, Parcel, parcel_to_json
from db.effects import EffectRecord, Progress
from db.models import Order as OrderRow
from db.models import Return
from sync.account_settings import settings_for
from sync.catalog import measures_for
from sync.jobs import job
from sync.returns.common import items_of, move, note, order_of, soon
from sync.returns.merchant import for_account
from sync.shipping.common import easypost
from sync.shipping.policy import rate_policy

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connectors.easypost.client import EasyPost
    from sync.runtime import Runtime


def parcel_for(rt: Runtime, s: Session, row: OrderRow, units: Sequence[tuple[LineItem, int]]) -> Parcel | str:
    """One parcel holding ``units`` (line, quantity), or why there is none."""
    settings = settings_for(rt, row.account_id, s).shipping  # the merchant's own boxes
    lines = [replace(line, quantity=qty) for line, qty in units if qty > 0]
    known = measures_for(s, row.store_id, lines)
    try:
        items = pack_items(
            lines, settings.item_dimensions, settings.default_item_grams, settings.default_item_cm, known
        )
    except ValueError as exc:
        return str(exc)
    plan = choose_parcels(items, [BoxSpec.from_settings(b) for b in settings.boxes])
    if plan.problem is not None:
        return plan.problem
    if len(plan.parcels) != 1:
        return f"the units need {len(plan.parcels)} parcels; one label is bought per return"
    return plan.parcels[0]


def return_rates(rt: Runtime, order: Order, account_id: int | None = None) -> RatePolicy:
    """Returns travel at the standard level: the cheapest allowed rate (of the account's carriers)."""
    shipping = settings_for(rt, account_id).shipping if account_id is not None else rt.settings.shipping
    policy = rate_policy(shipping, order)
    return replace(policy, level="standard", max_days=None, on_time_min=None)


@job("buy_return_label", queue="returns")
def buy_return_label(rt: Runtime, return_id: int) -> str:
    """Buy and send the return's label once (see the module's docstring); returns its state."""
    loaded = _load(rt, return_id)
    if isinstance(loaded, str):
        return loaded
    order, parcel, address, account_id = loaded
    client = easypost(rt)
    to = order.shipping_address
    assert to is not None
    key, rates = f"retlabel:{return_id}", return_rates(rt, order, account_id)

    def act(progress: Progress) -> dict[str, Any]:
        label = client.buy_return_label(to, address, parcel, rates, key)
        progress.record_outside_id(label.shipment_id)
        return label.to_dict()

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        label = client.find_return_label(key, rates)
        return label.to_dict() if label is not None else None

    request = {"return_id": return_id, "parcel": parcel_to_json(parcel), "to": address}
    label = Label.from_dict(rt.ledger.run(key, "return_label", request, act, recover, account_id=account_id))
    label = _tracker(rt, client, return_id, account_id, label)
    state = _record(rt, return_id, label)
    mail_label(rt, return_id)
    soon(rt, "write_back_return", return_id, "label_sent")
    return state


def _load(rt: Runtime, return_id: int) -> tuple[Order, Parcel, dict[str, Any], int] | str:
    with rt.session() as s:
        ret = s.get(Return, return_id, with_for_update=True)
        if ret is None:
            return "missing"
        if ret.state != ReturnState.approved or ret.label is not None:
            return str(ret.state)
        merchant = for_account(rt, s, ret.account_id)
        if not merchant.prepaid:
            return "no label: the customer sends the parcel back"
        row = order_of(s, ret)
        order = Order.from_dict(row.data)
        problem = None if _has_address(order.shipping_address) else "the order has no shipping address"
        lines = {line.line_id: line for line in order.line_items}
        units = [(lines[i.line_id], i.quantity) for i in items_of(s, ret.id) if i.line_id in lines]
        parcel = parcel_for(rt, s, row, units) if problem is None else problem
        if isinstance(parcel, str):
            if ret.problem != parcel:
                ret.problem = parcel[:900]
                note(s, ret, "return.label_problem", parcel)
            return "problem"
        return order, parcel, merchant.address, ret.account_id


def _has_address(address: Address | None) -> bool:
    return address is not None and not address.is_empty()


def _tracker(rt: Runtime, client: EasyPost, return_id: int, account_id: int, label: Label) -> Label:
    if label.tracker_id:
        return label

    def act(progress: Progress) -> dict[str, Any]:
        tracker_id, url = client.create_tracker(label.tracking_code, label.carrier)
        progress.record_outside_id(tracker_id)
        return {"id": tracker_id, "public_url": url}

    done = rt.ledger.run(
        f"rettracker:{return_id}",
        "tracker",
        {"tracking_code": label.tracking_code, "carrier": label.carrier},
        act,
        recover=None,  # EasyPost answers a second create with the existing tracker
        account_id=account_id,
    )
    return replace(
        label, tracker_id=done.get("id"), tracking_url=label.tracking_url or done.get("public_url")
    )


def _record(rt: Runtime, return_id: int, label: Label) -> str:
    with rt.session() as s:
        ret = s.get(Return, return_id, with_for_update=True)
        assert ret is not None
        if ret.label is None:
            ret.label, ret.easypost_id = label.to_dict(), label.shipment_id[:64]
            ret.tracker_id = (label.tracker_id or "")[:64] or None
            ret.tracking_code, ret.carrier, ret.service = (
                label.tracking_code[:64],
                label.carrier[:32],
                label.service[:64],
            )
            ret.problem = None
        if ret.state == ReturnState.approved:
            price = f" for {label.price.amount} {label.price.currency}" if label.price else ""
            why = f"{label.carrier} {label.service}{price}, tracking {label.tracking_code}"
            # carrier time (rt.now), so the evidence rules compare it with the original delivery
            move(s, ret, ReturnState.label_sent, why, {"label": label.to_dict()}, at=rt.now())
        return str(ret.state)


def mail_label(rt: Runtime, return_id: int) -> dict[str, Any]:
    """The customer's e-mail with the label link, once (``retmail:<return>:label``)."""
    from connectors.notify import Message
    from sync.notify import notifier_for
    from sync.returns.links import return_page_url

    with rt.session() as s:
        ret = s.get(Return, return_id)
        assert ret is not None and ret.label is not None
        row = order_of(s, ret)
        account_id, email, number = ret.account_id, row.email, row.number
        merchant_name = _merchant_name(s, ret.account_id)
        label = Label.from_dict(ret.label)
    key = f"retmail:{return_id}:label"

    def act(progress: Progress) -> dict[str, Any]:
        if not email:
            with rt.session() as s:
                ret = s.get(Return, return_id)
                assert ret is not None
                note(s, ret, "return.label_not_mailed", "the order has no e-mail address")
            return {"sent": False, "why": "no e-mail address"}
        body = (
            f"Hello,\n\nYour return for order {number} is approved. Print your return label:\n"
            f"{label.label_url}\n\nTracking: {label.tracking_code} ({label.carrier})\n"
            f"Follow your return: {return_page_url(rt, return_id)}\n\n{merchant_name}"
        )
        message = Message(
            key=key,
            to=email,
            subject=f"Your return label for order {number}",
            body=body,
            sender_name=merchant_name,
        )
        ref = notifier_for(rt).send(message)
        with rt.session() as s:
            ret = s.get(Return, return_id)
            assert ret is not None
            note(s, ret, "return.label_mailed", "the return label was e-mailed to the customer")
        return {"sent": True, "ref": ref}

    return rt.ledger.run(
        key, "notice", {"return_id": return_id, "kind": "label"}, act, None, account_id=account_id
    )


def _merchant_name(s: Session, account_id: int) -> str:
    from db.models import Account

    account = s.get(Account, account_id)
    return account.name if account is not None else ""

"""Customer notices: one message per kind and parcel, through the notifier port.

Due (:func:`send_due`, run by ``push_tracking``): each unfinished delivery exception of the
parcel (``notices.exceptions``; ``late`` is a delay: ``notices.delays``), a carrier delay
(milestone ``delayed``, ``notices.delays``), and out for delivery and delivered
(``notices.milestones``), per the merchant's settings (sync/tracking/merchant.py).
:func:`notify_once` sends one inside the effects ledger under ``notice:<shipment>:<kind>``:
a kind is sent once per parcel, however often it is due. An order without an e-mail
address gets no notice (its timeline says so, once).

Templates: :data:`DEFAULTS` per kind, overridden by ``tracking.templates`` and the
merchant's ``templates`` (``{kind: {"subject": ..., "body": ...}}``). They are rendered by
:func:`render` with a fixed set of fields (:data:`FIELDS`); any other placeholder, a
placeholder with a format or conversion, or a template whose braces do not parse, is
rendered literally (nothing else of the program is reachable from a template). Nothing of
a message (address, text) is logged.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from connectors.notify import Message
from core.tracking import ExceptionKind, Milestone, changes
from db.models import DeliveryException, Shipment
from db.models import Order as OrderRow
from db.timeline import record
from sync.notify import notifier_for
from sync.tracking.links import tracking_page_url
from sync.tracking.merchant import MerchantTracking, for_account

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sync.runtime import Runtime

ACTOR = "tracking"
FIELDS = ("order_number", "merchant_name", "tracking_url", "status", "estimate", "carrier", "tracking_code")
_BODY = (
    "Hello,\n\n{status}\n\nFollow your parcel: {tracking_url}\n"
    "Estimated delivery: {estimate}\n\n{merchant_name}"
)
# kind -> (subject, the status sentence of the body)
DEFAULTS: dict[str, tuple[str, str]] = {
    "out_for_delivery": ("Your order {order_number} is out for delivery", "It will arrive today."),
    "delivered": ("Your order {order_number} was delivered", "The carrier delivered it."),
    "delayed": ("Your order {order_number} is delayed", "The carrier reports a delay."),
    "late": ("Your order {order_number} is running late", "It is taking longer than the carrier estimated."),
    "stalled": ("Your order {order_number} is taking longer than usual", "We are checking with the carrier."),
    "failure": ("A problem with the delivery of order {order_number}", "The carrier could not deliver it."),
    "return_to_sender": ("Your order {order_number} is coming back to us", "The carrier is returning it."),
    "available_for_pickup": (
        "Your order {order_number} is ready for pickup",
        "It waits for you at a pickup point.",
    ),
    "attempted_delivery": ("We missed you: order {order_number}", "The carrier tried to deliver it."),
    "carrier_error": ("About the tracking of order {order_number}", "The carrier reports a problem."),
}
MILESTONE_NOTICES = (Milestone.out_for_delivery, Milestone.delivered)


def render(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{field}`` of :data:`FIELDS` replaced; anything else literal."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return template
    out: list[str] = []
    for literal, field, spec, conversion in parts:
        out.append(literal)
        if field is None:
            continue
        if field in FIELDS and not spec and not conversion:
            out.append(values.get(field, ""))
        else:
            out.append(
                "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            )
    return "".join(out)


def template_for(merchant: MerchantTracking, kind: str) -> tuple[str, str]:
    """(subject, body) of ``kind``: the merchant's, else the default."""
    subject, sentence = DEFAULTS.get(kind, ("About your order {order_number}", "{status}"))
    own = merchant.templates.get(kind) or {}
    return own.get("subject") or subject, own.get("body") or _BODY.replace("{status}", sentence)


def due(merchant: MerchantTracking, open_kinds: list[str], milestones: list[Milestone]) -> list[str]:
    """The notice kinds due for a parcel, in a stable order."""
    wanted = merchant.notices
    kinds: list[str] = []
    for kind in open_kinds:
        if (wanted.delays if kind == ExceptionKind.late else wanted.exceptions) and kind not in kinds:
            kinds.append(kind)
    if wanted.delays and Milestone.delayed in milestones:
        kinds.append(str(Milestone.delayed))
    if wanted.milestones:
        kinds += [str(m) for m in MILESTONE_NOTICES if m in milestones]
    return kinds


@dataclass(frozen=True)
class Addressee:
    shipment_id: int
    order_id: int
    account_id: int
    email: str | None
    values: dict[str, str]
    merchant: MerchantTracking


def send_due(rt: Runtime, shipment_id: int) -> list[str]:
    """Send every notice due for the parcel (each once); returns the kinds due."""
    from sync.tracking.events import stored_scans

    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        row = s.get(OrderRow, sh.order_id) if sh is not None else None
        if sh is None or row is None:
            return []
        merchant = for_account(rt, s, row.account_id)
        kinds, who = due_for(rt, s, sh, row, merchant, [m for _, m in changes(stored_scans(s, sh.id))])
    send(rt, kinds, who)
    return kinds


def due_for(
    rt: Runtime,
    s: Session,
    sh: Shipment,
    row: OrderRow,
    merchant: MerchantTracking,
    milestones: list[Milestone],
) -> tuple[list[str], Addressee | None]:
    """The notices due for a parcel loaded in ``s`` (its milestones so far) and whom they go
    to: for a caller that has the parcel loaded already (``push_tracking``)."""
    kinds_open = list(
        s.scalars(
            select(DeliveryException.kind)
            .where(
                DeliveryException.shipment_id == sh.id,
                DeliveryException.state.in_(("open", "acknowledged")),
            )
            .order_by(DeliveryException.id)
        )
    )
    kinds = due(merchant, kinds_open, milestones)
    if not kinds:
        return [], None
    return kinds, _addressee(rt, s, sh, row, merchant)


def send(rt: Runtime, kinds: list[str], who: Addressee | None) -> None:
    """Send the notices ``due_for`` found (each once: the ledger keeps them)."""
    if who is None:
        return
    for kind in kinds:
        notify_once(rt, who, kind)


def _addressee(rt: Runtime, s: Session, sh: Shipment, row: OrderRow, merchant: MerchantTracking) -> Addressee:
    url = tracking_page_url(rt, sh.id)
    estimate = f"{sh.est_delivery_at:%Y-%m-%d}" if sh.est_delivery_at is not None else "not known yet"
    state = (sh.delivery_state or "unknown").replace("_", " ")
    values = {
        "order_number": row.number,
        "merchant_name": merchant.name,
        "tracking_url": url,
        "status": state,
        "estimate": estimate,
        "carrier": sh.carrier or "",
        "tracking_code": sh.tracking_code or "",
    }
    return Addressee(sh.id, row.id, row.account_id, row.email or None, values, merchant)


def notify_once(rt: Runtime, who: Addressee, kind: str) -> dict[str, Any]:
    """Send the ``kind`` notice of the parcel once (the ledger's ``notice:<shipment>:<kind>``)."""
    key = f"notice:{who.shipment_id}:{kind}"

    def act(progress: Any) -> dict[str, Any]:
        if not who.email:
            _note(rt, who, "notice.not_sent", f"{kind}: the order has no e-mail address", kind)
            return {"sent": False, "why": "no e-mail address"}
        subject, body = template_for(who.merchant, kind)
        message = Message(
            key=key,
            to=who.email,
            subject=render(subject, who.values),
            body=render(body, who.values),
            sender_name=who.merchant.name,
        )
        ref = notifier_for(rt).send(message)
        _note(rt, who, "notice.sent", f"{kind} notice sent", kind)
        return {"sent": True, "ref": ref}

    return rt.ledger.run(
        key,
        "notice",
        {"shipment_id": who.shipment_id, "kind": kind},
        act,
        recover=None,
        account_id=who.account_id,
    )


def _note(rt: Runtime, who: Addressee, action: str, reason: str, kind: str) -> None:
    with rt.session() as s:
        record(
            s,
            who.account_id,
            f"order:{who.order_id}",
            ACTOR,
            action,
            reason,
            {"shipment_id": who.shipment_id, "kind": kind},
        )

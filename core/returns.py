"""Returns policy: what may come back, what is owed, and when the refund may go out.

Pure. :func:`check_request` decides a customer's request against the merchant's
:class:`ReturnPolicy` (window, products, reasons, photo and note, exchanges) and says,
for each rule that refuses, why in words the customer reads. :func:`refund_plan` prices
the refund (items, original shipping, restocking fee, return label). :func:`evidence_flags`
reads the risk signals of a return parcel and its customer, and :func:`refund_ready` says
whether the refund may be issued now, must wait for evidence, or is held for a person.
A return's states and the moves between them are :class:`ReturnState` and :data:`MOVES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class ReturnState(StrEnum):
    requested = "requested"
    approved = "approved"
    refused = "refused"
    label_sent = "label_sent"
    in_transit = "in_transit"
    received = "received"
    inspected = "inspected"
    refunded = "refunded"
    exchanged = "exchanged"
    closed = "closed"


S = ReturnState
# Refunded, exchanged and closed are finished. A refund (or the exchange parcel) may go out
# once the policy's evidence is there: at the first scan (in_transit), on delivery to the
# merchant (received) or after inspection; with no return label (``label: none``) an
# approved return may be received or settled straight away. Refused moves on only by a
# merchant's override (approved) or closing.
MOVES: Mapping[ReturnState, frozenset[ReturnState]] = {
    S.requested: frozenset({S.approved, S.refused, S.closed}),
    S.approved: frozenset({S.label_sent, S.received, S.refunded, S.exchanged, S.closed}),
    S.refused: frozenset({S.approved, S.closed}),
    S.label_sent: frozenset({S.in_transit, S.received, S.closed}),
    S.in_transit: frozenset({S.received, S.refunded, S.exchanged, S.closed}),
    S.received: frozenset({S.inspected, S.refunded, S.exchanged, S.closed}),
    S.inspected: frozenset({S.refunded, S.exchanged, S.closed}),
    S.refunded: frozenset(),
    S.exchanged: frozenset(),
    S.closed: frozenset(),
}
FINISHED = frozenset(state for state, onward in MOVES.items() if not onward)


def can_move(a: ReturnState | str, b: ReturnState | str) -> bool:
    """Whether a return in state ``a`` may move to ``b`` (an unknown state moves nowhere)."""
    if a not in MOVES or b not in MOVES:
        return False
    return ReturnState(b) in MOVES[ReturnState(a)]


class Resolution(StrEnum):
    refund = "refund"
    exchange = "exchange"


class Condition(StrEnum):
    resellable = "resellable"
    damaged = "damaged"
    wrong_item = "wrong_item"
    missing = "missing"


# Units that did not come back (or came back as something else) are not refunded.
NOT_REFUNDED = frozenset({Condition.wrong_item, Condition.missing})


class Evidence(StrEnum):
    """What a refund waits for, weakest first."""

    carrier_scan = "carrier_scan"
    delivered = "delivered"
    inspected = "inspected"


REASONS = (
    "unwanted",
    "defective",
    "wrong_item",
    "not_as_described",
    "size_too_small",
    "size_too_large",
    "other",
)
MERCHANT_FAULT = frozenset({"defective", "wrong_item", "not_as_described"})


@dataclass(frozen=True)
class ReturnPolicy:
    """One merchant's returns policy (``returns`` in config.yaml, with its overrides)."""

    window_days: int = 30  # from delivery, else from fulfilment
    non_returnable_skus: frozenset[str] = frozenset()
    non_returnable_tags: frozenset[str] = frozenset()  # lower case
    final_sale_tags: frozenset[str] = frozenset()  # lower case
    reasons: tuple[str, ...] = REASONS
    photo_reasons: frozenset[str] = frozenset({"defective"})
    note_reasons: frozenset[str] = frozenset({"not_as_described", "other"})
    merchant_pays_reasons: frozenset[str] = MERCHANT_FAULT
    restocking_fee_pct: Decimal = Decimal("0")  # percent of the items returned for a customer-paid reason
    refund_shipping_reasons: frozenset[str] = MERCHANT_FAULT
    exchange_allowed: bool = True
    exchange_difference: str = "refund"  # "refund" | "absorb"
    refund_after: Evidence = Evidence.delivered
    refund_at_first_scan_when_clean: bool = False
    light_parcel_ratio: Decimal = Decimal("0.5")
    high_return_rate: Decimal = Decimal("0.5")
    high_return_rate_min_orders: int = 3
    serial_returns: int = 3
    serial_days: int = 90

    @classmethod
    def from_settings(cls, returns: Any) -> ReturnPolicy:
        """From ``settings.ReturnsSettings`` (one merchant's, resolved) or anything alike."""
        return cls(
            window_days=int(returns.window_days),
            non_returnable_skus=frozenset(s.strip() for s in returns.non_returnable_skus if s.strip()),
            non_returnable_tags=_tags(returns.non_returnable_tags),
            final_sale_tags=_tags(returns.final_sale_tags),
            reasons=tuple(returns.reasons),
            photo_reasons=frozenset(returns.photo_reasons),
            note_reasons=frozenset(returns.note_reasons),
            merchant_pays_reasons=frozenset(returns.merchant_pays_reasons),
            restocking_fee_pct=Decimal(str(returns.restocking_fee_pct)),
            refund_shipping_reasons=frozenset(returns.refund_shipping_reasons),
            exchange_allowed=bool(returns.exchange_allowed),
            exchange_difference=str(returns.exchange_difference),
            refund_after=Evidence(returns.refund_after),
            refund_at_first_scan_when_clean=bool(returns.refund_at_first_scan_when_clean),
            light_parcel_ratio=Decimal(str(returns.light_parcel_ratio)),
            high_return_rate=Decimal(str(returns.high_return_rate)),
            high_return_rate_min_orders=int(returns.high_return_rate_min_orders),
            serial_returns=int(returns.serial_returns),
            serial_days=int(returns.serial_days),
        )


def _tags(tags: Any) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in tags)


# ---------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class LineFacts:
    """An order line as the policy sees it. ``returned``: units already in other returns."""

    line_id: str
    sku: str | None
    title: str
    quantity: int
    returned: int
    unit_price: Decimal
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Ask:
    """Units of one line the customer wants to send back, and why."""

    line_id: str
    quantity: int
    reason: str
    note: str = ""
    photo: bool = False
    exchange_sku: str | None = None
    exchange_price: Decimal | None = None  # None: the same price
    exchange_in_stock: bool = True


@dataclass(frozen=True)
class Refusal:
    rule: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "reason": self.reason}


@dataclass(frozen=True)
class Decision:
    refusals: tuple[Refusal, ...]
    window_ends_at: datetime | None
    merchant_pays_label: bool

    @property
    def accepted(self) -> bool:
        return not self.refusals

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "refusals": [r.to_dict() for r in self.refusals],
            "window_ends_at": self.window_ends_at.isoformat() if self.window_ends_at else None,
            "merchant_pays_label": self.merchant_pays_label,
        }


def check_request(
    policy: ReturnPolicy,
    lines: Mapping[str, LineFacts],
    asks: Sequence[Ask],
    delivered_at: datetime | None,
    fulfilled_at: datetime | None,
    now: datetime,
) -> Decision:
    """The policy's answer to a request: every rule that refuses it, with the customer's words.

    The window runs ``window_days`` from delivery, else from fulfilment, and includes its
    last instant. The merchant pays the return label when any unit comes back for one of
    ``merchant_pays_reasons`` (that unit has to come back at the merchant's cost anyway).
    """
    refusals: list[Refusal] = []
    if not asks:
        refusals.append(Refusal("nothing_asked", "Choose at least one item to return."))
    ends_at, window_refusal = _window(policy, delivered_at, fulfilled_at, now)
    if window_refusal is not None:
        refusals.append(window_refusal)
    asked: dict[str, int] = {}
    for ask in asks:
        line = lines.get(ask.line_id)
        if line is None:
            refusals.append(Refusal("unknown_line", f"This order has no item {ask.line_id}."))
            continue
        asked[ask.line_id] = asked.get(ask.line_id, 0) + ask.quantity
        refusals.extend(_line_refusals(policy, line, ask, asked[ask.line_id]))
    pays = any(ask.reason in policy.merchant_pays_reasons for ask in asks)
    return Decision(tuple(refusals), ends_at, pays)


def _window(
    policy: ReturnPolicy, delivered_at: datetime | None, fulfilled_at: datetime | None, now: datetime
) -> tuple[datetime | None, Refusal | None]:
    start, since = (delivered_at, "delivery") if delivered_at is not None else (fulfilled_at, "fulfilment")
    if start is None:
        return None, Refusal("window", "This order has not been sent yet, so it cannot be returned yet.")
    ends_at = start + timedelta(days=policy.window_days)
    if now <= ends_at:
        return ends_at, None
    days = "day" if policy.window_days == 1 else "days"
    closed = ends_at.date().isoformat()
    text = f"The return window closed on {closed} ({policy.window_days} {days} after {since})."
    return ends_at, Refusal("window", text)


def _line_refusals(policy: ReturnPolicy, line: LineFacts, ask: Ask, asked_so_far: int) -> list[Refusal]:
    name = f'"{line.title}"'
    tags = _tags(line.tags)
    out: list[Refusal] = []
    left = line.quantity - line.returned
    if ask.quantity < 1:
        out.append(Refusal("quantity", f"Choose at least one unit of {name} to return."))
    elif asked_so_far > left:
        out.append(
            Refusal(
                "quantity",
                f"Only {max(left, 0)} of {name} can be returned "
                f"({line.quantity} bought, {line.returned} already returned).",
            )
        )
    barred_sku = line.sku is not None and line.sku.strip() in policy.non_returnable_skus
    if barred_sku or tags & _tags(policy.non_returnable_tags):
        out.append(Refusal("non_returnable", f"{name} cannot be returned."))
    if tags & _tags(policy.final_sale_tags):
        out.append(Refusal("final_sale", f"{name} was a final sale and cannot be returned."))
    if ask.reason not in policy.reasons:
        out.append(
            Refusal("unknown_reason", f"{_words(ask.reason)!r} is not a reason this shop takes returns for.")
        )
    else:
        if ask.reason in policy.photo_reasons and not ask.photo:
            out.append(
                Refusal("photo_required", f"Add a photo of {name} to return it as {_words(ask.reason)}.")
            )
        if ask.reason in policy.note_reasons and not ask.note.strip():
            out.append(
                Refusal("note_required", f"Tell us more about {name} to return it as {_words(ask.reason)}.")
            )
    if ask.exchange_sku is not None:
        out.extend(_exchange_refusals(policy, line, ask, name))
    return out


def _exchange_refusals(policy: ReturnPolicy, line: LineFacts, ask: Ask, name: str) -> list[Refusal]:
    if not policy.exchange_allowed:
        return [
            Refusal("exchange_not_allowed", "This shop does not offer exchanges; choose a refund instead.")
        ]
    out: list[Refusal] = []
    if not ask.exchange_in_stock:
        out.append(
            Refusal("exchange_out_of_stock", f"The item chosen in exchange for {name} is out of stock.")
        )
    if ask.exchange_price is not None and ask.exchange_price > line.unit_price:
        out.append(
            Refusal(
                "exchange_dearer",
                f"The item chosen in exchange for {name} costs more ({ask.exchange_price} instead of "
                f"{line.unit_price}); choose one at the same price or less.",
            )
        )
    return out


def _words(reason: str) -> str:
    return reason.replace("_", " ")


# ---------------------------------------------------------------------------- money


@dataclass(frozen=True)
class RefundItem:
    unit_price: Decimal
    quantity: int
    reason: str
    condition: Condition | None = None  # None: not inspected


@dataclass(frozen=True)
class RefundPlan:
    """What is owed back, in the order's currency: total = items + shipping - fee - label, never below 0."""

    items: Decimal
    shipping: Decimal
    fee: Decimal
    label: Decimal
    total: Decimal

    def to_dict(self) -> dict[str, str]:
        return {
            "items": str(self.items),
            "shipping": str(self.shipping),
            "fee": str(self.fee),
            "label": str(self.label),
            "total": str(self.total),
        }


def cents(amount: Decimal) -> Decimal:
    """The amount to the cent, halves away from zero."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def refund_plan(
    policy: ReturnPolicy,
    items: Sequence[RefundItem],
    shipping_paid: Decimal,
    label_cost: Decimal,
    merchant_pays_label: bool,
) -> RefundPlan:
    """The refund of ``items``: units inspected as missing or wrong are not refunded; the
    restocking fee is ``restocking_fee_pct`` of the items returned for a reason the customer
    pays for; the label is deducted when the customer pays it; the original shipping is
    refunded when any refunded unit came back for one of ``refund_shipping_reasons``.
    Raises ``ValueError`` for a negative price, quantity, shipping or label cost."""
    _check_amounts(items, shipping_paid, label_cost)
    counted = [i for i in items if i.condition not in NOT_REFUNDED]
    value = cents(sum((i.unit_price * i.quantity for i in counted), ZERO))
    customer_paid = sum(
        (i.unit_price * i.quantity for i in counted if i.reason not in policy.merchant_pays_reasons), ZERO
    )
    fee = cents(customer_paid * policy.restocking_fee_pct / 100)
    label = ZERO if merchant_pays_label else cents(label_cost)
    faulty = any(i.reason in policy.refund_shipping_reasons for i in counted)
    shipping = cents(shipping_paid) if faulty else ZERO
    total = max(value + shipping - fee - label, ZERO)
    return RefundPlan(items=value, shipping=shipping, fee=fee, label=label, total=total)


def _check_amounts(items: Sequence[RefundItem], shipping_paid: Decimal, label_cost: Decimal) -> None:
    for item in items:
        if item.unit_price < 0 or item.quantity < 0:
            raise ValueError(
                f"a refund item needs a price and a quantity of 0 or more, "
                f"not {item.unit_price} x {item.quantity}"
            )
    if shipping_paid < 0 or label_cost < 0:
        raise ValueError(f"shipping paid ({shipping_paid}) and label cost ({label_cost}) cannot be negative")


def exchange_refund(policy: ReturnPolicy, unit_price: Decimal, new_price: Decimal) -> Decimal:
    """What is owed back per unit exchanged for a variant at ``new_price``: the difference
    when it is cheaper and the policy refunds differences; else 0 (a dearer variant is refused
    by :func:`check_request`; one let through by a merchant's override costs the customer nothing)."""
    if policy.exchange_difference != "refund" or new_price >= unit_price:
        return ZERO
    return cents(unit_price - new_price)


# ---------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class EvidenceFacts:
    """What is known about a return parcel and its customer. The counts include this return
    and its order; ``account_returns_recent``: the customer's returns within ``serial_days``
    across every store of the account."""

    shipped_weight_oz: Decimal | None = None  # what went out for the returned units
    arrival_weight_oz: Decimal | None = None  # on the merchant's scale
    label_created_at: datetime | None = None  # the return label's
    original_delivered_at: datetime | None = None  # the original parcel's delivery
    customer_orders: int = 0
    customer_returns: int = 0  # orders of this customer with a return
    account_returns_recent: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "shipped_weight_oz": _text(self.shipped_weight_oz),
            "arrival_weight_oz": _text(self.arrival_weight_oz),
            "label_created_at": _text(self.label_created_at),
            "original_delivered_at": _text(self.original_delivered_at),
            "customer_orders": self.customer_orders,
            "customer_returns": self.customer_returns,
            "account_returns_recent": self.account_returns_recent,
        }


def _text(value: Decimal | datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


@dataclass(frozen=True)
class Flag:
    rule: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "reason": self.reason}


def evidence_flags(policy: ReturnPolicy, facts: EvidenceFacts) -> tuple[Flag, ...]:
    """The risk signals of a return, each with the facts a reviewer reads."""
    flags: list[Flag] = []
    shipped, arrived = facts.shipped_weight_oz, facts.arrival_weight_oz
    if shipped is not None and arrived is not None and arrived < shipped * policy.light_parcel_ratio:
        flags.append(
            Flag(
                "light_parcel",
                f"The parcel arrived weighing {arrived} oz, less than {_pct(policy.light_parcel_ratio)} "
                f"of the {shipped} oz shipped.",
            )
        )
    made, delivered = facts.label_created_at, facts.original_delivered_at
    if made is not None and delivered is not None and made < delivered:
        flags.append(
            Flag(
                "label_before_delivery",
                f"The return label was created at {made.isoformat()}, before the order was delivered "
                f"at {delivered.isoformat()}.",
            )
        )
    orders, returns = facts.customer_orders, facts.customer_returns
    if orders >= policy.high_return_rate_min_orders and returns >= policy.high_return_rate * orders:
        flags.append(
            Flag(
                "high_return_rate",
                f"The customer returned {returns} of {orders} orders "
                f"({_pct(Decimal(returns) / orders)}; the limit is {_pct(policy.high_return_rate)}).",
            )
        )
    if facts.account_returns_recent >= policy.serial_returns:
        flags.append(
            Flag(
                "serial_returner",
                f"The customer made {facts.account_returns_recent} returns in {policy.serial_days} days "
                f"across the account's stores (the limit is {policy.serial_returns}).",
            )
        )
    return tuple(flags)


def _pct(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP)}%"


@dataclass(frozen=True)
class Readiness:
    """``waits_for``: the evidence (an :class:`Evidence` value) or "review" the refund waits for."""

    ready: bool
    waits_for: str | None
    hold: bool = False


def refund_ready(
    policy: ReturnPolicy,
    flags: Sequence[Flag],
    scanned: bool,
    delivered: bool,
    inspected: bool,
    reviewed: bool,
) -> Readiness:
    """Whether the refund may go out now. A flagged return not yet reviewed is held (never
    ready). Otherwise it is ready once the evidence reaches ``refund_after`` (inspected
    implies delivered, delivered implies scanned), or at the first scan when the merchant
    opted in and nothing was flagged."""
    if flags and not reviewed:
        return Readiness(ready=False, waits_for="review", hold=True)
    reached = {
        Evidence.carrier_scan: scanned or delivered or inspected,
        Evidence.delivered: delivered or inspected,
        Evidence.inspected: inspected,
    }
    needed = policy.refund_after
    if policy.refund_at_first_scan_when_clean and not flags:
        needed = Evidence.carrier_scan
    if reached[needed]:
        return Readiness(ready=True, waits_for=None)
    return Readiness(ready=False, waits_for=needed.value)

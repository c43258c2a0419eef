"""Write-back: what Waybill tells the storefront about an order (see the package docstring).

Every write here runs inside the effects ledger, whose key the flow owns: the flow passes
it in (``key``) so that a storefront without an idempotency key of its own can leave a
marker carrying it, and the matching ``find_...`` verb finds the write again after a lost
answer. The platform's words (statuses, risk levels, mutation names) stay in the
connector: a verb says what happened, the connector decides how its platform records it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from connectors.errors import Rejected
from core.errors import Conflict
from core.money import Money


def marker(key: str) -> str:
    """The text a storefront leaves in a note or reason so that the write of ``key`` can be found."""
    return f"[waybill {key}]"


_MARKER = re.compile(r"\[waybill ([^\]\s]+)\]")


def marked_key(text: str) -> str | None:
    """The ledger key of the marker ``text`` carries (what :func:`marker` wrote); None without one."""
    found = _MARKER.search(text or "")
    return found.group(1) if found else None


class VerdictOutcome(StrEnum):
    """Where the verdict leaves the order; a storefront may record it as a status."""

    checked = "checked"  # the rules' verdict, the order goes on
    held = "held"  # the rules' verdict, the order waits for a reviewer
    approved_after_review = "approved_after_review"
    rejected_after_review = "rejected_after_review"


class Sentiment(StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"


@dataclass(frozen=True)
class Verdict:
    """One verdict on an order: ``decision`` approve, hold or reject, the facts behind it
    (sentiment, text) and the note a person reads."""

    key: str
    decision: str
    outcome: VerdictOutcome
    facts: tuple[tuple[Sentiment, str], ...]
    note: str


@dataclass(frozen=True)
class Written:
    """What a write left on the storefront: its id there (``ref``), and details for the timeline."""

    ref: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.detail, "ref": self.ref}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Written:
        rest = {k: v for k, v in data.items() if k != "ref"}
        ref = data.get("ref")
        return cls(ref=str(ref) if ref is not None else None, detail=rest)


@dataclass(frozen=True)
class ParcelShipped:
    """One parcel to write back: which order lines it holds ((line id, quantity); None: every
    open line), its tracking, and whether it is the order's last parcel."""

    lines: tuple[tuple[str, int], ...] | None
    carrier: str
    tracking_number: str
    tracking_url: str | None
    last: bool


class TrackingStatus(StrEnum):
    """Where a parcel is, in the words every storefront is mapped from."""

    label_printed = "label_printed"
    confirmed = "confirmed"
    picked_up = "picked_up"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    attempted_delivery = "attempted_delivery"
    delayed = "delayed"
    ready_for_pickup = "ready_for_pickup"
    delivered = "delivered"
    failure = "failure"


@dataclass(frozen=True)
class EventPlace:
    city: str | None = None
    province: str | None = None
    country: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class TrackingUpdate:
    """A carrier's event for a parcel already written back (``fulfilment_ref`` is what
    ``fulfil`` returned); ``notify``: tell the buyer too, where the storefront can."""

    fulfilment_ref: str
    tracking_number: str
    status: TrackingStatus
    happened_at: datetime
    estimated_delivery_at: datetime | None = None
    place: EventPlace | None = None
    message: str | None = None
    notify: bool = False


class OrderStatusRefused(Rejected, Conflict):
    """The store has no such order status (or takes none from Waybill): nothing was changed."""


class ReturnReason(StrEnum):
    unwanted = "unwanted"
    defective = "defective"
    wrong_item = "wrong_item"
    not_as_described = "not_as_described"
    size_too_small = "size_too_small"
    size_too_large = "size_too_large"
    other = "other"


@dataclass(frozen=True)
class ReturnLine:
    line_id: str
    quantity: int
    reason: ReturnReason = ReturnReason.other
    note: str = ""


@dataclass(frozen=True)
class ReturnRequest:
    key: str
    lines: tuple[ReturnLine, ...]
    notify: bool = False


@dataclass(frozen=True)
class RefundLine:
    """``amount``: what is refunded for these units (tax included)."""

    line_id: str
    quantity: int
    amount: Money


@dataclass(frozen=True)
class RefundRequest:
    """A refund of lines (and shipping), never restocking (Waybill's ledger owns stock).
    ``money_back``: the storefront sends the money back through the payment gateway.
    ``return_ref``: the storefront's return the refund settles (what ``open_return`` wrote,
    or the return a customer requested on the storefront); a storefront with native returns
    refunds through that return, the others ignore it."""

    key: str
    lines: tuple[RefundLine, ...]
    shipping: Money | None = None
    note: str = ""
    money_back: bool = False
    notify: bool = False
    return_ref: str | None = None

    def total(self) -> Money:
        amounts = [line.amount for line in self.lines] + ([self.shipping] if self.shipping else [])
        if not amounts:
            raise ValueError("a refund needs a line or shipping")
        currency = amounts[0].currency
        if any(a.currency != currency for a in amounts):
            raise ValueError("a refund is in one currency")
        return Money(sum((a.amount for a in amounts), Money.zero(currency).amount), currency)


class DeclineReason(StrEnum):
    """Why a return request is declined, in the words storefronts record (anything else: ``other``)."""

    return_period_ended = "return_period_ended"
    final_sale = "final_sale"
    other = "other"


# The policy's refusal rules (core.returns ``Refusal.rule``) a storefront has its own word for.
_DECLINE_RULES = {
    "window": DeclineReason.return_period_ended,
    "return_period_ended": DeclineReason.return_period_ended,
    "final_sale": DeclineReason.final_sale,
}


def decline_reason(reason: str) -> DeclineReason:
    """The storefront's reason for a refusal rule (``window`` -> ``return_period_ended``)."""
    return _DECLINE_RULES.get(str(reason), DeclineReason.other)


class WriteVerbs(Protocol):
    """Risk verdict, cancel and is-cancelled, fulfilment with tracking, completion, tracking
    events, returns and refunds; each written once through the effects ledger by the flow.

    ``order_id`` is the platform's order id as stored on the order (exact). A write that
    returns an id may report it at once through ``noted`` (the ledger keeps it, so that the
    ``find_...`` verb can finish the write after a lost answer)."""

    # Whether the order must be completed once every parcel is written back. Such a storefront
    # completes it in the write of the parcel marked ``last`` and says so in that write's
    # details (``completed``: true); ``complete`` is for the orders whose last write did not.
    needs_completion: bool
    # Whether the store can take an order status a merchant named (``set_order_status``).
    custom_statuses: bool
    # Whether the storefront has return objects of its own (requested, approved, declined,
    # closed there); without them a return is kept in order notes.
    native_returns: bool

    def record_verdict(
        self, order_id: str, verdict: Verdict, noted: Callable[[str], None] | None = None
    ) -> Written: ...

    def find_verdict(self, order_id: str, verdict: Verdict, ref: str | None) -> Written | None:
        """The verdict's write after a lost answer, finished; None: not there, write it again."""

    def cancel(self, order_id: str, reason: str) -> Written: ...

    def is_cancelled(self, order_id: str) -> bool: ...

    def fulfil(self, order_id: str, parcel: ParcelShipped) -> Written:
        """Write the parcel back with its tracking; a parcel already written back is not
        written again (the returned ``ref`` is the one written first)."""

    def find_fulfilment(self, order_id: str, tracking_number: str) -> str | None: ...

    def complete(self, order_id: str) -> Written: ...

    def post_tracking_event(self, order_id: str, update: TrackingUpdate) -> Written: ...

    def find_tracking_event(self, order_id: str, update: TrackingUpdate) -> Written | None: ...

    def set_order_status(self, order_id: str, status: str) -> Written:
        """Move the order to the merchant's ``status`` (only where ``custom_statuses``);
        setting it again is harmless. A status the store does not have is refused
        (``OrderStatusRefused``), nothing changed."""

    def open_return(self, order_id: str, request: ReturnRequest) -> Written: ...

    def find_return(self, order_id: str, key: str) -> Written | None: ...

    def approve_return(self, order_id: str, return_ref: str) -> Written:
        """Approve a requested return; approving one already approved is done, not an error."""

    def decline_return(self, order_id: str, return_ref: str, reason: str, note: str = "") -> Written:
        """Decline a requested return: ``reason`` a refusal rule or :class:`DeclineReason`,
        ``note`` what the customer reads; declining one already declined is done."""

    def close_return(self, order_id: str, return_ref: str) -> Written:
        """Close a return (dealt with, or cancelled); closing one already closed is done."""

    def refund(self, order_id: str, request: RefundRequest) -> Written:
        """Refund once (through ``request.return_ref`` where returns are native)."""

    def find_refund(self, order_id: str, key: str, return_ref: str | None = None) -> Written | None:
        """The refund of ``key`` after a lost answer (on the return ``return_ref`` when given)."""

    def note_return(self, order_id: str, key: str, text: str, notify: bool = False) -> Written:
        """Tell the store (and the customer when ``notify``) where a return stands, once per
        ``key``; a storefront with native returns records nothing (its return says it)."""

    def find_return_note(self, order_id: str, key: str) -> Written | None: ...

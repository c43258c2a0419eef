"""The order life cycle: every stage an order can be in, and the moves between them.

received -> verifying -> approved -> ready_to_ship -> packed -> label_purchased
  -> partially_fulfilled -> fulfilled -> delivered; on_hold waits for a person (or the stock, or a
shipping fix); rejected and cancelled are final. ``TRANSITIONS`` says, per stage, where an
order may go next and why (the flow that makes the move); ``check`` refuses any other move.
Pure: no I/O, no platform knowledge. ``sync.lifecycle.advance`` is the one place a flow
changes an order's stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from core.errors import Permanent


class Stage(StrEnum):
    """Where an order stands (``orders.stage``)."""

    RECEIVED = "received"
    VERIFYING = "verifying"
    APPROVED = "approved"
    ON_HOLD = "on_hold"
    REJECTED = "rejected"
    READY_TO_SHIP = "ready_to_ship"
    PACKED = "packed"
    LABEL_PURCHASED = "label_purchased"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class IllegalTransition(Permanent):
    """A flow tried a move the life cycle does not have (a bug: retrying changes nothing)."""

    def __init__(self, frm: str, to: str) -> None:
        super().__init__(f"an order cannot move from {frm} to {to}")
        self.frm, self.to = frm, to


_S = Stage
_CANCELLED = "the storefront cancelled it (intake, stop_order)"
_OVERSOLD = "the stock ledger holds it: oversold (sync/inventory.py)"

# from -> {to: why}. Every edge is a move some flow makes today.
TRANSITIONS: Mapping[Stage, Mapping[Stage, str]] = {
    _S.RECEIVED: {
        _S.VERIFYING: "verify_order starts (paid, nothing decided yet)",
        _S.ON_HOLD: _OVERSOLD,
        _S.CANCELLED: _CANCELLED,
    },
    _S.VERIFYING: {
        _S.APPROVED: "the risk rules approve",
        _S.ON_HOLD: "the rules hold it for review (or reject with reject_action hold), or oversold",
        _S.REJECTED: "the rules reject it (reject_action cancel)",
        _S.CANCELLED: _CANCELLED,
    },
    _S.APPROVED: {
        _S.READY_TO_SHIP: "approved and nothing holds it",
        _S.ON_HOLD: "approved, but the stock ledger held it as oversold",
        _S.CANCELLED: _CANCELLED,
    },
    _S.ON_HOLD: {
        _S.VERIFYING: "held as oversold before its verdict: verification runs",
        _S.APPROVED: "a reviewer approves",
        _S.REJECTED: "a reviewer rejects",
        _S.READY_TO_SHIP: "an operator releases a shipping hold (waybill ship run)",
        _S.ON_HOLD: "held again for another reason (oversold while held)",
        _S.CANCELLED: _CANCELLED,
    },
    _S.READY_TO_SHIP: {
        _S.PACKED: "ship_order starts (pack scan matched, or packed without scan)",
        _S.ON_HOLD: _OVERSOLD,
        _S.CANCELLED: _CANCELLED,
    },
    _S.PACKED: {
        _S.LABEL_PURCHASED: "every parcel has its label",
        _S.PARTIALLY_FULFILLED: "a parcel labelled before it was held is written back",
        _S.FULFILLED: "the last parcel labelled before it was held is written back",
        _S.ON_HOLD: "shipping cannot go on (no box, no address, no rate, labels voided), or oversold",
        _S.CANCELLED: _CANCELLED,
    },
    _S.LABEL_PURCHASED: {
        _S.PARTIALLY_FULFILLED: "some parcels are written back to the storefront",
        _S.FULFILLED: "every parcel is written back to the storefront",
        _S.ON_HOLD: "an operator voided its labels (waybill ship void), or oversold",
        _S.CANCELLED: _CANCELLED,
    },
    _S.PARTIALLY_FULFILLED: {
        _S.FULFILLED: "the last parcel is written back to the storefront",
        _S.ON_HOLD: _OVERSOLD,
        _S.CANCELLED: _CANCELLED,
    },
    _S.FULFILLED: {
        _S.DELIVERED: "the carrier delivered every parcel (sync/tracking)",
        _S.CANCELLED: "the storefront cancelled it after it shipped",
    },
    _S.DELIVERED: {
        _S.CANCELLED: "the storefront cancelled it after it was delivered",
    },
    _S.REJECTED: {},  # the storefront's cancellation of a rejected order keeps it rejected
    _S.CANCELLED: {},
}

INITIAL = frozenset({Stage.RECEIVED, Stage.CANCELLED})  # a new order: cancelled if it came so
FINAL = frozenset(s for s, tos in TRANSITIONS.items() if not tos)  # rejected, cancelled
UNVERIFIED = (Stage.RECEIVED, Stage.VERIFYING)  # waiting for (or in) verification
SHIPPABLE = (Stage.READY_TO_SHIP, Stage.PACKED, Stage.LABEL_PURCHASED)  # ship_order takes these
WRITING_BACK = (Stage.LABEL_PURCHASED, Stage.PARTIALLY_FULFILLED)  # labels to write back
# a label is bought
SHIPPED = (Stage.LABEL_PURCHASED, Stage.PARTIALLY_FULFILLED, Stage.FULFILLED, Stage.DELIVERED)
OPEN = tuple(s for s in Stage if s not in FINAL and s not in (Stage.FULFILLED, Stage.DELIVERED))  # on its way


NAMES = tuple(s.value for s in Stage)  # what the API, the CLI and the metrics accept


def allowed(frm: str, to: str) -> bool:
    """Whether an order in ``frm`` may move to ``to`` (unknown stage names may not)."""
    if frm not in NAMES or to not in NAMES:
        return False
    return Stage(to) in TRANSITIONS[Stage(frm)]


def check(frm: str, to: str) -> Stage:
    """``to`` as a ``Stage`` when the move is in the table, else ``IllegalTransition``."""
    if not allowed(frm, to):
        raise IllegalTransition(frm, to)
    return Stage(to)

"""WooCommerce's single order ``status`` word mapped to Waybill's enums.

WooCommerce has one status where Shopify has three (payment, fulfilment, cancellation),
so each word maps to a triple. Custom statuses added by plugins are not in the table
and map to unknown/unknown, not cancelled.
"""

from __future__ import annotations

from typing import NamedTuple

from core.orders import FinancialStatus, FulfillmentStatus


class StatusMeaning(NamedTuple):
    financial: FinancialStatus
    fulfillment: FulfillmentStatus
    cancelled: bool


_F, _S = FinancialStatus, FulfillmentStatus

STATUSES: dict[str, StatusMeaning] = {
    "pending": StatusMeaning(_F.PENDING, _S.UNFULFILLED, False),
    # Cart stored by the block checkout before the buyer pays.
    "checkout-draft": StatusMeaning(_F.PENDING, _S.UNFULFILLED, False),
    # Awaiting an offline payment (bank transfer, cheque) the merchant must confirm.
    "on-hold": StatusMeaning(_F.PENDING, _S.UNFULFILLED, False),
    # A failed payment can be retried by the buyer on the same order: nothing was captured.
    "failed": StatusMeaning(_F.PENDING, _S.UNFULFILLED, False),
    "processing": StatusMeaning(_F.PAID, _S.UNFULFILLED, False),
    "completed": StatusMeaning(_F.PAID, _S.FULFILLED, False),
    "cancelled": StatusMeaning(_F.VOIDED, _S.UNFULFILLED, True),
    # A refund says nothing about whether the parcel had already left.
    "refunded": StatusMeaning(_F.REFUNDED, _S.UNKNOWN, False),
    # Trashed orders are deleted from the merchant's view: never ship them.
    "trash": StatusMeaning(_F.UNKNOWN, _S.UNKNOWN, True),
}

UNKNOWN = StatusMeaning(_F.UNKNOWN, _S.UNKNOWN, False)


def status_meaning(word: str | None) -> StatusMeaning:
    """What a WooCommerce order status says about payment, fulfilment and cancellation."""
    return STATUSES.get((word or "").lower(), UNKNOWN)


# WC_Order::needs_payment(): the buyer is asked to pay (again) in these statuses.
NEEDS_PAYMENT = frozenset({"pending", "failed", "checkout-draft"})


def financial_status(word: str | None, date_paid_set: bool) -> FinancialStatus:
    """Whether the order is paid, as WooCommerce itself decides it.

    ``is_paid()`` counts processing and completed whatever ``date_paid`` says (a manual
    order reaches processing without one when it needs no processing). ``date_paid`` is
    set once, when a payment completes, and survives a later status change: an order the
    merchant puts on hold after payment is still paid. A status that asks for payment
    (``needs_payment``) or says cancelled or refunded outranks the date.
    """
    meaning = status_meaning(word)
    awaiting = meaning.financial in (FinancialStatus.PENDING, FinancialStatus.UNKNOWN)
    if date_paid_set and awaiting and not meaning.cancelled and (word or "").lower() not in NEEDS_PAYMENT:
        return FinancialStatus.PAID
    return meaning.financial


# wc_maybe_reduce_stock_levels runs when an order reaches one of these statuses;
# wc_maybe_increase_stock_levels gives the stock back on cancelled and pending.
STOCK_REDUCING = frozenset({"processing", "completed", "on-hold"})


def reduces_stock(word: str | None) -> bool:
    """Whether WooCommerce holds the order's units off its own stock in this status."""
    return (word or "").lower() in STOCK_REDUCING

"""Shopify's status words mapped to Waybill's enums.

REST webhooks say ``financial_status: "partially_refunded"``; GraphQL says
``displayFinancialStatus: PARTIALLY_REFUNDED``. Both are looked up lower-cased in one
table. A word not in a table (Shopify adds values) maps to ``unknown``, never an error.
"""

from __future__ import annotations

from core.orders import FinancialStatus, FulfillmentStatus

FINANCIAL: dict[str, FinancialStatus] = {
    "pending": FinancialStatus.PENDING,
    "authorized": FinancialStatus.AUTHORIZED,
    "partially_paid": FinancialStatus.PARTIALLY_PAID,
    "paid": FinancialStatus.PAID,
    "partially_refunded": FinancialStatus.PARTIALLY_REFUNDED,
    "refunded": FinancialStatus.REFUNDED,
    "voided": FinancialStatus.VOIDED,
    # An authorization that lapsed uncaptured: no money will come, as with a void.
    "expired": FinancialStatus.VOIDED,
}

FULFILLMENT: dict[str, FulfillmentStatus] = {
    # REST sends null for an order with nothing shipped yet.
    "": FulfillmentStatus.UNFULFILLED,
    "unfulfilled": FulfillmentStatus.UNFULFILLED,
    "partial": FulfillmentStatus.PARTIAL,
    "partially_fulfilled": FulfillmentStatus.PARTIAL,
    "fulfilled": FulfillmentStatus.FULFILLED,
    # Nothing has left the warehouse in any of these states.
    "open": FulfillmentStatus.UNFULFILLED,
    "in_progress": FulfillmentStatus.UNFULFILLED,
    "pending_fulfillment": FulfillmentStatus.UNFULFILLED,
    "scheduled": FulfillmentStatus.UNFULFILLED,
    "on_hold": FulfillmentStatus.UNFULFILLED,
    "request_declined": FulfillmentStatus.UNFULFILLED,
    # Items went back to stock (cancelled order): none of them shipped.
    "restocked": FulfillmentStatus.UNFULFILLED,
    # Digital-only orders: there is nothing left to ship.
    "fulfillment_not_required": FulfillmentStatus.FULFILLED,
}


def financial_status(word: str | None) -> FinancialStatus:
    """The financial status for a REST or GraphQL word (``None`` -> unknown)."""
    if word is None:
        return FinancialStatus.UNKNOWN
    return FINANCIAL.get(word.lower(), FinancialStatus.UNKNOWN)


def fulfillment_status(word: str | None) -> FulfillmentStatus:
    """The fulfilment status for a REST or GraphQL word (REST's ``null`` -> unfulfilled)."""
    return FULFILLMENT.get((word or "").lower(), FulfillmentStatus.UNKNOWN)

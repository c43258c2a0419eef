"""Every status word each platform documents, mapped to Waybill's enums; unknown words never crash."""

from __future__ import annotations

import pytest

from connectors.shopify import statuses as shopify
from connectors.woocommerce.statuses import STATUSES, StatusMeaning, financial_status, status_meaning
from core.orders import FinancialStatus as F
from core.orders import FulfillmentStatus as S

SHOPIFY_FINANCIAL = {
    "pending": F.PENDING,
    "authorized": F.AUTHORIZED,
    "partially_paid": F.PARTIALLY_PAID,
    "paid": F.PAID,
    "partially_refunded": F.PARTIALLY_REFUNDED,
    "refunded": F.REFUNDED,
    "voided": F.VOIDED,
    "expired": F.VOIDED,
}
SHOPIFY_FULFILLMENT = {
    None: S.UNFULFILLED,
    "unfulfilled": S.UNFULFILLED,
    "partial": S.PARTIAL,
    "partially_fulfilled": S.PARTIAL,
    "fulfilled": S.FULFILLED,
    "open": S.UNFULFILLED,
    "in_progress": S.UNFULFILLED,
    "pending_fulfillment": S.UNFULFILLED,
    "scheduled": S.UNFULFILLED,
    "on_hold": S.UNFULFILLED,
    "request_declined": S.UNFULFILLED,
    "restocked": S.UNFULFILLED,
    "fulfillment_not_required": S.FULFILLED,
}
WOOCOMMERCE = {
    "pending": (F.PENDING, S.UNFULFILLED, False),
    "checkout-draft": (F.PENDING, S.UNFULFILLED, False),
    "on-hold": (F.PENDING, S.UNFULFILLED, False),
    "failed": (F.PENDING, S.UNFULFILLED, False),
    "processing": (F.PAID, S.UNFULFILLED, False),
    "completed": (F.PAID, S.FULFILLED, False),
    "cancelled": (F.VOIDED, S.UNFULFILLED, True),
    "refunded": (F.REFUNDED, S.UNKNOWN, False),
    "trash": (F.UNKNOWN, S.UNKNOWN, True),
}


@pytest.mark.parametrize(("word", "status"), SHOPIFY_FINANCIAL.items())
def test_shopify_financial_rest_and_graphql_words(word: str, status: F) -> None:
    assert shopify.financial_status(word) is status
    assert shopify.financial_status(word.upper()) is status


@pytest.mark.parametrize(("word", "status"), SHOPIFY_FULFILLMENT.items())
def test_shopify_fulfillment_rest_and_graphql_words(word: str | None, status: S) -> None:
    assert shopify.fulfillment_status(word) is status
    if word is not None:
        assert shopify.fulfillment_status(word.upper()) is status


def test_shopify_tables_hold_exactly_the_tested_words() -> None:
    assert set(shopify.FINANCIAL) == set(SHOPIFY_FINANCIAL)
    assert set(shopify.FULFILLMENT) == {w or "" for w in SHOPIFY_FULFILLMENT}


@pytest.mark.parametrize("word", ["", "chargeback", "PAID_LATER"])
def test_shopify_unknown_financial_words(word: str) -> None:
    assert shopify.financial_status(word) is F.UNKNOWN


def test_shopify_missing_financial_status_is_unknown() -> None:
    assert shopify.financial_status(None) is F.UNKNOWN


@pytest.mark.parametrize("word", ["shipped_by_drone", "PARTIAL_FULFILLED"])
def test_shopify_unknown_fulfillment_words(word: str) -> None:
    assert shopify.fulfillment_status(word) is S.UNKNOWN


@pytest.mark.parametrize(("word", "meaning"), WOOCOMMERCE.items())
def test_woocommerce_status_words(word: str, meaning: tuple[F, S, bool]) -> None:
    assert status_meaning(word) == StatusMeaning(*meaning)


# (status word, date_paid set) -> financial status. WooCommerce's is_paid() counts
# processing and completed whatever date_paid says (a manual order of virtual goods
# reaches processing without one); date_paid set means a payment was taken, so an
# order put on hold after it is still paid; pending and failed ask the buyer to pay
# (needs_payment), and a cancellation or refund says more than the payment date.
WOOCOMMERCE_PAID = {
    ("on-hold", True): F.PAID,
    ("on-hold", False): F.PENDING,
    ("processing", False): F.PAID,
    ("processing", True): F.PAID,
    ("completed", False): F.PAID,
    ("pending", True): F.PENDING,
    ("failed", True): F.PENDING,
    ("checkout-draft", True): F.PENDING,
    ("cancelled", True): F.VOIDED,
    ("refunded", True): F.REFUNDED,
    ("trash", True): F.UNKNOWN,
    ("wc-awaiting-pickup", True): F.PAID,
    ("wc-awaiting-pickup", False): F.UNKNOWN,
}


@pytest.mark.parametrize(("case", "status"), WOOCOMMERCE_PAID.items())
def test_woocommerce_date_paid_decides_paid(case: tuple[str, bool], status: F) -> None:
    word, paid = case
    assert financial_status(word, date_paid_set=paid) is status


def test_woocommerce_table_holds_exactly_the_tested_words() -> None:
    assert set(STATUSES) == set(WOOCOMMERCE)


@pytest.mark.parametrize("word", ["shipped", "wc-awaiting-pickup", "", None])
def test_woocommerce_custom_statuses_are_unknown_and_not_cancelled(word: str | None) -> None:
    assert status_meaning(word) == StatusMeaning(F.UNKNOWN, S.UNKNOWN, False)

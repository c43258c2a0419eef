"""Canonical order types: exact JSON form, round trip, UTC only, and which version is newer."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.addresses import Address
from core.money import Money, format_amount, parse_amount
from core.orders import (
    FinancialStatus,
    FulfillmentStatus,
    LineItem,
    Order,
    ShippingMethod,
    Version,
    email_key,
    fingerprint,
    supersedes,
)

T0 = datetime(2024, 5, 2, 14, 15, 30, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


ORDER = Order(
    platform="woocommerce",
    order_id="1542",
    gid=None,
    number="#1542",
    currency="EUR",
    email=None,
    customer_id=None,
    browser_ip=None,
    billing_address=None,
    shipping_address=Address(name="Ana", country_code="PT"),
    line_items=(
        LineItem(
            line_id="1",
            sku=None,
            product_id="7",
            variant_id=None,
            title="Tin",
            quantity=3,
            unit_price=eur("1.10"),
            grams=None,
            requires_shipping=True,
        ),
    ),
    subtotal=eur("3.30"),
    total=eur("3.30"),
    total_tax=eur("0.00"),
    total_shipping=eur("0"),
    total_discounts=eur("0E-2"),
    shipping_method=ShippingMethod(code=None, title="Pickup", price=eur("0.00")),
    financial_status=FinancialStatus.PAID,
    fulfillment_status=FulfillmentStatus.UNFULFILLED,
    cancelled_at=T0 + timedelta(hours=1),
    cancel_reason=None,
    tags=("a", "b"),
    note="n",
    created_at=T0,
    updated_at=T0 + timedelta(microseconds=5),
)


def test_to_dict_is_exact_json() -> None:
    no_address = dict.fromkeys(("company", "line1", "line2", "city", "province_code", "postal_code", "phone"))
    assert ORDER.to_dict() == {
        "platform": "woocommerce",
        "order_id": "1542",
        "gid": None,
        "number": "#1542",
        "currency": "EUR",
        "email": None,
        "customer_id": None,
        "browser_ip": None,
        "billing_address": None,
        "shipping_address": {**no_address, "name": "Ana", "country_code": "PT"},
        "line_items": [
            {
                "line_id": "1",
                "sku": None,
                "product_id": "7",
                "variant_id": None,
                "title": "Tin",
                "quantity": 3,
                "unit_price": {"amount": "1.10", "currency": "EUR"},
                "grams": None,
                "requires_shipping": True,
            }
        ],
        "subtotal": {"amount": "3.30", "currency": "EUR"},
        "total": {"amount": "3.30", "currency": "EUR"},
        "total_tax": {"amount": "0.00", "currency": "EUR"},
        "total_shipping": {"amount": "0", "currency": "EUR"},
        "total_discounts": {"amount": "0.00", "currency": "EUR"},
        "shipping_method": {"code": None, "title": "Pickup", "price": {"amount": "0.00", "currency": "EUR"}},
        "financial_status": "paid",
        "fulfillment_status": "unfulfilled",
        "cancelled_at": "2024-05-02T15:15:30+00:00",
        "cancel_reason": None,
        "tags": ["a", "b"],
        "note": "n",
        "created_at": "2024-05-02T14:15:30+00:00",
        "updated_at": "2024-05-02T14:15:30.000005+00:00",
    }


def test_from_dict_reads_what_to_dict_wrote() -> None:
    assert Order.from_dict(json.loads(json.dumps(ORDER.to_dict()))) == ORDER


@pytest.mark.parametrize("field", ["created_at", "updated_at", "cancelled_at"])
def test_times_must_be_utc(field: str) -> None:
    refusal = rf"^{field} must be timezone-aware UTC, got datetime\.datetime\(2024, 1, 1, 0, 0"
    with pytest.raises(ValueError, match=refusal):
        replace(ORDER, **{field: datetime(2024, 1, 1)})
    with pytest.raises(ValueError, match=refusal):
        replace(ORDER, **{field: datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))})


def test_stored_times_without_zone_are_refused() -> None:
    data = ORDER.to_dict() | {"created_at": "2024-05-02T14:15:30"}
    with pytest.raises(ValueError, match="no zone"):
        Order.from_dict(data)


def test_stored_times_in_another_zone_are_read_as_utc() -> None:
    data = ORDER.to_dict() | {"created_at": "2024-05-02T16:15:30+02:00"}
    assert Order.from_dict(data).created_at == T0


SECOND = timedelta(seconds=1)
FETCHED = datetime(2024, 5, 2, 16, 0, tzinfo=UTC)


def pushed(order: Order) -> Version:
    return Version(order, fetched_at=None)


def test_a_later_modification_time_supersedes() -> None:
    later = replace(ORDER, updated_at=ORDER.updated_at + SECOND)
    assert supersedes(pushed(later), pushed(ORDER)) is True
    assert supersedes(pushed(ORDER), pushed(later)) is False
    # Even a fetched version does not go back in time.
    assert supersedes(Version(ORDER, FETCHED), pushed(later)) is False


def test_an_identical_version_supersedes_only_to_record_a_later_fetch() -> None:
    same = Order.from_dict(ORDER.to_dict())
    assert supersedes(pushed(same), pushed(ORDER)) is False
    assert supersedes(Version(same, FETCHED), Version(ORDER, FETCHED)) is False
    assert supersedes(pushed(same), Version(ORDER, FETCHED)) is False
    # The same content read again later: the held version is now known from a later read.
    assert supersedes(Version(same, FETCHED + SECOND), Version(ORDER, FETCHED)) is True


@pytest.mark.parametrize(
    "change",
    [
        {"cancelled_at": None},
        {"fulfillment_status": FulfillmentStatus.FULFILLED},
        {"financial_status": FinancialStatus.PENDING},
        {"tags": ("other",)},
        {"note": "other"},
        {"shipping_address": Address(name="Ana", line1="Rua 2", country_code="PT")},
    ],
)
def test_of_two_different_versions_in_one_second_exactly_one_supersedes(change: dict[str, object]) -> None:
    other = replace(ORDER, **change)  # type: ignore[arg-type]
    assert supersedes(pushed(other), pushed(ORDER)) != supersedes(pushed(ORDER), pushed(other))


@pytest.mark.parametrize(
    ("change", "wins"),
    [
        ({"cancelled_at": None}, False),  # ORDER is cancelled: an uncancelled copy at the same second loses
        ({"fulfillment_status": FulfillmentStatus.FULFILLED}, True),
        ({"financial_status": FinancialStatus.REFUNDED}, True),
        ({"financial_status": FinancialStatus.PENDING}, False),
    ],
)
def test_of_pushed_versions_in_one_second_the_one_that_moved_further_wins(
    change: dict[str, object], wins: bool
) -> None:
    assert supersedes(pushed(replace(ORDER, **change)), pushed(ORDER)) is wins  # type: ignore[arg-type]


def test_a_fetched_version_supersedes_a_pushed_one_of_the_same_second() -> None:
    # The platform's answer to our own read is what it holds now; a webhook body was
    # built at some unknown moment before it arrived.
    behind = replace(ORDER, cancelled_at=None, financial_status=FinancialStatus.PENDING)
    assert supersedes(Version(behind, FETCHED), pushed(ORDER)) is True
    assert supersedes(pushed(ORDER), Version(behind, FETCHED)) is False


def test_of_two_fetched_versions_in_one_second_the_later_fetch_wins() -> None:
    behind = replace(ORDER, cancelled_at=None, financial_status=FinancialStatus.PENDING)
    assert supersedes(Version(behind, FETCHED + SECOND), Version(ORDER, FETCHED)) is True
    assert supersedes(Version(ORDER, FETCHED), Version(behind, FETCHED + SECOND)) is False


def test_a_cancellation_in_the_second_of_creation_supersedes() -> None:
    open_order = replace(ORDER, cancelled_at=None, cancel_reason=None)
    assert supersedes(pushed(ORDER), pushed(open_order)) is True
    assert supersedes(pushed(open_order), pushed(ORDER)) is False


NOTES = st.sampled_from(["n", "a", "b", "c"])
STATUSES = st.sampled_from(list(FinancialStatus))
FETCHES = st.one_of(st.none(), st.integers(0, 3).map(lambda n: FETCHED + n * SECOND))


@settings(max_examples=200)
@given(
    st.lists(st.tuples(NOTES, STATUSES, st.integers(0, 1), FETCHES), min_size=1, max_size=5),
    st.randoms(use_true_random=False),
)
def test_the_winner_of_a_set_of_versions_does_not_depend_on_their_order(
    specs: list[tuple[str, FinancialStatus, int, datetime | None]], rnd: random.Random
) -> None:
    versions = [
        Version(replace(ORDER, note=note, financial_status=status, updated_at=T0 + n * SECOND), fetched)
        for note, status, n, fetched in specs
    ]

    def deliver(order: list[Version]) -> Version:
        held = order[0]
        for incoming in order[1:]:
            if supersedes(incoming, held):
                held = incoming
        return held

    shuffled = list(versions)
    rnd.shuffle(shuffled)
    assert deliver(shuffled).order == deliver(versions).order


def test_is_cancelled() -> None:
    assert ORDER.is_cancelled is True
    assert replace(ORDER, cancelled_at=None).is_cancelled is False


@pytest.mark.parametrize(
    "bad", [1.5, "1e3", "NaN", "Infinity", "", " ", "1.", ".5", True, Decimal("NaN"), None]
)
def test_parse_amount_refuses_what_is_not_a_plain_decimal(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_amount(bad)


@pytest.mark.parametrize(
    ("raw", "exact"), [("12.50", "12.50"), ("-3.5", "-3.5"), (7, "7"), (" 0.10 ", "0.10")]
)
def test_parse_amount_keeps_the_digits(raw: object, exact: str) -> None:
    assert format_amount(parse_amount(raw)) == exact


def test_money_refuses_floats_and_missing_currency() -> None:
    with pytest.raises(ValueError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(Decimal("1.50"), "")


def test_format_amount_never_uses_exponents() -> None:
    assert format_amount(Decimal("0E-8")) == "0.00000000"
    assert format_amount(Decimal("1E+3")) == "1000"


texts = st.none() | st.text(max_size=12)
ids = st.integers(min_value=0, max_value=2**64 - 1).map(str)
amounts = st.decimals(allow_nan=False, allow_infinity=False)
currencies = st.sampled_from(["USD", "EUR", "JPY", "KWD"])
moneys = st.builds(Money, amount=amounts, currency=currencies)
utc_times = st.datetimes(timezones=st.just(UTC))
addresses = st.none() | st.builds(Address, *[texts] * 9)
line_items = st.builds(
    LineItem,
    line_id=ids,
    sku=texts,
    product_id=st.none() | ids,
    variant_id=st.none() | ids,
    title=st.text(max_size=12),
    quantity=st.integers(min_value=0, max_value=10_000),
    unit_price=moneys,
    grams=st.none() | st.integers(min_value=0, max_value=10**6),
    requires_shipping=st.booleans(),
)
orders = st.builds(
    Order,
    platform=st.sampled_from(["shopify", "woocommerce"]),
    order_id=ids,
    gid=texts,
    number=st.text(max_size=8),
    currency=currencies,
    email=texts,
    customer_id=st.none() | ids,
    browser_ip=texts,
    billing_address=addresses,
    shipping_address=addresses,
    line_items=st.lists(line_items, max_size=3).map(tuple),
    subtotal=moneys,
    total=moneys,
    total_tax=moneys,
    total_shipping=moneys,
    total_discounts=moneys,
    shipping_method=st.none()
    | st.builds(ShippingMethod, code=texts, title=st.text(max_size=8), price=moneys),
    financial_status=st.sampled_from(FinancialStatus),
    fulfillment_status=st.sampled_from(FulfillmentStatus),
    cancelled_at=st.none() | utc_times,
    cancel_reason=texts,
    tags=st.lists(st.text(max_size=6), max_size=3).map(tuple),
    note=texts,
    created_at=utc_times,
    updated_at=utc_times,
)


@settings(max_examples=150, deadline=None)
@given(orders)
def test_json_round_trip(order: Order) -> None:
    stored = json.dumps(order.to_dict())
    assert Order.from_dict(json.loads(stored)) == order


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        (" Ana@Example.COM ", "ana@example.com"),
        ("ana@example.com", "ana@example.com"),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_an_e_mail_is_matched_trimmed_and_lower_cased(typed: str | None, key: str | None) -> None:
    assert email_key(typed) == key


@pytest.fixture
def machine_in_kolkata(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone set to UTC+05:30, as on a server configured in India."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_in_kolkata")
def test_times_are_written_and_read_as_utc_whatever_the_machines_zone() -> None:
    assert datetime(2024, 5, 2, 12, 0).astimezone().utcoffset() == timedelta(hours=5, minutes=30)  # the setup
    data = ORDER.to_dict()
    assert (data["created_at"], data["updated_at"], data["cancelled_at"]) == (
        "2024-05-02T14:15:30+00:00",
        "2024-05-02T14:15:30.000005+00:00",
        "2024-05-02T15:15:30+00:00",
    )
    again = Order.from_dict(data | {"created_at": "2024-05-02T16:15:30+02:00"})
    assert again.created_at == T0
    assert again.created_at.utcoffset() == timedelta(0)
    assert again == ORDER


def test_a_versions_fetch_time_must_be_utc_and_the_refusal_names_it() -> None:
    assert Version(ORDER, FETCHED).fetched_at == FETCHED
    with pytest.raises(ValueError, match=r"^fetched_at must be timezone-aware UTC, got "):
        Version(ORDER, datetime(2024, 5, 2, 16, 0))
    with pytest.raises(ValueError, match=r"^fetched_at must be timezone-aware UTC, got "):
        Version(ORDER, datetime(2024, 5, 2, 16, 0, tzinfo=timezone(timedelta(hours=-3))))


def test_the_content_digest_is_sha256_of_the_stored_form_in_canonical_json() -> None:
    # Rule 3 of supersedes ranks by this digest: every worker, of this release or the next,
    # must compute the same one, so its form is fixed: keys sorted, no blanks.
    canonical = json.dumps(ORDER.to_dict(), sort_keys=True, separators=(",", ":"))
    assert canonical.startswith('{"billing_address":null,"browser_ip":null,"cancel_reason":null,')
    assert fingerprint(ORDER) == hashlib.sha256(canonical.encode()).hexdigest()
    assert fingerprint(Order.from_dict(ORDER.to_dict())) == fingerprint(ORDER)
    assert fingerprint(replace(ORDER, note="other")) != fingerprint(ORDER)

"""The shared payload readers every order mapper uses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors import MappingError, amount, exact_id, optional_id, require, text, utc_time, whole_number


@pytest.mark.parametrize(("raw", "exact"), [(0, "0"), (2**63 - 1, "9223372036854775807"), ("0042", "42")])
def test_exact_id(raw: object, exact: str) -> None:
    assert exact_id(raw, "t") == exact


@pytest.mark.parametrize("raw", [1.0, 2.0**60, True, False, -1, "", "4.2", "٣", None, [1]])
def test_exact_id_refuses(raw: object) -> None:
    with pytest.raises(MappingError, match=r"^t: id"):
        exact_id(raw, "t")


def test_optional_id_treats_woocommerce_zero_and_null_as_absent() -> None:
    assert optional_id(0, "t") is None
    assert optional_id(None, "t") is None
    assert optional_id(23, "t") == "23"
    with pytest.raises(MappingError):
        optional_id(0.0, "t")


def test_amount_wraps_value_errors() -> None:
    assert amount("19.99", "t") == Decimal("19.99")
    with pytest.raises(MappingError, match=r"^t: amount 19\.99 is not a decimal string"):
        amount(19.99, "t")


def test_utc_time() -> None:
    assert utc_time("2021-12-31T19:00:00-05:00", "t") == datetime(2022, 1, 1, tzinfo=UTC)
    assert utc_time("2024-06-01T15:04:05Z", "t") == datetime(2024, 6, 1, 15, 4, 5, tzinfo=UTC)
    assert utc_time("2024-06-01T15:04:05", "t", naive_is_utc=True) == datetime(
        2024, 6, 1, 15, 4, 5, tzinfo=UTC
    )


@pytest.mark.parametrize("raw", ["2024-06-01T15:04:05", "yesterday", 1717254245, None])
def test_utc_time_refuses(raw: object) -> None:
    with pytest.raises(MappingError, match=r"^t: "):
        utc_time(raw, "t")


def test_text_blank_is_none() -> None:
    assert [text(v) for v in (None, "", "  ", "x", " x ")] == [None, None, None, "x", " x "]


def test_whole_number() -> None:
    assert whole_number(3, "t") == 3
    for bad in (3.0, "3", True):
        with pytest.raises(MappingError):
            whole_number(bad, "t")


def test_require() -> None:
    assert require({"a": 0}, "a", "where") == 0
    with pytest.raises(MappingError, match=r"^where: missing required field 'b'$"):
        require({"b": None}, "b", "where")


def test_mapping_errors_quote_values_briefly_and_never_an_email() -> None:
    with pytest.raises(MappingError) as caught:
        exact_id("jane.doe@example.com", "order.id")
    assert "jane" not in str(caught.value) and "example.com" not in str(caught.value)
    assert str(caught.value) == "order.id: id <str of 20 characters> is not a non-negative integer"
    with pytest.raises(MappingError) as caught:
        utc_time("x" * 5000, "order.created_at")
    assert len(str(caught.value)) < 100


def test_carrier_messages_are_kept_to_one_short_line() -> None:
    from connectors.easypost.mappers import failed_check, to_state

    check = failed_check([{"field": "street1", "message": "Address not found.\n" + "detail " * 400}], None)
    [message] = check.messages
    assert len(message) <= 120 and "\n" not in message and message.startswith("Address not found. detail")
    state = to_state({"id": "shp_1", "messages": [{"carrier": "USPS", "message": "<html>" + "x" * 5000}]})
    assert len(state.messages[0]) <= 120

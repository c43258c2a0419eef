"""Money's refusals say what was wrong, and failures carry what the retry decision needs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import NotAttempted, Retryable, ServiceDown
from core.money import Money, parse_amount


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "amount 1.5 is not a decimal string"),
        (True, "amount True is not a decimal string"),
        (Decimal("NaN"), "amount Decimal('NaN') is not finite"),
        (Decimal("Infinity"), "amount Decimal('Infinity') is not finite"),
        ("1e3", "amount '1e3' is not a decimal string"),
        ("", "amount '' is not a decimal string"),
        (None, "amount None is not a decimal string"),
    ],
)
def test_refused_amounts_name_the_value(value: object, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_amount(value)
    assert str(refused.value) == message


def test_money_refuses_a_float_or_no_currency_with_its_reason() -> None:
    with pytest.raises(ValueError) as no_decimal:
        Money(1.5, "USD")  # type: ignore[arg-type]
    assert str(no_decimal.value) == "Money amount must be a finite Decimal, got 1.5"
    with pytest.raises(ValueError) as no_currency:
        Money(Decimal("1"), "")
    assert str(no_currency.value) == "Money needs a currency"


def test_failures_keep_their_message_and_what_the_retry_needs() -> None:
    busy = Retryable("rate limited", wait_s=2.5)
    assert (str(busy), busy.wait_s) == ("rate limited", 2.5)
    assert Retryable("later").wait_s is None
    gave_up = NotAttempted("not sent", wait_s=1)
    assert (str(gave_up), gave_up.wait_s) == ("not sent", 1)
    down = ServiceDown("redis", "connection refused")
    assert (str(down), down.service) == ("connection refused", "redis")

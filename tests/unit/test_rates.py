"""The rate chooser and service levels, table-driven, including the empty and no-rate cases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import Money
from core.orders import ShippingMethod
from core.rates import RatePolicy, choose_rate, insurance_for, service_level_for
from core.shipping import Rate


def rate(carrier: str, service: str, price: str, days: int | None, currency: str = "USD") -> Rate:
    return Rate(f"rate_{carrier}_{service}", carrier, service, Money(Decimal(price), currency), days)


USPS_GROUND = rate("USPS", "GroundAdvantage", "5.10", 5)
USPS_PRIORITY = rate("USPS", "Priority", "7.90", 2)
UPS_NEXT = rate("UPS", "NextDayAir", "31.00", 1)
FEDEX_2DAY = rate("FedEx", "FEDEX_2_DAY", "7.90", 2)
DHL_NONE = rate("DHLExpress", "ExpressWorldwide", "4.00", None)
ALL = [UPS_NEXT, USPS_PRIORITY, USPS_GROUND, FEDEX_2DAY]

STANDARD = RatePolicy("standard", None)
EXPEDITED = RatePolicy("expedited", 3)
OVERNIGHT = RatePolicy("overnight", 1)


@pytest.mark.parametrize(
    ("rates", "policy", "chosen"),
    [
        (ALL, STANDARD, USPS_GROUND),
        (ALL, EXPEDITED, FEDEX_2DAY),  # tie at 7.90 and 2 days: carrier name decides (FedEx < USPS)
        (ALL, OVERNIGHT, UPS_NEXT),
        ([*ALL, DHL_NONE], STANDARD, DHL_NONE),  # no promise is fine when no speed is required
        ([*ALL, DHL_NONE], EXPEDITED, FEDEX_2DAY),  # ... and not when one is
        (ALL, RatePolicy("standard", None, deny=frozenset({"usps"})), FEDEX_2DAY),  # case-insensitive
        (ALL, RatePolicy("standard", None, allow=frozenset({"UPS"})), UPS_NEXT),
        (
            [rate("A", "x", "9.00", 3), rate("B", "y", "9.00", 2)],
            STANDARD,
            rate("B", "y", "9.00", 2),
        ),  # faster
    ],
)
def test_the_cheapest_eligible_rate_wins(rates: list[Rate], policy: RatePolicy, chosen: Rate) -> None:
    choice = choose_rate(rates, policy)
    assert choice.chosen == chosen
    assert chosen.carrier in choice.reason and policy.level in choice.reason
    assert len(choice.considered) == len(rates)


def test_fallbacks_are_the_other_eligible_rates_cheapest_first() -> None:
    choice = choose_rate(ALL, EXPEDITED)
    assert choice.fallbacks == (USPS_PRIORITY, UPS_NEXT)  # faster than needed is still eligible
    reasons = {c.rate.rate_id: (c.eligible, c.reason) for c in choice.considered}
    assert reasons[USPS_GROUND.rate_id] == (False, "too slow: 5 days > 3")
    assert (
        reasons[UPS_NEXT.rate_id] == (False, "too slow: 1 days > 3") or reasons[UPS_NEXT.rate_id][0] is True
    )
    assert reasons[FEDEX_2DAY.rate_id][1].startswith("chosen")


@pytest.mark.parametrize(
    ("rates", "policy", "reason"),
    [
        ([], STANDARD, "no rates returned"),
        (ALL, RatePolicy("standard", None, deny=frozenset({"usps", "ups", "fedex"})), "none of 4 rate(s)"),
        ([USPS_GROUND, DHL_NONE], OVERNIGHT, "none of 2 rate(s) is eligible for overnight"),
    ],
)
def test_nothing_eligible_is_a_clear_reason_not_a_crash(
    rates: list[Rate], policy: RatePolicy, reason: str
) -> None:
    choice = choose_rate(rates, policy)
    assert choice.chosen is None and choice.fallbacks == ()
    assert reason in choice.reason
    assert all(not c.eligible for c in choice.considered)


def test_every_refusal_names_its_reason() -> None:
    policy = RatePolicy("overnight", 1, allow=frozenset({"ups", "usps", "dhlexpress"}))
    choice = choose_rate([*ALL, DHL_NONE], policy)
    why = {c.rate.carrier + c.rate.service: c.reason for c in choice.considered if not c.eligible}
    assert why["FedExFEDEX_2_DAY"] == "carrier FedEx is not on the allow list"
    assert why["USPSPriority"] == "too slow: 2 days > 1"
    assert why["DHLExpressExpressWorldwide"].startswith("no delivery promise")


def test_rates_in_another_currency_are_not_compared() -> None:
    cad = rate("CanadaPost", "Expedited", "3.00", 2, currency="CAD")
    choice = choose_rate([USPS_PRIORITY, cad], EXPEDITED)
    assert choice.chosen == cad  # the cheapest amount sets the currency
    (other,) = [c for c in choice.considered if c.rate is USPS_PRIORITY]
    assert (other.eligible, other.reason) == (False, "priced in USD, not comparable with CAD")


def test_a_choice_serialises_for_the_timeline() -> None:
    data = choose_rate(ALL, EXPEDITED).to_dict()
    assert data["chosen"]["price"] == {"amount": "7.90", "currency": "USD"}
    assert [c["eligible"] for c in data["considered"]].count(True) == 3


METHOD_MAP = {"express": "expedited", "Next Day": "overnight"}


@pytest.mark.parametrize(
    ("method", "level"),
    [
        (None, "standard"),
        (ShippingMethod("express", "Fast", Money(Decimal("9"), "USD")), "expedited"),  # by code
        (ShippingMethod(None, " next day ", Money(Decimal("9"), "USD")), "overnight"),  # by title, trimmed
        (ShippingMethod("free_shipping", "Free", Money(Decimal("0"), "USD")), "standard"),  # unmapped
    ],
)
def test_service_level_for_the_buyers_method(method: ShippingMethod | None, level: str) -> None:
    assert service_level_for(method, METHOD_MAP, "standard") == level


@pytest.mark.parametrize(
    ("value", "above", "insured"),
    [("100", None, None), ("100", "100", None), ("100.01", "100", Decimal("100.01")), ("0", "0", None)],
)
def test_insurance_above_the_threshold(value: str, above: str | None, insured: Decimal | None) -> None:
    assert insurance_for(Decimal(value), Decimal(above) if above else None) == insured

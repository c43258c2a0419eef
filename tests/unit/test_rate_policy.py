"""Rate policy as configured: allow and deny lists, service levels, ties, insurance.

Each case changes one input against an otherwise equal choice, and reads the reason a
person sees on the timeline.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import Money
from core.orders import ShippingMethod
from core.rates import RatePolicy, choose_rate, insurance_for, service_level_for
from core.shipping import Rate


def rate(carrier: str, service: str, price: str, days: int | None, currency: str = "USD") -> Rate:
    return Rate(f"rate_{carrier}_{service}", carrier, service, Money(Decimal(price), currency), days)


ANY = RatePolicy("standard", None)
TWO_DAYS = RatePolicy("expedited", 2)


# -- ties
@pytest.mark.parametrize("policy", [ANY, RatePolicy("economy", 10)])
def test_a_price_tie_where_one_rate_has_no_promise_goes_to_the_promised_one(policy: RatePolicy) -> None:
    promised = rate("USPS", "Ground", "5.00", 5)
    unpromised = rate("DHL", "Economy", "5.00", None)
    for rates in ([promised, unpromised], [unpromised, promised]):
        choice = choose_rate(rates, policy)
        if policy.max_days is None:
            assert choice.chosen == promised
            assert choice.fallbacks == (unpromised,)
        else:
            assert choice.chosen == promised and choice.fallbacks == ()


def test_a_price_tie_where_neither_rate_promises_goes_by_carrier_then_service() -> None:
    a = rate("DHL", "Zeta", "5.00", None)
    b = rate("dhl", "alpha", "5.00", None)
    c = rate("Asendia", "Parcel", "5.00", None)
    for rates in ([a, b, c], [c, b, a], [b, a, c]):
        choice = choose_rate(rates, ANY)
        assert choice.chosen == c
        assert choice.fallbacks == (b, a)  # "dhl alpha" before "DHL Zeta": case is ignored


def test_a_price_tie_goes_to_the_faster_and_a_cheaper_slow_rate_still_wins() -> None:
    slow, fast = rate("B", "s", "6.00", 4), rate("A", "f", "6.00", 1)
    assert choose_rate([slow, fast], ANY).chosen == fast
    cheap = rate("C", "c", "5.99", 7)
    assert choose_rate([slow, fast, cheap], ANY).chosen == cheap


def test_the_reason_names_the_winner_and_the_gap_to_each_fallback() -> None:
    a, b, c = rate("A", "x", "5.00", 2), rate("B", "y", "5.50", 2), rate("C", "z", "9.00", 1)
    choice = choose_rate([c, b, a], TWO_DAYS)
    assert (
        choice.reason == "cheapest of 3 eligible rate(s) delivering within 2 day(s) (expedited): A x 5.00 USD"
    )
    assert [(x.rate.carrier, x.eligible, x.reason) for x in choice.considered] == [
        ("A", True, "chosen: cheapest delivering within 2 day(s) (expedited)"),
        ("B", True, "eligible, 0.50 USD more"),
        ("C", True, "eligible, 4.00 USD more"),
    ]
    any_speed = choose_rate([a], ANY)
    assert any_speed.reason == "cheapest of 1 eligible rate(s) at any speed (standard): A x 5.00 USD"


# -- the service level's speed: at, below and above
@pytest.mark.parametrize(
    ("days", "why"),
    [
        (1, None),
        (2, None),
        (3, "too slow: 3 days > 2"),
        (None, "no delivery promise; expedited needs 2 day(s) or fewer"),
    ],
)
def test_max_days_at_below_and_above(days: int | None, why: str | None) -> None:
    r = rate("UPS", "Ground", "8.00", days)
    choice = choose_rate([r], TWO_DAYS)
    assert choice.chosen == (r if why is None else None)
    if why is not None:
        assert [(c.eligible, c.reason) for c in choice.considered] == [(False, why)]
        assert choice.reason == "none of 1 rate(s) is eligible for expedited (delivering within 2 day(s))"


# -- allow and deny lists
@pytest.mark.parametrize(
    ("allow", "deny", "eligible"),
    [
        (set(), set(), {"USPS", "UPS", "FedEx"}),
        ({"ups"}, set(), {"UPS"}),
        ({" UPS ", "fedex"}, set(), {"UPS", "FedEx"}),
        (set(), {"usps"}, {"UPS", "FedEx"}),
        (set(), {" USPS ", "FEDEX"}, {"UPS"}),
        ({"ups", "usps"}, {"usps"}, {"UPS"}),  # deny wins over allow
        ({"dhl"}, set(), set()),
    ],
)
def test_allow_and_deny_lists(allow: set[str], deny: set[str], eligible: set[str]) -> None:
    rates = [
        rate("USPS", "Ground", "5.00", 3),
        rate("UPS", "Ground", "6.00", 3),
        rate("FedEx", "Home", "7.00", 3),
    ]
    choice = choose_rate(rates, RatePolicy("standard", None, frozenset(allow), frozenset(deny)))
    assert {c.rate.carrier for c in choice.considered if c.eligible} == eligible
    reasons = {c.rate.carrier: c.reason for c in choice.considered if not c.eligible}
    for carrier, why in reasons.items():
        if carrier.lower() in {d.strip().lower() for d in deny}:
            assert why == f"carrier {carrier} is denied"
        else:
            assert why == f"carrier {carrier} is not on the allow list"
    cheapest = min((r for r in rates if r.carrier in eligible), key=lambda r: r.price.amount, default=None)
    assert choice.chosen == cheapest


def test_a_carrier_name_with_spaces_around_it_is_still_matched() -> None:
    r = rate(" USPS ", "Ground", "5.00", 3)
    assert choose_rate([r], RatePolicy("standard", None, deny=frozenset({"usps"}))).chosen is None
    assert choose_rate([r], RatePolicy("standard", None, allow=frozenset({"usps"}))).chosen == r


# -- currencies
def test_only_rates_in_the_cheapest_eligible_currency_are_compared() -> None:
    usd, eur = rate("A", "x", "5.00", 2), rate("B", "y", "4.00", 2, "EUR")
    choice = choose_rate([usd, eur], ANY)
    assert choice.chosen == eur and choice.fallbacks == ()
    assert [(c.rate.carrier, c.eligible, c.reason) for c in choice.considered] == [
        ("B", True, "chosen: cheapest at any speed (standard)"),
        ("A", False, "priced in USD, not comparable with EUR"),
    ]
    assert choice.reason == "cheapest of 1 eligible rate(s) at any speed (standard): B y 4.00 EUR"


def test_no_rates_at_all() -> None:
    choice = choose_rate([], TWO_DAYS)
    assert (choice.chosen, choice.fallbacks, choice.considered) == (None, (), ())
    assert choice.reason == "no rates returned for this parcel"


# -- service level from the buyer's method
MAP = {" Express ": "expedited", "next day air": "overnight", "": "ignored"}


@pytest.mark.parametrize(
    ("code", "title", "level"),
    [
        ("express", "Anything", "expedited"),  # by code, trimmed and case-insensitive
        ("EXPRESS ", None, "expedited"),
        ("unknown", " Next Day Air ", "overnight"),  # by title when the code is not mapped
        ("express", "Next Day Air", "expedited"),  # the code first
        (None, None, "standard"),  # nothing to map: the default, not the empty key
        ("ground", "Ground", "standard"),
    ],
)
def test_service_level_for(code: str | None, title: str | None, level: str) -> None:
    method = ShippingMethod(code=code, title=title, price=Money(Decimal("0"), "USD"))
    assert service_level_for(method, MAP, "standard") == level


def test_no_method_is_the_default_level() -> None:
    assert service_level_for(None, MAP, "economy") == "economy"


def test_a_mapping_to_an_empty_level_falls_back_to_the_default() -> None:
    method = ShippingMethod(code="pickup", title=None, price=Money(Decimal("0"), "USD"))
    assert service_level_for(method, {"pickup": ""}, "standard") == "standard"


# -- insurance
@pytest.mark.parametrize(
    ("value", "threshold", "insured"),
    [
        ("99.99", "100", None),
        ("100.00", "100", None),  # at the threshold: not above it
        ("100.01", "100", Decimal("100.01")),
        ("5000", None, None),  # no threshold configured: never insured
        ("0.01", "0", Decimal("0.01")),
        ("0", "0", None),
    ],
)
def test_insurance_threshold(value: str, threshold: str | None, insured: Decimal | None) -> None:
    above = Decimal(threshold) if threshold is not None else None
    assert insurance_for(Decimal(value), above) == insured


def test_ties_compare_names_without_case_whatever_punctuation_they_hold() -> None:
    # lower case puts "_" before letters; upper case would put it after them
    plus, advantage = rate("UPS", "Ground_Plus", "5.00", 3), rate("UPS", "GroundAdvantage", "5.00", 3)
    assert choose_rate([advantage, plus], ANY).chosen == plus
    ecom, express = rate("DHL_Ecom", "Parcel", "5.00", 3), rate("DHLExpress", "Parcel", "5.00", 3)
    assert choose_rate([express, ecom], ANY).chosen == ecom

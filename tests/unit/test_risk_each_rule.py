"""Every risk rule, true and false on each of its inputs, with the words a reviewer reads.

Each case changes one field of a clean order and keeps the rest equal; numeric rules are
tried at, below and above their threshold. Weights are distinct powers of two, so the
score says exactly which rules fired.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from core.addresses import Address
from core.orders import LineItem, Order, ShippingMethod
from core.risk import RiskInput, RiskRules, RiskVerdict, assess, email_domain, is_disposable
from core.shipping import AddressCheck
from settings import RiskSettings
from tests.unit.test_risk import BASE, HOME, usd

WEIGHTS = {
    "high_value": 1,
    "missing_address": 2,
    "country_mismatch": 4,
    "address_mismatch": 8,
    "high_risk_destination": 16,
    "velocity": 32,
    "disposable_email": 64,
    "new_customer_expedited_high_value": 128,
    "platform_risk_high": 256,
    "platform_risk_medium": 512,
    "address_undeliverable": 1024,
}
RULES = RiskRules.from_settings(
    RiskSettings(
        approve_below=3000,
        reject_at=4000,
        high_value=Decimal("500"),
        high_risk_countries=[" ng "],
        disposable_domains=[" Junk.Test "],
        velocity_max_orders=3,
        expedited_codes=[" Express ", "next_day"],
        weights=WEIGHTS,
    )
)


def run(order: Order = BASE, **kw: Any) -> RiskVerdict:
    return assess(RiskInput(order=order, **kw), RULES)


def fired(verdict: RiskVerdict) -> dict[str, str]:
    return {f.rule: f.detail for f in verdict.facts}


def test_the_clean_order_fires_nothing() -> None:
    verdict = run(prior_orders=3)
    assert (verdict.score, verdict.decision, verdict.facts) == (0, "approve", ())
    assert verdict.reason == "approved: no rule fired"


def test_settings_are_normalised_when_read() -> None:
    assert RULES.high_risk_countries == frozenset({"NG"})
    assert "junk.test" in RULES.disposable_domains and "mailinator.com" in RULES.disposable_domains
    assert RULES.expedited_codes == ("express", "next_day")
    assert (RULES.approve_below, RULES.reject_at, RULES.velocity_max_orders) == (3000, 4000, 3)
    assert RULES.high_value == Decimal("500") and isinstance(RULES.high_value, Decimal)


# -- high value: total >= high_value
@pytest.mark.parametrize(("total", "fires"), [("499.99", False), ("500.00", True), ("500.01", True)])
def test_high_value_at_below_and_above(total: str, fires: bool) -> None:
    verdict = run(replace(BASE, total=usd(total)), prior_orders=1)
    if fires:
        assert fired(verdict) == {"high_value": f"total {total} USD is at or above 500"}
        assert verdict.score == 1
    else:
        assert fired(verdict) == {}


# -- missing address: needs shipping and no (or an empty) shipping address
@pytest.mark.parametrize(
    ("ship", "needs_shipping", "fires"),
    [
        (None, True, True),
        (Address(), True, True),
        (HOME, True, False),
        (None, False, False),
        (Address(), False, False),
    ],
)
def test_missing_address(ship: Address | None, needs_shipping: bool, fires: bool) -> None:
    line = replace(BASE.line_items[0], requires_shipping=needs_shipping)
    order = replace(BASE, shipping_address=ship, line_items=(line,))
    facts = fired(run(order, prior_orders=1))
    assert ("missing_address" in facts) is fires
    if fires:
        assert facts["missing_address"] == "the order needs shipping but has no shipping address"


def test_one_shipping_line_among_several_is_enough_to_need_an_address() -> None:
    digital = LineItem("2", "EBOOK", "8", "9", "E-book", 1, usd("5.00"), 0, False)
    order = replace(BASE, shipping_address=None, line_items=(digital, BASE.line_items[0]))
    assert "missing_address" in fired(run(order))
    order = replace(BASE, shipping_address=None, line_items=(digital,))
    assert "missing_address" not in fired(run(order))


# -- country and address mismatch
@pytest.mark.parametrize(
    ("ship", "bill", "expected"),
    [
        (HOME, HOME, {}),
        (HOME, replace(HOME, country_code="CA"), {"country_mismatch": "billed in CA, shipped to US"}),
        (replace(HOME, country_code="ca"), HOME, {"country_mismatch": "billed in US, shipped to CA"}),
        (HOME, replace(HOME, country_code="us"), {}),  # case does not matter
        (HOME, replace(HOME, country_code=None), {}),  # unknown billing country: nothing to compare
        (replace(HOME, country_code=None), replace(HOME, country_code="CA"), {}),
        (HOME, None, {}),
        (
            HOME,
            replace(HOME, postal_code="78702"),
            {"address_mismatch": "billing and shipping addresses differ"},
        ),
        (
            HOME,
            replace(HOME, line1="2 Main St"),
            {"address_mismatch": "billing and shipping addresses differ"},
        ),
        (HOME, replace(HOME, line1="1 MAIN ST."), {}),  # case and punctuation do not matter
        (HOME, replace(HOME, postal_code="78-701"), {}),
        (HOME, replace(HOME, postal_code=None), {}),  # only one side has it: not a difference
        (replace(HOME, postal_code=None), HOME, {}),
        (HOME, replace(HOME, line1=None), {}),
        (replace(HOME, line1=None), HOME, {}),
        (HOME, replace(HOME, city="Dallas"), {}),  # only postal code and first line count
    ],
)
def test_country_and_address_mismatch(ship: Address, bill: Address | None, expected: dict[str, str]) -> None:
    assert fired(run(replace(BASE, shipping_address=ship, billing_address=bill), prior_orders=1)) == expected


def test_a_different_country_is_not_also_an_address_mismatch() -> None:
    bill = replace(HOME, country_code="CA", postal_code="M5V 2T6", line1="9 King St")
    assert set(fired(run(replace(BASE, billing_address=bill)))) == {"country_mismatch"}


# -- high-risk destination
@pytest.mark.parametrize(("country", "fires"), [("NG", True), ("ng", True), ("US", False), (None, False)])
def test_high_risk_destination(country: str | None, fires: bool) -> None:
    ship = replace(HOME, country_code=country)
    order = replace(BASE, shipping_address=ship, billing_address=ship)
    facts = fired(run(order, prior_orders=1))
    if fires:
        assert facts == {"high_risk_destination": "ships to NG, a high-risk destination"}
    else:
        assert facts == {}


# -- velocity: this order plus the others counted > velocity_max_orders
@pytest.mark.parametrize("field", ["recent_by_email", "recent_by_address", "recent_by_ip"])
@pytest.mark.parametrize(("others", "fires"), [(1, False), (2, False), (3, True), (4, True)])
def test_velocity_on_each_input_at_below_and_above(field: str, others: int, fires: bool) -> None:
    verdict = run(prior_orders=1, **{field: others})
    what = {"recent_by_email": "e-mail", "recent_by_address": "address", "recent_by_ip": "IP"}[field]
    if fires:
        assert fired(verdict) == {
            "velocity": f"{others + 1} orders from one {what} in the window (more than 3)"
        }
        assert verdict.score == 32
    else:
        assert fired(verdict) == {}


def test_velocity_names_every_input_over_the_limit() -> None:
    verdict = run(recent_by_email=3, recent_by_address=2, recent_by_ip=5)
    assert fired(verdict)["velocity"] == (
        "4 orders from one e-mail; 6 orders from one IP in the window (more than 3)"
    )


# -- disposable e-mail
@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("x@junk.test", "junk.test"),  # from config, normalised
        ("x@mail.junk.test", "junk.test"),  # a subdomain of a listed one
        ("x@MAILINATOR.com.", "mailinator.com"),  # built in; case and trailing dot
        ("x@example.com", None),
        ("x@notjunk.test", None),  # a suffix of the name is not a parent domain
        ("junk.test", None),  # no @
        ("x@", None),
        (None, None),
        ("x@test", None),  # the top-level domain alone is never a candidate
    ],
)
def test_disposable_email(email: str | None, domain: str | None) -> None:
    assert is_disposable(email, RULES.disposable_domains) == domain
    facts = fired(run(replace(BASE, email=email), prior_orders=1))
    if domain:
        assert facts == {"disposable_email": f"e-mail at {domain}, a throwaway mailbox provider"}
    else:
        assert facts == {}


def test_a_listed_top_level_domain_alone_does_not_match() -> None:
    assert is_disposable("x@test", frozenset({"test"})) is None
    assert is_disposable("x@a.test", frozenset({"test"})) is None
    assert is_disposable("x@a.b.test", frozenset({"b.test"})) == "b.test"


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("a@B.Example.", "b.example"),
        ("a@b@c.org", "c.org"),
        ("a@ x.org ", "x.org"),
        ("a@.", None),
        ("", None),
    ],
)
def test_email_domain(email: str, domain: str | None) -> None:
    assert email_domain(email) == domain


# -- new customer, expedited shipping, high value: all three needed
EXPRESS = ShippingMethod(code="ups_express", title="UPS Express Saver", price=usd("30"))


@pytest.mark.parametrize(
    ("prior", "method", "total", "fires"),
    [
        (0, EXPRESS, "500.00", True),
        (1, EXPRESS, "500.00", False),  # not a new customer
        (0, BASE.shipping_method, "500.00", False),  # not expedited
        (0, EXPRESS, "499.99", False),  # not high value
        (0, None, "900.00", False),  # no shipping method at all
    ],
)
def test_new_customer_expedited_high_value(
    prior: int, method: ShippingMethod | None, total: str, fires: bool
) -> None:
    order = replace(BASE, shipping_method=method, total=usd(total))
    facts = fired(run(order, prior_orders=prior))
    assert ("new_customer_expedited_high_value" in facts) is fires
    if fires:
        assert facts["new_customer_expedited_high_value"] == (
            "first order, expedited shipping (UPS Express Saver), high value"
        )


@pytest.mark.parametrize(
    ("code", "title", "shown"),
    [
        ("next-day", None, "next-day"),  # hyphen read as underscore; the code is shown without a title
        (None, "Next Day Delivery", "Next Day Delivery"),  # underscore read as a space
        ("EXPRESS", None, "EXPRESS"),
        (None, None, None),
        ("standard", "Standard", None),
    ],
)
def test_expedited_is_read_from_code_or_title(code: str | None, title: str | None, shown: str | None) -> None:
    method = ShippingMethod(code=code, title=title, price=usd("10"))
    facts = fired(run(replace(BASE, shipping_method=method, total=usd("800"))))
    if shown is None:
        assert "new_customer_expedited_high_value" not in facts
    else:
        assert (
            facts["new_customer_expedited_high_value"]
            == f"first order, expedited shipping ({shown}), high value"
        )


def test_an_empty_expedited_code_matches_nothing() -> None:
    rules = replace(RULES, expedited_codes=("",))
    verdict = assess(RiskInput(order=replace(BASE, total=usd("800"))), rules)
    assert "new_customer_expedited_high_value" not in fired(verdict)


# -- the platform's own verdict
@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("HIGH", {"platform_risk_high": "the storefront rates this order high risk"}),
        ("high", {"platform_risk_high": "the storefront rates this order high risk"}),
        ("MEDIUM", {"platform_risk_medium": "the storefront rates this order medium risk"}),
        ("medium", {"platform_risk_medium": "the storefront rates this order medium risk"}),
        ("LOW", {}),
        ("NONE", {}),
        (None, {}),
    ],
)
def test_platform_risk(level: str | None, expected: dict[str, str]) -> None:
    assert fired(run(platform_risk=level, prior_orders=1)) == expected


# -- address verification
@pytest.mark.parametrize(
    ("check", "detail"),
    [
        (None, None),
        (AddressCheck(True, ("verified",)), None),
        (AddressCheck(False), "the carrier cannot deliver to this address"),
        (
            AddressCheck(False, ("Address not found", "Invalid city")),
            "the carrier cannot deliver to this address: Address not found; Invalid city",
        ),
        (
            AddressCheck(
                False, ("Unknown street",), {"postal_code": "78702", "line1": "1 Main Street", "line2": ""}
            ),
            "the carrier cannot deliver to this address: Unknown street "
            "(suggested: line1 1 Main Street, postal code 78702)",
        ),
    ],
)
def test_address_undeliverable(check: AddressCheck | None, detail: str | None) -> None:
    verdict = run(address_check=check, prior_orders=1)
    if detail is None:
        assert fired(verdict) == {} and verdict.decision == "approve"
    else:
        assert fired(verdict) == {"address_undeliverable": detail}
        assert verdict.decision == "hold"  # 1024 is below approve_below, but it blocks
        assert verdict.reason == f"held for review: score 1024: {detail}"


# -- the decision and its reason
def decide(weight_total: int, trusted: bool = False, blocking: bool = False) -> RiskVerdict:
    """Only velocity weighs (``weight_total``); an undeliverable address then weighs 0 but blocks."""
    rules = replace(RULES, approve_below=30, reject_at=90, weights={"velocity": weight_total})
    check = AddressCheck(False) if blocking else None
    return assess(RiskInput(order=BASE, recent_by_ip=10, trusted=trusted, address_check=check), rules)


@pytest.mark.parametrize(
    ("score", "decision", "reason"),
    [
        (29, "approve", "approved: score 29 (velocity)"),
        (30, "hold", "held for review: score 30: 11 orders from one IP in the window (more than 3)"),
        (31, "hold", "held for review: score 31: 11 orders from one IP in the window (more than 3)"),
        (89, "hold", "held for review: score 89: 11 orders from one IP in the window (more than 3)"),
        (90, "reject", "rejected: score 90: 11 orders from one IP in the window (more than 3)"),
        (91, "reject", "rejected: score 91: 11 orders from one IP in the window (more than 3)"),
    ],
)
def test_the_decision_at_below_and_above_each_threshold(score: int, decision: str, reason: str) -> None:
    verdict = decide(score)
    assert (verdict.score, verdict.decision, verdict.reason) == (score, decision, reason)


def test_a_trusted_customer_is_approved_whatever_the_score_and_the_reason_says_so() -> None:
    verdict = decide(500, trusted=True)
    assert verdict.decision == "approve"
    assert verdict.reason == "approved: trusted customer (score 500 from velocity)"
    assert verdict.facts[-1].to_dict() == {
        "rule": "trusted_customer",
        "weight": 0,
        "detail": "on the merchant's list of trusted customers",
    }
    clean = assess(RiskInput(order=BASE, trusted=True), RULES)
    assert (clean.decision, clean.reason) == ("approve", "approved: no rule fired")


def test_a_trusted_customer_at_an_undeliverable_address_is_held_with_the_blocking_reason() -> None:
    verdict = decide(5, trusted=True, blocking=True)
    assert verdict.decision == "hold"
    assert verdict.reason == "held for review: score 5: the carrier cannot deliver to this address"


def test_a_rejection_names_the_blocking_facts_first() -> None:
    verdict = decide(100, blocking=True)
    assert verdict.decision == "reject"
    assert verdict.reason == "rejected: score 100: the carrier cannot deliver to this address"


def test_the_reason_names_at_most_three_facts_heaviest_first() -> None:
    order = replace(
        BASE,
        email="x@junk.test",
        total=usd("600"),
        billing_address=replace(HOME, country_code="CA"),
    )
    verdict = run(order, platform_risk="HIGH", recent_by_email=9, prior_orders=1)
    assert [f.rule for f in verdict.facts] == [
        "platform_risk_high",
        "disposable_email",
        "velocity",
        "country_mismatch",
        "high_value",
    ]
    assert verdict.score == 256 + 64 + 32 + 4 + 1
    assert verdict.decision == "approve"  # 357 < 3000
    assert verdict.reason == (
        "approved: score 357 (platform_risk_high, disposable_email, velocity, country_mismatch, high_value)"
    )
    held = assess(
        RiskInput(order=order, platform_risk="HIGH", recent_by_email=9), replace(RULES, approve_below=300)
    )
    assert held.reason == (
        "held for review: score 357: the storefront rates this order high risk; "
        "e-mail at junk.test, a throwaway mailbox provider; "
        "10 orders from one e-mail in the window (more than 3)"
    )


def test_equal_weights_are_ordered_by_rule_name() -> None:
    rules = replace(RULES, weights={"high_value": 5, "disposable_email": 5, "country_mismatch": 5})
    order = replace(
        BASE, email="x@junk.test", total=usd("600"), billing_address=replace(HOME, country_code="CA")
    )
    verdict = assess(RiskInput(order=order, prior_orders=1), rules)
    assert [f.rule for f in verdict.facts] == ["country_mismatch", "disposable_email", "high_value"]
    assert [f.weight for f in verdict.facts] == [5, 5, 5]


def test_a_verdict_read_back_without_facts_or_reason() -> None:
    back = RiskVerdict.from_dict({"score": "40", "decision": "hold"})
    assert back == RiskVerdict(40, "hold", (), "")


def test_no_shipping_address_is_not_a_country_mismatch() -> None:
    order = replace(BASE, shipping_address=None)
    assert set(fired(run(order, prior_orders=1))) == {"missing_address"}


def test_addresses_without_countries_are_not_compared() -> None:
    ship = replace(HOME, country_code=None)
    bill = replace(HOME, country_code=None, postal_code="99999", line1="2 Other Rd")
    assert fired(run(replace(BASE, shipping_address=ship, billing_address=bill), prior_orders=1)) == {}


def test_letters_count_when_addresses_are_compared() -> None:
    ship = replace(HOME, line1="Main St 1", postal_code="SW1A 1AA", country_code="GB")
    same = replace(ship, line1="MAIN ST. 1", postal_code="sw1a1aa")
    other = replace(ship, line1="Elm St 1")
    assert fired(run(replace(BASE, shipping_address=ship, billing_address=same), prior_orders=1)) == {}
    assert fired(run(replace(BASE, shipping_address=ship, billing_address=other), prior_orders=1)) == {
        "address_mismatch": "billing and shipping addresses differ"
    }
    postal = replace(ship, postal_code="SW1B 1AA")
    assert "address_mismatch" in fired(run(replace(BASE, shipping_address=ship, billing_address=postal)))


def test_a_configured_code_with_a_space_matches_a_hyphenated_method() -> None:
    rules = replace(RULES, expedited_codes=("next day",))
    method = ShippingMethod(code="next-day", title=None, price=usd("10"))
    order = replace(BASE, shipping_method=method, total=usd("800"))
    assert fired(assess(RiskInput(order=order), rules))["new_customer_expedited_high_value"] == (
        "first order, expedited shipping (next-day), high value"
    )


def test_a_trusted_customer_with_several_facts_is_approved_naming_them() -> None:
    order = replace(BASE, email="x@junk.test", total=usd("600"))
    verdict = assess(RiskInput(order=order, prior_orders=1, trusted=True), replace(RULES, approve_below=1))
    assert verdict.reason == "approved: trusted customer (score 65 from disposable_email, high_value)"

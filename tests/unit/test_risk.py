"""The risk rules, table-driven: each fires at its boundary and not below it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.addresses import Address
from core.money import Money
from core.orders import FinancialStatus, FulfillmentStatus, LineItem, Order, ShippingMethod
from core.risk import RiskInput, RiskRules, RiskVerdict, assess, is_disposable
from core.shipping import AddressCheck
from settings import RiskSettings

T0 = datetime(2026, 11, 2, 14, 15, 30, tzinfo=UTC)
HOME = Address(
    name="Ana Lima",
    line1="1 Main St",
    city="Austin",
    province_code="TX",
    postal_code="78701",
    country_code="US",
)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


BASE = Order(
    platform="shopify",
    order_id="1001",
    gid=None,
    number="#1001",
    currency="USD",
    email="ana@example.com",
    customer_id="7",
    browser_ip="203.0.113.9",
    billing_address=HOME,
    shipping_address=HOME,
    line_items=(LineItem("1", "MUG", "5", "6", "Mug", 1, usd("20.00"), 300, True),),
    subtotal=usd("20.00"),
    total=usd("20.00"),
    total_tax=usd("0"),
    total_shipping=usd("0"),
    total_discounts=usd("0"),
    shipping_method=ShippingMethod(code="standard", title="Standard", price=usd("0")),
    financial_status=FinancialStatus.PAID,
    fulfillment_status=FulfillmentStatus.UNFULFILLED,
    cancelled_at=None,
    cancel_reason=None,
    tags=(),
    note=None,
    created_at=T0,
    updated_at=T0,
)

RULES = RiskRules.from_settings(
    RiskSettings(high_value=Decimal("500"), high_risk_countries=["NG"], disposable_domains=["junk.test"])
)
W = RULES.weights


def run(order: Order = BASE, **kw: Any) -> RiskVerdict:
    return assess(RiskInput(order=order, **kw), RULES)


def rules_of(verdict: RiskVerdict) -> set[str]:
    return {f.rule for f in verdict.facts}


def priced(total: str) -> Order:
    return replace(BASE, total=usd(total))


ABROAD = replace(HOME, country_code="CA", postal_code="M5V 2T6")
ELSEWHERE = replace(HOME, line1="99 Other Rd", postal_code="78702")


@pytest.mark.parametrize(
    ("order", "kw", "rule", "fires"),
    [
        (priced("499.99"), {}, "high_value", False),
        (priced("500.00"), {}, "high_value", True),
        (replace(BASE, shipping_address=ABROAD), {}, "country_mismatch", True),
        (replace(BASE, billing_address=None), {}, "country_mismatch", False),
        (replace(BASE, shipping_address=ELSEWHERE), {}, "address_mismatch", True),
        (replace(BASE, shipping_address=replace(HOME, line1="1 MAIN ST.")), {}, "address_mismatch", False),
        (replace(BASE, shipping_address=replace(HOME, country_code="NG")), {}, "high_risk_destination", True),
        (BASE, {}, "high_risk_destination", False),
        (BASE, {"recent_by_email": 2}, "velocity", False),  # 3 orders, max 3
        (BASE, {"recent_by_email": 3}, "velocity", True),  # 4 orders
        (BASE, {"recent_by_address": 3}, "velocity", True),
        (BASE, {"recent_by_ip": 3}, "velocity", True),
        (replace(BASE, email="x@mailinator.com"), {}, "disposable_email", True),
        (replace(BASE, email="x@eu.mailinator.com"), {}, "disposable_email", True),  # a subdomain
        (replace(BASE, email="x@junk.test"), {}, "disposable_email", True),  # configured
        (replace(BASE, email="x@notmailinator.com"), {}, "disposable_email", False),
        (replace(BASE, email=None), {}, "disposable_email", False),
        (BASE, {"platform_risk": "HIGH"}, "platform_risk_high", True),
        (BASE, {"platform_risk": "medium"}, "platform_risk_medium", True),
        (BASE, {"platform_risk": "LOW"}, "platform_risk_medium", False),
        (BASE, {"address_check": AddressCheck(False, ("no such street",))}, "address_undeliverable", True),
        (BASE, {"address_check": AddressCheck(True)}, "address_undeliverable", False),
        (replace(BASE, shipping_address=None), {}, "missing_address", True),
    ],
)
def test_each_rule_fires_at_its_boundary(order: Order, kw: dict[str, Any], rule: str, fires: bool) -> None:
    verdict = run(order, **kw)
    assert (rule in rules_of(verdict)) is fires
    if fires:
        (fact,) = [f for f in verdict.facts if f.rule == rule]
        assert fact.weight == W.get(rule, 0) and fact.detail


EXPRESS = ShippingMethod(code="express", title="Express 1-2 days", price=usd("25"))


@pytest.mark.parametrize(
    ("prior", "method", "total", "fires"),
    [
        (0, EXPRESS, "600", True),
        (1, EXPRESS, "600", False),  # a returning customer
        (0, BASE.shipping_method, "600", False),  # standard shipping
        (0, EXPRESS, "100", False),  # low value
        (0, ShippingMethod(code=None, title="Next Day Air", price=usd("30")), "600", True),  # by title
    ],
)
def test_new_customer_with_expedited_shipping_and_high_value(
    prior: int, method: ShippingMethod, total: str, fires: bool
) -> None:
    verdict = run(replace(priced(total), shipping_method=method), prior_orders=prior)
    assert ("new_customer_expedited_high_value" in rules_of(verdict)) is fires


def test_a_clean_order_is_approved_with_no_facts() -> None:
    verdict = run()
    assert (verdict.score, verdict.decision, verdict.facts) == (0, "approve", ())
    assert verdict.reason == "approved: no rule fired"


def test_an_order_that_needs_no_shipping_needs_no_address() -> None:
    digital = replace(
        BASE, shipping_address=None, line_items=(replace(BASE.line_items[0], requires_shipping=False),)
    )
    assert run(digital).decision == "approve"


def custom(weight: int) -> RiskRules:
    return replace(RULES, weights={**W, "high_value": weight})


@pytest.mark.parametrize(
    ("weight", "decision"),
    [(29, "approve"), (30, "hold"), (89, "hold"), (90, "reject"), (0, "approve")],
)
def test_the_score_decides_at_the_thresholds(weight: int, decision: str) -> None:
    verdict = assess(RiskInput(order=priced("900")), custom(weight))
    assert (verdict.score, verdict.decision) == (weight, decision)


def test_facts_add_up_and_are_ordered_by_weight() -> None:
    risky = replace(
        priced("900"), email="x@mailinator.com", shipping_address=replace(HOME, country_code="NG")
    )
    verdict = run(risky, recent_by_ip=5)
    assert (
        verdict.score
        == W["high_value"]
        + W["disposable_email"]
        + W["velocity"]
        + W["high_risk_destination"]
        + W["country_mismatch"]
    )
    weights = [f.weight for f in verdict.facts]
    assert weights == sorted(weights, reverse=True)
    assert verdict.decision == "reject" and verdict.reason.startswith("rejected: score")


def test_an_undeliverable_address_is_held_even_when_its_weight_is_low() -> None:
    rules = replace(RULES, weights={**W, "address_undeliverable": 0})
    check = AddressCheck(False, ("Address not found",), {"line1": "1 Main Street"})
    verdict = assess(RiskInput(order=BASE, address_check=check), rules)
    assert verdict.decision == "hold"
    (fact,) = verdict.facts
    assert "Address not found" in fact.detail and "1 Main Street" in fact.detail


def test_a_trusted_customer_is_approved_but_still_sees_the_facts() -> None:
    risky = replace(priced("900"), email="x@mailinator.com")
    verdict = run(risky, trusted=True)
    assert verdict.decision == "approve"
    assert {"high_value", "disposable_email", "trusted_customer"} <= rules_of(verdict)
    assert "trusted customer" in verdict.reason


def test_a_trusted_customer_with_an_undeliverable_address_is_still_held() -> None:
    verdict = run(BASE, trusted=True, address_check=AddressCheck(False, ("no such street",)))
    assert verdict.decision == "hold"


def test_a_rule_without_a_weight_counts_zero() -> None:
    rules = replace(RULES, weights={})
    verdict = assess(RiskInput(order=priced("900")), rules)
    assert (verdict.score, verdict.decision, rules_of(verdict)) == (0, "approve", {"high_value"})


def test_verdicts_round_trip_through_json() -> None:
    verdict = run(replace(priced("900"), email="x@mailinator.com"))
    assert RiskVerdict.from_dict(verdict.to_dict()) == verdict


@pytest.mark.parametrize(
    ("email", "found"),
    [
        ("a@yopmail.com", "yopmail.com"),
        ("a@YOPMAIL.COM", "yopmail.com"),
        ("nobody", None),
        ("a@gmail.com", None),
    ],
)
def test_disposable_domains(email: str, found: str | None) -> None:
    assert is_disposable(email, RULES.disposable_domains) == found

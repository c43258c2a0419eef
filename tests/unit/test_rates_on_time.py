"""The on-time option of the rate policy (shipping.on_time_min): choice, fallbacks, reasons.

The existing rule (eligibility, currency, ties) still decides which rates compete; the
option only picks among them. Every reason a person reads on the timeline is asserted.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.addresses import Address
from core.money import Money
from core.orders import FinancialStatus, FulfillmentStatus, Order, ShippingMethod
from core.rates import RatePolicy, choose_rate
from core.shipping import Considered, Rate
from core.transit import CarrierStats, RouteClass, RouteKey
from settings import ServiceLevel, ShippingSettings
from sync.shipping.policy import rate_policy

D = RouteClass.DOMESTIC


def rate(carrier: str, service: str, price: str, days: int | None = 3, currency: str = "USD") -> Rate:
    return Rate(f"rate_{carrier}_{service}", carrier, service, Money(Decimal(price), currency), days)


def stats(
    carrier: str, service: str, estimated: int, on_time_rate: str, route: RouteClass = D
) -> CarrierStats:
    key = RouteKey(carrier, service, route)
    on_time = int(Decimal(on_time_rate) * estimated)
    return CarrierStats(
        key, estimated, estimated, on_time, Decimal(on_time_rate), Decimal("2.0"), Decimal("3.0")
    )


def table(*rows: CarrierStats) -> dict[RouteKey, CarrierStats]:
    return {s.key: s for s in rows}


CHEAP = rate("USPS", "Priority", "5.00")
MIDDLE = rate("UPS", "Ground", "6.00")
DEAR = rate("FedEx", "Home", "8.00")
RATES = [DEAR, CHEAP, MIDDLE]


def on_time(min_: str = "0.95", samples: int = 20, **kw: object) -> RatePolicy:
    return RatePolicy("standard", None, on_time_min=Decimal(min_), on_time_min_samples=samples, route=D, **kw)  # type: ignore[arg-type]


# -- the policy's bounds
@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"on_time_min": Decimal("-0.01"), "route": D}, "on_time_min must be between 0 and 1, got -0.01"),
        ({"on_time_min": Decimal("1.01"), "route": D}, "on_time_min must be between 0 and 1, got 1.01"),
        (
            {"on_time_min": Decimal("0.9"), "on_time_min_samples": 0, "route": D},
            "on_time_min_samples must be at least 1, got 0",
        ),
        ({"on_time_min": Decimal("0.9")}, "an on-time rate policy needs the parcel's route class"),
    ],
)
def test_an_on_time_policy_out_of_bounds_is_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        RatePolicy("standard", None, **kw)  # type: ignore[arg-type]
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "kw",
    [
        {"on_time_min": Decimal("0"), "route": D},
        {"on_time_min": Decimal("1"), "route": D},
        {"on_time_min": Decimal("0.5"), "on_time_min_samples": 1, "route": D},
        {"on_time_min_samples": 0},  # without the option, its sample count is not read
        {},
    ],
)
def test_an_on_time_policy_at_its_bounds_is_accepted(kw: dict[str, object]) -> None:
    policy = RatePolicy("standard", None, **kw)  # type: ignore[arg-type]
    assert policy.on_time_min == kw.get("on_time_min")


# -- without the option nothing changes
def test_a_route_and_stats_without_the_option_leave_the_cheapest_rule() -> None:
    policy = RatePolicy("standard", None, route=D, stats=table(stats("UPS", "Ground", 100, "1")))
    choice = choose_rate(RATES, policy)
    assert (choice.chosen, choice.fallbacks) == (CHEAP, (MIDDLE, DEAR))
    assert choice.reason == "cheapest of 3 eligible rate(s) at any speed (standard): USPS Priority 5.00 USD"
    assert [c.reason for c in choice.considered] == [
        "chosen: cheapest at any speed (standard)",
        "eligible, 1.00 USD more",
        "eligible, 3.00 USD more",
    ]


# -- with it
def test_no_history_falls_back_to_the_cheapest_and_says_so() -> None:
    choice = choose_rate(RATES, on_time())
    assert (choice.chosen, choice.fallbacks) == (CHEAP, (MIDDLE, DEAR))
    assert choice.reason == (
        "no rate has 20 deliveries with an estimate on domestic routes; the usual rule chose: "
        "cheapest of 3 eligible rate(s) at any speed (standard): USPS Priority 5.00 USD"
    )
    assert [c.reason for c in choice.considered] == [
        "chosen: cheapest at any speed (standard)",
        "eligible, 1.00 USD more; 0 delivery(ies) with an estimate on domestic routes, 20 needed",
        "eligible, 3.00 USD more; 0 delivery(ies) with an estimate on domestic routes, 20 needed",
    ]


def test_too_little_history_falls_back() -> None:
    choice = choose_rate(
        RATES, on_time(stats=table(stats("UPS", "Ground", 19, "1"), stats("USPS", "Priority", 3, "1")))
    )
    assert choice.chosen == CHEAP
    assert choice.reason.startswith("no rate has 20 deliveries with an estimate on domestic routes; ")


def test_exactly_min_samples_qualify() -> None:
    choice = choose_rate(RATES, on_time(stats=table(stats("UPS", "Ground", 20, "1"))))
    assert (choice.chosen, choice.fallbacks) == (MIDDLE, (CHEAP, DEAR))
    assert choice.reason == (
        "cheapest rate on time at least 95% on domestic routes (100% of 20): UPS Ground 6.00 USD"
    )
    assert choice.considered == (
        Considered(
            CHEAP,
            True,
            "eligible, 1.00 USD cheaper but 0 delivery(ies) with an estimate on domestic routes, 20 needed",
        ),
        Considered(MIDDLE, True, "chosen: cheapest on time at least 95% on domestic routes"),
        Considered(
            DEAR,
            True,
            "eligible, 2.00 USD more; 0 delivery(ies) with an estimate on domestic routes, 20 needed",
        ),
    )


def test_a_rate_exactly_at_the_minimum_qualifies_and_the_cheaper_below_it_is_passed_over() -> None:
    history = table(
        stats("USPS", "Priority", 40, "0.9499"),
        stats("UPS", "Ground", 40, "0.95"),
        stats("FedEx", "Home", 40, "1"),
    )
    choice = choose_rate(RATES, on_time(stats=history))
    assert (choice.chosen, choice.fallbacks) == (MIDDLE, (DEAR, CHEAP))  # qualifying fallbacks first
    assert (
        choice.reason
        == "cheapest rate on time at least 95% on domestic routes (95% of 40): UPS Ground 6.00 USD"
    )
    assert [c.reason for c in choice.considered] == [
        "eligible, 1.00 USD cheaper but on time 94.99% on domestic routes, below 95%",
        "chosen: cheapest on time at least 95% on domestic routes",
        "eligible, 2.00 USD more",
    ]


def test_every_rate_below_the_minimum_falls_back_with_that_reason() -> None:
    history = table(stats("USPS", "Priority", 40, "0.9"), stats("UPS", "Ground", 40, "0.8"))
    choice = choose_rate(RATES, on_time(stats=history))
    assert (choice.chosen, choice.fallbacks) == (CHEAP, (MIDDLE, DEAR))
    assert choice.reason == (
        "no rate is on time at least 95% on domestic routes; the usual rule chose: "
        "cheapest of 3 eligible rate(s) at any speed (standard): USPS Priority 5.00 USD"
    )
    assert choice.considered[0].reason == "chosen: cheapest at any speed (standard)"


def test_history_on_another_route_class_does_not_count() -> None:
    history = table(
        stats("USPS", "Priority", 500, "1", RouteClass.LOCAL),
        stats("UPS", "Ground", 500, "1", RouteClass.INTERNATIONAL),
    )
    choice = choose_rate(RATES, on_time(stats=history))
    assert choice.chosen == CHEAP
    assert choice.reason.startswith("no rate has 20 deliveries with an estimate on domestic routes; ")
    local = choose_rate(RATES, replace(on_time(stats=history), route=RouteClass.LOCAL))
    assert local.chosen == CHEAP
    assert local.reason.startswith("cheapest rate on time at least 95% on local routes (100% of 500)")


def test_a_price_tie_between_qualifying_rates_goes_by_the_usual_tie_rule() -> None:
    slow, fast = rate("B", "s", "6.00", 4), rate("A", "f", "6.00", 1)
    history = table(stats("B", "s", 30, "1"), stats("A", "f", 30, "1"))
    for rates in ([slow, fast, CHEAP], [CHEAP, fast, slow]):
        choice = choose_rate(rates, on_time(stats=history))
        assert (choice.chosen, choice.fallbacks) == (fast, (slow, CHEAP))


def test_a_same_price_rate_passed_over_is_zero_more() -> None:
    first, second = rate("A", "f", "6.00", 1), rate("B", "s", "6.00", 4)  # A ranks first (faster)
    choice = choose_rate([first, second], on_time(stats=table(stats("B", "s", 30, "1"))))
    assert choice.chosen == second
    assert choice.considered[0] == Considered(
        first, True, "eligible, 0.00 USD more; 0 delivery(ies) with an estimate on domestic routes, 20 needed"
    )


def test_ineligible_rates_never_compete_however_punctual() -> None:
    history = table(stats("FedEx", "Home", 90, "1"), stats("DHL", "Express", 90, "1"))
    policy = replace(on_time(stats=history), max_days=2, deny=frozenset({"fedex"}))
    fast_dhl_eur = rate("DHL", "Express", "4.00", 1, currency="EUR")
    choice = choose_rate(
        [replace(DEAR, delivery_days=1), replace(CHEAP, delivery_days=2), fast_dhl_eur], policy
    )
    assert choice.chosen == fast_dhl_eur  # cheapest eligible sets the currency; it also qualifies
    choice = choose_rate([replace(DEAR, delivery_days=1), replace(CHEAP, delivery_days=5)], policy)
    assert choice.chosen is None
    assert choice.reason == "none of 2 rate(s) is eligible for standard (delivering within 2 day(s))"


def test_the_minimum_samples_are_configurable() -> None:
    history = table(stats("UPS", "Ground", 3, "1"))
    assert choose_rate(RATES, on_time(samples=3, stats=history)).chosen == MIDDLE
    assert choose_rate(RATES, on_time(samples=4, stats=history)).chosen == CHEAP


# -- the policy from the settings
T0 = datetime(2026, 11, 2, 14, 15, 30, tzinfo=UTC)
USD0 = Money(Decimal("0"), "USD")
ORDER = Order(
    platform="test",
    order_id="1001",
    gid=None,
    number="#1001",
    currency="USD",
    email=None,
    customer_id=None,
    browser_ip=None,
    billing_address=None,
    shipping_address=Address(city="Austin", province_code="TX", country_code="US"),
    line_items=(),
    subtotal=USD0,
    total=USD0,
    total_tax=USD0,
    total_shipping=USD0,
    total_discounts=USD0,
    shipping_method=ShippingMethod(code="express", title="Express", price=USD0),
    financial_status=FinancialStatus.PAID,
    fulfillment_status=FulfillmentStatus.UNFULFILLED,
    cancelled_at=None,
    cancel_reason=None,
    tags=(),
    note=None,
    created_at=T0,
    updated_at=T0,
)
SETTINGS = ShippingSettings(
    ship_from={"state": "CA", "country": "US"},
    method_map={"express": "expedited"},
    service_levels={"expedited": ServiceLevel(max_days=3)},
    carriers_allow=["UPS"],
    carriers_deny=["DHL"],
    on_time_min=Decimal("0.9"),
    on_time_min_samples=5,
)


def test_the_settings_default_to_no_on_time_rule() -> None:
    defaults = ShippingSettings()
    assert (defaults.on_time_min, defaults.on_time_min_samples) == (None, 20)
    assert rate_policy(defaults, ORDER).on_time_min is None


@pytest.mark.parametrize(
    ("key", "value"), [("on_time_min", "1.5"), ("on_time_min", "-0.1"), ("on_time_min_samples", 0)]
)
def test_the_settings_refuse_values_out_of_bounds(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        ShippingSettings.model_validate({key: value})


def test_the_policy_from_the_settings_carries_the_option_route_and_stats() -> None:
    history = table(stats("UPS", "Ground", 5, "1"))
    policy = rate_policy(SETTINGS, ORDER, history)
    assert policy == RatePolicy(
        level="expedited",
        max_days=3,
        allow=frozenset({"UPS"}),
        deny=frozenset({"DHL"}),
        on_time_min=Decimal("0.9"),
        on_time_min_samples=5,
        route=RouteClass.DOMESTIC,
        stats=history,
    )
    assert rate_policy(SETTINGS, ORDER).stats == {}


@pytest.mark.parametrize(
    ("to", "route"),
    [
        (Address(province_code="CA", country_code="US"), RouteClass.LOCAL),
        (Address(province_code="TX", country_code="US"), RouteClass.DOMESTIC),
        (Address(province_code="ON", country_code="CA"), RouteClass.INTERNATIONAL),
        (Address(province_code="CA"), RouteClass.LOCAL),
        (None, RouteClass.DOMESTIC),
    ],
)
def test_the_route_class_runs_from_the_warehouse_to_the_buyer(to: Address | None, route: RouteClass) -> None:
    assert rate_policy(SETTINGS, replace(ORDER, shipping_address=to)).route is route

"""Carrier performance and the on-time chooser (core/transit.py), table-driven.

Counts, on-time rates (Decimal, 4 places, half up) and transit-day percentiles (Decimal,
1 place, nearest rank) are asserted exactly; every reason a person reads is asserted word
for word.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import Money
from core.shipping import Rate
from core.transit import (
    CarrierStats,
    Delivered,
    RouteClass,
    RouteKey,
    choose_on_time,
    key_of,
    on_time_verdict,
    percent,
    performance,
)

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
UPS = RouteKey("UPS", "Ground", RouteClass.DOMESTIC)
USPS = RouteKey("USPS", "Priority", RouteClass.DOMESTIC)
US = timedelta(microseconds=1)


def row(key: RouteKey, days: float, late_by: timedelta | None = timedelta(0)) -> Delivered:
    """A delivery taking ``days``, late by ``late_by`` against its estimate (None: no estimate)."""
    delivered = T0 + timedelta(days=days)
    return Delivered(key, T0, delivered, None if late_by is None else delivered - late_by)


def stats(key: RouteKey, estimated: int, rate: str | None, shipments: int | None = None) -> CarrierStats:
    on_time = 0 if rate is None else int(Decimal(rate) * estimated)
    rate_d = None if rate is None else Decimal(rate)
    return CarrierStats(
        key, shipments or estimated, estimated, on_time, rate_d, Decimal("2.0"), Decimal("4.0")
    )


# -- one delivery
@pytest.mark.parametrize(
    ("shipped", "delivered", "days"),
    [
        (T0, T0 + timedelta(days=2, hours=12), Decimal("2.5")),
        (T0, T0 + timedelta(hours=6), Decimal("0.25")),
        (T0, T0, Decimal("0")),
        (T0, T0 + US, Decimal(1) / Decimal(86_400_000_000)),
        (T0 + timedelta(hours=1), T0, Decimal("0")),  # stamped before the label: clock skew, 0 days
        (T0, datetime(2026, 11, 3, 10, 0, tzinfo=timezone(timedelta(hours=2))), Decimal("1")),
    ],
)
def test_transit_days_are_exact(shipped: datetime, delivered: datetime, days: Decimal) -> None:
    assert Delivered(UPS, shipped, delivered).transit_days == days


class NoOffset(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


NAIVE = datetime(2026, 11, 2, 8, 0)


@pytest.mark.parametrize(
    ("shipped", "delivered", "estimated", "field"),
    [
        (NAIVE, T0, None, "shipped_at"),
        (T0, NAIVE, None, "delivered_at"),
        (T0, T0, NAIVE, "estimated_at"),
        (T0, T0, NAIVE.replace(tzinfo=NoOffset()), "estimated_at"),
    ],
)
def test_a_delivery_with_a_naive_time_is_refused(
    shipped: datetime, delivered: datetime, estimated: datetime | None, field: str
) -> None:
    with pytest.raises(ValueError) as raised:
        Delivered(UPS, shipped, delivered, estimated)
    assert str(raised.value) == f"{field} must be a timezone-aware datetime, got 2026-11-02T08:00:00"


# -- performance
def test_no_deliveries_no_stats() -> None:
    assert performance([]) == []


@pytest.mark.parametrize(
    ("late_by", "grace", "on_time"),
    [
        (timedelta(0), timedelta(0), 1),  # on the estimate: on time
        (-timedelta(days=1), timedelta(0), 1),  # a day early
        (US, timedelta(0), 0),  # a microsecond late
        (timedelta(hours=1), timedelta(hours=1), 1),  # late within the grace
        (timedelta(hours=1) + US, timedelta(hours=1), 0),  # beyond it
    ],
)
def test_on_time_means_by_the_estimate_plus_grace(late_by: timedelta, grace: timedelta, on_time: int) -> None:
    [found] = performance([row(UPS, 2, late_by)], grace=grace)
    assert (found.on_time, found.on_time_rate) == (on_time, Decimal(on_time).quantize(Decimal("0.0001")))
    assert str(found.on_time_rate) == ("1.0000" if on_time else "0.0000")


def test_a_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError) as raised:
        performance([row(UPS, 2)], grace=-US)
    assert str(raised.value) == "on-time grace cannot be negative, got -1 day, 23:59:59.999999"


def test_deliveries_without_an_estimate_count_for_transit_not_for_on_time() -> None:
    rows = [row(UPS, 1), row(UPS, 3, None), row(UPS, 5, timedelta(hours=2)), row(UPS, 7, None)]
    assert performance(rows) == [
        CarrierStats(UPS, 4, 2, 1, Decimal("0.5000"), Decimal("3.0"), Decimal("7.0")),
    ]
    [none] = performance([row(UPS, 2, None)])
    assert (none.shipments, none.estimated, none.on_time, none.on_time_rate) == (1, 0, 0, None)


@pytest.mark.parametrize(
    ("on_time", "total", "rate"),
    [
        (2, 3, "0.6667"),
        (1, 3, "0.3333"),
        (1, 32, "0.0313"),  # 0.03125: half up, not to even
        (3, 32, "0.0938"),  # 0.09375
        (31, 32, "0.9688"),  # 0.96875
        (19, 20, "0.9500"),
    ],
)
def test_the_on_time_rate_has_four_places_rounded_half_up(on_time: int, total: int, rate: str) -> None:
    rows = [row(UPS, 1) for _ in range(on_time)] + [row(UPS, 1, US) for _ in range(total - on_time)]
    [found] = performance(rows)
    assert (found.estimated, found.on_time) == (total, on_time)
    assert str(found.on_time_rate) == rate


@pytest.mark.parametrize(
    ("days", "p50", "p90"),
    [
        (list(range(1, 11)), "5.0", "9.0"),  # ranks 5 and 9 of 10
        (list(range(10, 0, -1)), "5.0", "9.0"),  # any order
        (list(range(1, 12)), "6.0", "10.0"),  # ranks 6 and 10 of 11
        ([2.25], "2.3", "2.3"),  # half up, not to even
        ([2.24], "2.2", "2.2"),
        ([1, 1.05, 3], "1.1", "3.0"),
        ([4, 1], "1.0", "4.0"),
    ],
)
def test_transit_day_percentiles_by_nearest_rank_to_one_place(days: list[float], p50: str, p90: str) -> None:
    [found] = performance([row(UPS, d) for d in days])
    assert (str(found.transit_days_p50), str(found.transit_days_p90)) == (p50, p90)


def test_stats_are_per_route_key_and_sorted() -> None:
    local = RouteKey("UPS", "Ground", RouteClass.LOCAL)
    rows = [
        row(USPS, 2),
        row(UPS, 4, US),
        row(local, 1),
        row(UPS, 2),
        row(RouteKey("ups ", "Ground", "domestic"), 3),
    ]  # type: ignore[arg-type]
    assert performance(rows) == [
        CarrierStats(UPS, 3, 3, 2, Decimal("0.6667"), Decimal("3.0"), Decimal("4.0")),
        CarrierStats(
            local, 1, 1, 1, Decimal("1.0000"), Decimal("1.0"), Decimal("1.0")
        ),  # by name: domestic, local
        CarrierStats(USPS, 1, 1, 1, Decimal("1.0000"), Decimal("2.0"), Decimal("2.0")),
    ]


keys = st.sampled_from([UPS, USPS, RouteKey("DHL", "Express", RouteClass.INTERNATIONAL)])
rows_st = st.lists(
    st.builds(
        row,
        keys,
        st.floats(min_value=0, max_value=30, allow_nan=False),
        st.one_of(st.none(), st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3))),
    ),
    max_size=40,
)


@given(rows_st)
def test_performance_counts_add_up(rows: list[Delivered]) -> None:
    found = performance(rows)
    assert sum(s.shipments for s in found) == len(rows)
    assert sum(s.estimated for s in found) == sum(1 for r in rows if r.estimated_at is not None)
    assert [s.key for s in found] == sorted({r.key for r in rows})
    for s in found:
        assert 0 <= s.on_time <= s.estimated <= s.shipments
        assert (s.on_time_rate is None) == (s.estimated == 0)
        assert s.transit_days_p50 <= s.transit_days_p90
        assert s.transit_days_p50.as_tuple().exponent == -1


# -- the on-time verdict and chooser
def rate(carrier: str, service: str, price: str, days: int | None = 3) -> Rate:
    return Rate(f"rate_{carrier}_{service}", carrier, service, Money(Decimal(price), "USD"), days)


CHEAP = rate("USPS", "Priority", "5.00")
MIDDLE = rate("UPS", "Ground", "6.00")
DEAR = rate("FedEx", "Home", "8.00")
FEDEX = RouteKey("FEDEX", "Home", RouteClass.DOMESTIC)
MIN = Decimal("0.95")
FALLBACK = (CHEAP, "cheapest of 3 eligible rate(s) at any speed (standard): USPS Priority 5.00 USD")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.95"), "95%"),
        (Decimal("0.9500"), "95%"),
        (Decimal("0.9525"), "95.25%"),
        (Decimal("1"), "100%"),
        (Decimal("1.0000"), "100%"),
        (Decimal("0"), "0%"),
        (Decimal("0.0313"), "3.13%"),
    ],
)
def test_percent(value: Decimal, text: str) -> None:
    assert percent(value) == text


@pytest.mark.parametrize(
    ("found", "verdict"),
    [
        (None, "0 delivery(ies) with an estimate on domestic routes, 20 needed"),
        (stats(UPS, 0, None, shipments=40), "0 delivery(ies) with an estimate on domestic routes, 20 needed"),
        (stats(UPS, 19, "1"), "19 delivery(ies) with an estimate on domestic routes, 20 needed"),
        (stats(UPS, 20, "0.95"), None),  # exactly the samples and exactly the rate
        (stats(UPS, 21, "0.9501"), None),
        (stats(UPS, 20, "0.9499"), "on time 94.99% on domestic routes, below 95%"),
        (stats(UPS, 200, "0.5"), "on time 50% on domestic routes, below 95%"),
    ],
)
def test_on_time_verdict(found: CarrierStats | None, verdict: str | None) -> None:
    assert on_time_verdict(found, RouteClass.DOMESTIC, MIN, 20) == verdict


def test_one_sample_is_the_least_that_can_be_asked() -> None:
    assert on_time_verdict(stats(UPS, 1, "1"), RouteClass.LOCAL, MIN, 1) is None
    for least in (0, -3):
        with pytest.raises(ValueError) as raised:
            on_time_verdict(stats(UPS, 0, None), RouteClass.LOCAL, MIN, least)
        assert str(raised.value) == f"on-time min_samples must be at least 1, got {least}"
        with pytest.raises(ValueError):
            choose_on_time([CHEAP], {}, RouteClass.LOCAL, MIN, least, FALLBACK)


def test_a_rate_is_looked_up_by_its_normalised_key() -> None:
    assert key_of(rate(" ups", "Ground ", "6.00"), RouteClass.LOCAL) == RouteKey(
        "UPS", "Ground", RouteClass.LOCAL
    )


NO_HISTORY = "no rate has 20 deliveries with an estimate on domestic routes; the usual rule chose: "
NONE_ON_TIME = "no rate is on time at least 95% on domestic routes; the usual rule chose: "


@pytest.mark.parametrize(
    ("table", "chosen", "why"),
    [
        ({}, CHEAP, NO_HISTORY + FALLBACK[1]),
        ({USPS: stats(USPS, 19, "1"), UPS: stats(UPS, 5, "1")}, CHEAP, NO_HISTORY + FALLBACK[1]),
        (
            {USPS: stats(USPS, 20, "1")},  # exactly min samples
            CHEAP,
            "cheapest rate on time at least 95% on domestic routes (100% of 20): USPS Priority 5.00 USD",
        ),
        (
            {USPS: stats(USPS, 40, "0.95"), UPS: stats(UPS, 40, "1")},  # rate exactly at the minimum
            CHEAP,
            "cheapest rate on time at least 95% on domestic routes (95% of 40): USPS Priority 5.00 USD",
        ),
        (
            {USPS: stats(USPS, 40, "0.9499"), UPS: stats(UPS, 30, "0.9667")},  # the cheaper carrier below it
            MIDDLE,
            "cheapest rate on time at least 95% on domestic routes (96.67% of 30): UPS Ground 6.00 USD",
        ),
        (
            {USPS: stats(USPS, 19, "1"), UPS: stats(UPS, 50, "0.9"), FEDEX: stats(FEDEX, 25, "0.96")},
            DEAR,
            "cheapest rate on time at least 95% on domestic routes (96% of 25): FedEx Home 8.00 USD",
        ),
        ({USPS: stats(USPS, 40, "0.9"), UPS: stats(UPS, 5, "1")}, CHEAP, NONE_ON_TIME + FALLBACK[1]),
        ({USPS: stats(USPS, 5, "1"), FEDEX: stats(FEDEX, 20, "0.5")}, CHEAP, NONE_ON_TIME + FALLBACK[1]),
        (
            # enough history, but only on another route class
            {RouteKey("USPS", "Priority", RouteClass.LOCAL): stats(USPS, 500, "1")},
            CHEAP,
            NO_HISTORY + FALLBACK[1],
        ),
        (
            {RouteKey("UPS", "Ground", RouteClass.LOCAL): stats(UPS, 500, "1"), UPS: stats(UPS, 19, "1")},
            CHEAP,
            NO_HISTORY + FALLBACK[1],
        ),
        (
            # another service of the same carrier does not count either
            {RouteKey("USPS", "Ground Advantage", RouteClass.DOMESTIC): stats(USPS, 500, "1")},
            CHEAP,
            NO_HISTORY + FALLBACK[1],
        ),
    ],
)
def test_choose_on_time(table: dict[RouteKey, CarrierStats], chosen: Rate, why: str) -> None:
    assert choose_on_time([CHEAP, MIDDLE, DEAR], table, RouteClass.DOMESTIC, MIN, 20, FALLBACK) == (
        chosen,
        why,
    )


def test_the_first_qualifying_rate_in_the_given_order_wins() -> None:
    table = {USPS: stats(USPS, 40, "1"), UPS: stats(UPS, 40, "1")}
    assert choose_on_time([MIDDLE, CHEAP], table, RouteClass.DOMESTIC, MIN, 20, FALLBACK)[0] == MIDDLE


def test_no_rates_give_the_fallback() -> None:
    assert choose_on_time([], {}, RouteClass.LOCAL, Decimal("0.9"), 3, (None, "no rate")) == (
        None,
        "no rate has 3 deliveries with an estimate on local routes; the usual rule chose: no rate",
    )


def test_a_known_carrier_below_the_minimum_is_reported_even_after_one_without_history() -> None:
    table = {UPS: stats(UPS, 20, "0.5")}  # the second rate has the history, the first none
    _, why = choose_on_time([CHEAP, MIDDLE], table, RouteClass.DOMESTIC, MIN, 20, FALLBACK)
    assert why == NONE_ON_TIME + FALLBACK[1]
    table = {UPS: stats(UPS, 19, "0.5"), USPS: stats(USPS, 2, "0.5")}
    assert (
        choose_on_time([CHEAP, MIDDLE], table, RouteClass.DOMESTIC, MIN, 20, FALLBACK)[1]
        == NO_HISTORY + FALLBACK[1]
    )

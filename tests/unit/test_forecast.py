"""Forecasting on known series: velocity, spread, cover, service-level z, reorder point."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.forecast import (
    Forecast,
    daily_series,
    days_of_cover,
    demand_sigma,
    ewma_velocity,
    forecast,
    last_days,
    reorder_point,
    safety_stock,
    z_for_service_level,
)

# --- velocity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sales", "alpha", "velocity"),
    [
        ([], 0.3, 0.0),
        ([7], 0.3, 7.0),
        ([10] * 30, 0.3, 10.0),
        ([10] * 30, 0.05, 10.0),
        # by hand, alpha 0.5, newest first: (6*1 + 0*0.5 + 8*0.25 + 4*0.125) / (1 + 0.5 + 0.25 + 0.125)
        ([4, 8, 0, 6], 0.5, 8.5 / 1.875),
        # alpha 0.2: (5*1 + 20*0.8 + 10*0.64) / (1 + 0.8 + 0.64) = 27.4 / 2.44
        ([10, 20, 5], 0.2, 27.4 / 2.44),
        ([0, 10], 0.5, 10 / 1.5),
        ([1, 2, 3, 9], 1.0, 9.0),  # alpha 1: the last day only
        ([0, 0, 0], 0.4, 0.0),
    ],
)
def test_ewma_velocity(sales: list[int], alpha: float, velocity: float) -> None:
    assert ewma_velocity(sales, alpha) == pytest.approx(velocity, abs=1e-12)


def test_constant_sales_give_exactly_that_velocity() -> None:
    assert ewma_velocity([10] * 365, 0.3) == 10.0


def test_recent_days_weigh_more() -> None:
    assert ewma_velocity([0, 0, 0, 10], 0.3) > ewma_velocity([10, 0, 0, 0], 0.3)
    assert ewma_velocity([0, 10], 0.3) > ewma_velocity([10, 0], 0.3)


@given(
    st.lists(st.integers(min_value=0, max_value=100), min_size=2, max_size=30),
    st.floats(min_value=0.01, max_value=0.99),
)
def test_a_sale_counts_more_the_later_it_happened(sales: list[int], alpha: float) -> None:
    early = [*sales, 0]
    early[0] += 10
    late = [*sales, 10]
    assert ewma_velocity(late, alpha) > ewma_velocity(early, alpha)


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.01, math.nan])
def test_ewma_refuses_alpha_outside_0_1(alpha: float) -> None:
    with pytest.raises(ValueError):
        ewma_velocity([1, 2], alpha)


@given(
    st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=120),
    st.floats(min_value=0.01, max_value=1.0),
)
def test_velocity_lies_within_the_sales_range(sales: list[int], alpha: float) -> None:
    v = ewma_velocity(sales, alpha)
    assert min(sales) - 1e-9 <= v <= max(sales) + 1e-9


# --- sigma --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sales", "sigma"),
    [
        ([], 0.0),
        ([5], 0.0),
        ([10] * 14, 0.0),
        ([2, 4, 4, 4, 5, 5, 7, 9], math.sqrt(32 / 7)),  # sample (n-1) deviation, by hand
        ([1, 3], math.sqrt(2)),
    ],
)
def test_demand_sigma(sales: list[int], sigma: float) -> None:
    assert demand_sigma(sales) == pytest.approx(sigma, abs=1e-12)


# --- cover --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("available", "velocity", "cover"),
    [
        (100, 10.0, 10.0),
        (5, 2.0, 2.5),
        (100, 0.0, None),  # nothing sells: unbounded
        (0, 0.0, 0.0),
        (0, 3.0, 0.0),
        (-4, 3.0, 0.0),  # oversold
    ],
)
def test_days_of_cover(available: int, velocity: float, cover: float | None) -> None:
    assert days_of_cover(available, velocity) == cover


# --- z and reorder point ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "z"), [(0.5, 0.0), (0.90, 1.2816), (0.95, 1.6449), (0.975, 1.9600), (0.99, 2.3263)]
)
def test_z_for_service_level(level: float, z: float) -> None:
    assert round(z_for_service_level(level), 4) == z


@pytest.mark.parametrize("level", [0.0, 1.0, -0.2, 1.5, math.nan])
def test_z_refuses_levels_outside_0_1(level: float) -> None:
    with pytest.raises(ValueError):
        z_for_service_level(level)


@pytest.mark.parametrize(
    ("velocity", "sigma", "lead", "level", "point"),
    [
        (10.0, 0.0, 7, 0.95, 70),  # constant demand: lead-time demand only
        (10.0, 0.0, 0, 0.95, 0),
        (0.0, 0.0, 14, 0.95, 0),
        # 10*4 + 1.6449 * 3 * 2 = 49.869 -> 50
        (10.0, 3.0, 4, 0.95, 50),
        # 2.5*9 + 2.3263 * 2 * 3 = 36.458 -> 37
        (2.5, 2.0, 9, 0.99, 37),
        (0.1, 0.0, 30, 0.95, 3),  # 0.1 * 30 is 3.0000000000000004 in floats: still 3 units
        (1.0, 5.0, 4, 0.05, 0),  # a service level under 50% never asks for negative stock
    ],
)
def test_reorder_point(velocity: float, sigma: float, lead: float, level: float, point: int) -> None:
    assert reorder_point(velocity, sigma, lead, level) == point


@pytest.mark.parametrize(("velocity", "sigma", "lead"), [(-1.0, 0.0, 5), (1.0, -0.5, 5), (1.0, 1.0, -1)])
def test_reorder_point_refuses_negative_inputs(velocity: float, sigma: float, lead: float) -> None:
    with pytest.raises(ValueError):
        reorder_point(velocity, sigma, lead, 0.95)


def test_safety_stock_by_hand() -> None:
    assert safety_stock(3.0, 4, 0.95) == pytest.approx(1.6448536 * 3 * 2, abs=1e-6)
    assert safety_stock(0.0, 10, 0.99) == 0.0


@given(
    velocity=st.floats(min_value=0, max_value=1000),
    sigma=st.floats(min_value=0, max_value=100),
    lead=st.floats(min_value=0, max_value=120),
    level=st.floats(min_value=0.5, max_value=0.999),
)
def test_reorder_point_covers_lead_time_demand(
    velocity: float, sigma: float, lead: float, level: float
) -> None:
    point = reorder_point(velocity, sigma, lead, level)
    assert point >= velocity * lead - 1e-6
    assert point < velocity * lead + safety_stock(sigma, lead, level) + 1


@given(
    sigma=st.floats(min_value=0.1, max_value=50),
    lead=st.floats(min_value=1, max_value=60),
    low=st.floats(min_value=0.5, max_value=0.98),
)
def test_higher_service_level_needs_no_less_stock(sigma: float, lead: float, low: float) -> None:
    assert reorder_point(5.0, sigma, lead, low + 0.01) >= reorder_point(5.0, sigma, lead, low)


# --- the whole forecast -------------------------------------------------------------------


def test_forecast_of_constant_sales() -> None:
    assert forecast(
        "MUG", [10] * 28, available=150, lead_time_days=7, service_level=0.95, alpha=0.3
    ) == Forecast(
        sku="MUG",
        velocity=10.0,
        sigma=0.0,
        days_of_cover=15.0,
        safety_stock=0.0,
        reorder_point=70,
        reorder_now=False,
    )


@pytest.mark.parametrize(("available", "reorder_now"), [(71, False), (70, True), (12, True), (-3, True)])
def test_reorder_now_at_or_below_the_point(available: int, reorder_now: bool) -> None:
    assert forecast("MUG", [10] * 5, available, 7, 0.95, 0.3).reorder_now is reorder_now


def test_forecast_of_a_variable_series() -> None:
    sales = [4, 8, 0, 6]
    f = forecast("TEE", sales, available=9, lead_time_days=4, service_level=0.95, alpha=0.5)
    sigma = statistics.stdev(sales)  # sqrt(35/3) ~ 3.4157
    velocity = 8.5 / 1.875  # ~ 4.5333, as in test_ewma_velocity
    assert f.velocity == pytest.approx(velocity)
    assert f.sigma == pytest.approx(sigma)
    assert f.days_of_cover == pytest.approx(9 / velocity)
    assert f.safety_stock == pytest.approx(1.6448536 * sigma * 2, abs=1e-6)
    assert f.reorder_point == math.ceil(velocity * 4 + 1.6448536 * sigma * 2)  # 18.13 + 11.24 -> 30
    assert f.reorder_point == 30
    assert f.reorder_now is True


def test_forecast_without_history() -> None:
    f = forecast("NEW", [], available=0, lead_time_days=10, service_level=0.95, alpha=0.3)
    assert f == Forecast("NEW", 0.0, 0.0, 0.0, 0.0, 0, False)  # no demand: nothing to reorder
    assert (
        forecast("NEW", [], available=20, lead_time_days=10, service_level=0.95, alpha=0.3).days_of_cover
        is None
    )


def test_forecast_ignores_net_returns_below_zero() -> None:
    f = forecast("RET", [0, -5], available=10, lead_time_days=5, service_level=0.95, alpha=1.0)
    assert f.velocity == 0.0
    assert f.days_of_cover is None


# --- daily series -------------------------------------------------------------------------

D = date(2024, 3, 1)


def test_daily_series_buckets_and_zero_fills() -> None:
    sales = [
        (date(2024, 3, 1), 2),
        (date(2024, 3, 3), 1),
        (date(2024, 3, 1), 3),
        (date(2024, 2, 29), 50),  # before the window
        (date(2024, 3, 5), 4),
        (date(2024, 3, 6), 70),  # after the window
    ]
    assert daily_series(sales, D, date(2024, 3, 5)) == [5, 0, 1, 0, 4]


def test_daily_series_one_day_and_nothing_sold() -> None:
    assert daily_series([], D, D) == [0]
    assert daily_series([], D, date(2024, 3, 31)) == [0] * 31
    assert daily_series([(D, 7)], D, D) == [7]


def test_daily_series_refuses_an_inverted_window() -> None:
    with pytest.raises(ValueError):
        daily_series([], date(2024, 3, 2), D)


def test_daily_series_crosses_a_leap_day() -> None:
    assert daily_series([(date(2024, 2, 29), 1)], date(2024, 2, 28), date(2024, 3, 1)) == [0, 1, 0]


def test_last_days() -> None:
    assert last_days(date(2024, 3, 31), 31) == (D, date(2024, 3, 31))
    assert last_days(D, 1) == (D, D)
    with pytest.raises(ValueError):
        last_days(D, 0)


@given(
    st.lists(
        st.tuples(st.integers(min_value=-10, max_value=40), st.integers(min_value=0, max_value=9)),
        max_size=60,
    ),
    st.integers(min_value=1, max_value=30),
)
def test_daily_series_keeps_every_unit_inside_the_window(offsets: list[tuple[int, int]], days: int) -> None:
    start = date(2024, 1, 1)
    end = date.fromordinal(start.toordinal() + days - 1)
    sales = [(date.fromordinal(start.toordinal() + off), qty) for off, qty in offsets]
    series = daily_series(sales, start, end)
    assert len(series) == days
    assert sum(series) == sum(q for off, q in offsets if 0 <= off < days)


# --- small figures and refusals -----------------------------------------------------------


@pytest.mark.parametrize(
    ("available", "velocity", "cover"),
    [
        (1, 2.0, 0.5),  # one unit left lasts half a day
        (1, 0.5, 2.0),  # a slow seller: under one unit a day still sells
        (3, 0.25, 12.0),
    ],
)
def test_cover_of_a_single_unit_and_of_slow_sellers(available: int, velocity: float, cover: float) -> None:
    assert days_of_cover(available, velocity) == cover


@pytest.mark.parametrize(("available", "reorder_now"), [(2, False), (1, True), (0, True)])
def test_a_reorder_point_of_one_unit_is_a_reorder_point(available: int, reorder_now: bool) -> None:
    f = forecast("PIN", [1] * 5, available, lead_time_days=1, service_level=0.95, alpha=0.3)
    assert f.reorder_point == 1
    assert f.reorder_now is reorder_now


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ewma_velocity([1], 0), "alpha must be in (0, 1], got 0"),
        (lambda: ewma_velocity([1], 1.5), "alpha must be in (0, 1], got 1.5"),
        (lambda: z_for_service_level(0.0), "service level must be in (0, 1), got 0.0"),
        (lambda: z_for_service_level(1.0), "service level must be in (0, 1), got 1.0"),
        (lambda: z_for_service_level(1.5), "service level must be in (0, 1), got 1.5"),
        (lambda: reorder_point(-1.0, 0.0, 5, 0.95), "velocity must be >= 0, got -1.0"),
        (lambda: reorder_point(1.0, -0.5, 5, 0.95), "sigma must be >= 0, got -0.5"),
        (lambda: safety_stock(1.0, -1, 0.95), "lead time must be >= 0 days, got -1"),
        (
            lambda: daily_series([], date(2024, 3, 2), date(2024, 3, 1)),
            "end 2024-03-01 is before start 2024-03-02",
        ),
        (lambda: last_days(date(2024, 3, 1), 0), "a window needs at least one day, got 0"),
    ],
)
def test_bad_inputs_are_refused_with_what_is_wrong(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        call()
    assert str(refused.value) == message

"""Demand forecasting per SKU: velocity, spread, days of cover, reorder point.

Pure functions over daily sales (units per day, oldest first). The reorder point is
lead-time demand plus safety stock ``z x sigma x sqrt(lead time)``, where ``z`` is the
standard normal quantile of the service level.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

# Float sums such as 0.1 * 30 land a hair above a whole number; rounding to this many
# places before taking the ceiling keeps them from costing a spurious extra unit.
_PLACES = 9


def ewma_velocity(daily_sales: Sequence[float | int], alpha: float) -> float:
    """Exponentially weighted mean of daily sales (units/day), oldest day first.

    The day ``k`` days before the last weighs ``(1 - alpha) ** k``, and the weights are
    normalised over the days there are, so a short history is not pulled towards zero
    and the first day is never over-weighted (pandas' ``ewm(adjust=True)``). ``alpha``
    in (0, 1] is how fast old days fade; 1 means "the last day only". No history: 0.0.
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    level, weight = 0.0, 0.0
    for value in daily_sales:
        # weight is the sum of all weights so far; the new day weighs 1 and the old ones fade.
        weight = 1.0 + (1.0 - alpha) * weight
        level += (float(value) - level) / weight
    return level


def demand_sigma(daily_sales: Sequence[float | int]) -> float:
    """Sample standard deviation of daily sales; 0.0 with fewer than two days."""
    if len(daily_sales) < 2:
        return 0.0
    return statistics.stdev(float(v) for v in daily_sales)


def days_of_cover(available: int, velocity: float) -> float | None:
    """How many days ``available`` lasts at ``velocity``: 0.0 with nothing available,
    None (unbounded) when nothing sells."""
    if available <= 0:
        return 0.0
    if velocity <= 0:
        return None
    return available / velocity


def z_for_service_level(level: float) -> float:
    """The standard normal quantile for a cycle service level in (0, 1) (0.95 -> 1.6449)."""
    if not 0 < level < 1:
        raise ValueError(f"service level must be in (0, 1), got {level}")
    return statistics.NormalDist().inv_cdf(level)


def _check_inputs(velocity: float, sigma: float, lead_time_days: float) -> None:
    if velocity < 0:
        raise ValueError(f"velocity must be >= 0, got {velocity}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if lead_time_days < 0:
        raise ValueError(f"lead time must be >= 0 days, got {lead_time_days}")


def safety_stock(sigma: float, lead_time_days: float, service_level: float) -> float:
    """``z x sigma x sqrt(lead time)`` in units (not rounded)."""
    _check_inputs(0.0, sigma, lead_time_days)
    return z_for_service_level(service_level) * sigma * math.sqrt(lead_time_days)


def reorder_point(velocity: float, sigma: float, lead_time_days: float, service_level: float) -> int:
    """Lead-time demand plus safety stock, rounded up to whole units (never below 0)."""
    _check_inputs(velocity, sigma, lead_time_days)
    total = velocity * lead_time_days + safety_stock(sigma, lead_time_days, service_level)
    return max(0, math.ceil(round(total, _PLACES)))


@dataclass(frozen=True)
class Forecast:
    """One SKU's forecast. ``reorder_now``: demand exists and available is at or below the reorder point."""

    sku: str
    velocity: float
    sigma: float
    days_of_cover: float | None
    safety_stock: float
    reorder_point: int
    reorder_now: bool


def forecast(
    sku: str,
    daily_sales: Sequence[float | int],
    available: int,
    lead_time_days: float,
    service_level: float,
    alpha: float,
) -> Forecast:
    """Velocity, spread, cover and reorder point of one SKU from its daily sales."""
    velocity = max(0.0, ewma_velocity(daily_sales, alpha))
    sigma = demand_sigma(daily_sales)
    point = reorder_point(velocity, sigma, lead_time_days, service_level)
    return Forecast(
        sku=sku,
        velocity=velocity,
        sigma=sigma,
        days_of_cover=days_of_cover(available, velocity),
        safety_stock=safety_stock(sigma, lead_time_days, service_level),
        reorder_point=point,
        reorder_now=point > 0 and available <= point,
    )


def daily_series(sales: Iterable[tuple[date, int]], start: date, end: date) -> list[int]:
    """Units sold on each day from ``start`` to ``end`` inclusive, zero-filled; sales outside are ignored."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    series = [0] * ((end - start).days + 1)
    for day, quantity in sales:
        index = (day - start).days
        if 0 <= index < len(series):
            series[index] += quantity
    return series


def last_days(end: date, days: int) -> tuple[date, date]:
    """The ``(start, end)`` of the ``days`` days ending on ``end`` inclusive."""
    if days < 1:
        raise ValueError(f"a window needs at least one day, got {days}")
    return end - timedelta(days=days - 1), end

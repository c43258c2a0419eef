"""Daily demand read from order movements, and the forecasts made from it (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from core.forecast import daily_series, forecast
from sync.stock_reports import OrderMove, daily_demand, ordered_units

DAY = date(2026, 3, 1)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def reserve(sku: str, order: int | None, units: int, when: datetime) -> OrderMove:
    return OrderMove(sku, order, "order_reserved", 0, units, when)


def release(sku: str, order: int | None, units: int, when: datetime) -> OrderMove:
    return OrderMove(sku, order, "order_released", 0, -units, when)


def ship(sku: str, order: int, units: int, held: int, when: datetime) -> OrderMove:
    return OrderMove(sku, order, "order_shipped", -units, -held, when)


def test_ten_a_day_for_28_days_is_a_velocity_of_ten() -> None:
    moves = [reserve("TOTE", n, 10, at(DAY + timedelta(days=n))) for n in range(28)]
    demand = daily_demand(moves)
    series = daily_series(demand["TOTE"], DAY, DAY + timedelta(days=27))
    assert series == [10] * 28
    result = forecast("TOTE", series, 140, lead_time_days=14, service_level=0.95, alpha=0.3)
    assert result.velocity == pytest.approx(10.0)
    assert result.sigma == 0.0
    assert result.days_of_cover == pytest.approx(14.0)
    assert (result.reorder_point, result.reorder_now) == (140, True)


def test_a_shipment_counts_only_what_was_not_reserved_first() -> None:
    assert ordered_units(ship("TOTE", 1, 3, held=3, when=at(DAY))) == 0
    assert ordered_units(ship("TOTE", 2, 3, held=0, when=at(DAY))) == 3  # arrived already fulfilled
    assert ordered_units(reserve("TOTE", 3, 4, at(DAY))) == 4
    assert ordered_units(release("TOTE", 3, 4, at(DAY))) == -4


def test_an_order_cancelled_the_day_it_was_placed_is_not_demand() -> None:
    moves = [
        reserve("TOTE", 1, 5, at(DAY, 9)),
        release("TOTE", 1, 5, at(DAY, 17)),  # same day: cancelled, not a sale
        reserve("TOTE", 2, 2, at(DAY, 10)),
        release("TOTE", 3, 4, at(DAY, 11)),  # order 3 was placed the day before: not taken back
        reserve("TOTE", 3, 4, at(DAY - timedelta(days=1), 23)),
        reserve("TOTE", 4, 3, at(DAY + timedelta(days=1))),
        ship("TOTE", 4, 3, held=3, when=at(DAY + timedelta(days=2))),
        release("TOTE", 5, 1, at(DAY + timedelta(days=1))),  # an order reduced: 3 then 2 units
        reserve("TOTE", 5, 3, at(DAY + timedelta(days=1), 8)),
    ]
    assert daily_demand(moves) == {
        "TOTE": [(DAY - timedelta(days=1), 4), (DAY, 2), (DAY + timedelta(days=1), 5)],
    }


def test_days_are_utc_and_skus_are_kept_apart() -> None:
    evening_in_new_york = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 2 March, UTC
    moves = [
        reserve("MUG", 1, 1, evening_in_new_york),
        reserve("TOTE", 1, 2, at(DAY)),
        reserve("TOTE", None, 1, at(DAY)),  # its order was deleted: still a sale
        release("TOTE", None, 1, at(DAY)),  # ...and this release belongs to no known order
    ]
    assert daily_demand(moves) == {"MUG": [(date(2026, 3, 2), 1)], "TOTE": [(DAY, 3)]}


def test_no_sales_means_no_velocity_and_unbounded_cover() -> None:
    result = forecast("TOTE", [0] * 28, 5, lead_time_days=14, service_level=0.95, alpha=0.3)
    assert (result.velocity, result.days_of_cover, result.reorder_point, result.reorder_now) == (
        0.0,
        None,
        0,
        False,
    )

"""The normal scan plan, per carrier and service: gaps within the table's bounds, delivered on time."""

from __future__ import annotations

import itertools
import random
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.easypost.transit import (
    DAY,
    GAP_MODELS,
    HOUR,
    GapModel,
    Route,
    RouteClass,
    Scan,
    address_place,
    delivery_day,
    estimate,
    final_gap_h,
    first_gap_h,
    gap_model,
    normal_plan,
    route_class,
)

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z
ORIGIN = address_place({"city": "Houston", "state": "TX", "zip": "77063", "country": "US"})
DESTINATIONS = {
    RouteClass.LOCAL: address_place({"city": "Austin", "state": "TX", "zip": "78701", "country": "US"}),
    RouteClass.DOMESTIC: address_place(
        {"city": "Charleston", "state": "SC", "zip": "29401", "country": "US"}
    ),
    RouteClass.INTERNATIONAL: address_place({"city": "London", "zip": "SW1A 2AA", "country": "GB"}),
}


def plans(model: GapModel, count: int = 60) -> list[tuple[Route, list[Scan]]]:
    """``count`` plans per route class, created at varied times of day."""
    made = []
    for seed in range(count):
        rng = random.Random(seed)
        for kind, destination in DESTINATIONS.items():
            created = START + rng.uniform(0, DAY)
            route = Route(created, model.days(kind), model, kind, ORIGIN, destination)
            made.append((route, normal_plan(rng, route)))
    return made


def gaps_h(scans: list[Scan]) -> list[float]:
    return [(b.at - a.at) / HOUR for a, b in itertools.pairwise(scans)]


@pytest.mark.parametrize("model", GAP_MODELS, ids=lambda m: f"{m.carrier}-{m.service}")
def test_gaps_stay_within_the_table_bounds(model: GapModel) -> None:
    every_gap: list[float] = []
    facility_gaps: list[float] = []
    for _, scans in plans(model):
        gaps = gaps_h(scans)
        assert scans == sorted(scans, key=lambda s: s.at)
        assert first_gap_h(model)[0] <= gaps[0] <= first_gap_h(model)[1]  # label -> pickup
        assert final_gap_h(model)[0] <= gaps[-1] <= final_gap_h(model)[1]  # out -> delivered
        assert max(gaps[1:-1]) <= model.max_h + 1e-9  # pickup -> ... -> out for delivery
        every_gap += gaps
        facility_gaps += gaps[1:-1]

    # The typical gap is the table's median (scaling to the delivery day trims it a little).
    assert 0.75 * model.median_h <= statistics.median(facility_gaps) <= 1.25 * model.median_h
    # No gap of a parcel moving normally exceeds 1.5 x the 95th percentile of all gaps:
    # a stall threshold learned as percentile x margin never flags one.
    p95 = sorted(every_gap)[int(0.95 * len(every_gap))]
    assert max(every_gap) <= 1.5 * p95
    assert model.max_h <= 1.5 * model.p95_h()


@pytest.mark.parametrize("model", GAP_MODELS, ids=lambda m: f"{m.carrier}-{m.service}")
def test_a_normal_parcel_is_delivered_on_its_day_before_the_estimate(model: GapModel) -> None:
    for route, scans in plans(model, count=20):
        out, delivered = scans[-2], scans[-1]
        day = delivery_day(route.created, route.days)
        assert (out.status, delivered.status) == ("out_for_delivery", "delivered")
        assert day + 11 * HOUR <= out.at <= day + 14 * HOUR  # the morning of the delivery day
        assert day <= delivered.at < estimate(route.created, route.days) == day + DAY


def test_transit_days_follow_carrier_service_and_route() -> None:
    ground = gap_model("UPS", "Ground")
    assert [ground.days(kind) for kind in RouteClass] == [1, 3, 8]
    created = START  # 2027-01-15, 08:00 UTC
    route = Route(created, ground.days(RouteClass.DOMESTIC), ground, RouteClass.DOMESTIC, ORIGIN,
                  DESTINATIONS[RouteClass.DOMESTIC])  # fmt: skip
    delivered = normal_plan(random.Random(1), route)[-1]
    assert datetime.fromtimestamp(delivered.at, UTC).date().isoformat() == "2027-01-18"


def test_route_classes_and_unknown_services() -> None:
    assert route_class(ORIGIN, DESTINATIONS[RouteClass.LOCAL]) is RouteClass.LOCAL
    assert route_class(ORIGIN, DESTINATIONS[RouteClass.DOMESTIC]) is RouteClass.DOMESTIC
    assert route_class(ORIGIN, DESTINATIONS[RouteClass.INTERNATIONAL]) is RouteClass.INTERNATIONAL
    assert (
        route_class({"state": "TX", "country": None}, {"state": "TX"}) is RouteClass.LOCAL
    )  # no country: US
    odd = gap_model("FedEx", "FEDEX_SMART_POST")
    assert (odd.service, odd.median_h) == ("FEDEX_SMART_POST", gap_model("FedEx", "FEDEX_GROUND").median_h)


def test_scans_pass_through_hub_cities_to_the_destination() -> None:
    model = gap_model("USPS", "GroundAdvantage")
    route = Route(START, 4, model, RouteClass.DOMESTIC, ORIGIN, DESTINATIONS[RouteClass.DOMESTIC])
    scans = normal_plan(random.Random(3), route)
    cities = [s.place["city"] for s in scans if s.place]

    assert cities[:2] == ["HOUSTON", "HOUSTON"]  # label and pickup at the origin
    assert cities[-3:] == ["CHARLESTON"] * 3  # destination facility, out for delivery, delivered
    assert len(set(cities)) >= 3  # at least one hub on a domestic route
    assert {s.detail for s in scans[2:-2]} <= {"arrived_at_facility", "departed_facility", "in_transit"}


def test_the_documented_gap_table_is_the_one_the_simulator_draws_from() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "sandbox.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| ") and line.count("|") == 8]
    documented = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]
    expected = [
        [m.carrier, m.service, f"{m.median_h:g}", f"{m.sigma:g}", f"{m.min_h:g}", f"{m.max_h:g}",
         f"{m.local_days} / {m.domestic_days} / {m.international_days}"]
        for m in GAP_MODELS
    ]  # fmt: skip
    assert documented == expected

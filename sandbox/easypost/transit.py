"""How parcels move: per carrier and service scan gaps, transit days by route, and the normal plan.

A tracker's plan is a list of :class:`Scan` generated once, from a ``random.Random``
seeded by the simulator's seed and the tracking code, so a run replays exactly:

- ``label`` (pre_transit / label_created) one hour after the tracker is created;
- ``pickup`` (in_transit / arrived_at_facility, "Picked up" as FedEx words it) at the
  origin, a gap drawn from :func:`first_gap_h` later;
- facility scans (``arrived``/``departed``, now and then ``moving``: in_transit /
  in_transit, or in_transit / unknown for FedEx's "On the way" as recorded), at the origin,
  at 0-4 hub cities and at the destination facility, spaced by gaps drawn from the
  carrier and service's :class:`GapModel` (lognormal around ``median_h``, a quarter
  longer when the gap starts at night, clipped to ``[min_h, max_h]``, then scaled down
  so that the last one ends at out for delivery);
- ``out`` (out_for_delivery) the morning (11:00-14:00 UTC) of the delivery day, and
  ``delivered`` (delivered / arrived_at_destination) 1-7 hours later.

The delivery day is the creation day plus the transit days (a label's rate's
``delivery_days``, else :attr:`GapModel.days` for the route class); the tracker's
``est_delivery_date`` is midnight UTC at the start of the *next* day, so a parcel that
moves normally is delivered before its estimate, and one that loses a day is late.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from .common import Json

HOUR = 3600.0
DAY = 24 * HOUR


class RouteClass(StrEnum):
    """Same state, same country, or across a border (as Waybill's ``core.transit`` classes routes)."""

    LOCAL = "local"
    DOMESTIC = "domestic"
    INTERNATIONAL = "international"


@dataclass(frozen=True)
class GapModel:
    """Scan gaps (hours) and transit days of one carrier service.

    A gap is ``median_h * exp(sigma * N(0, 1))``, x1.25 when it starts between 22:00
    and 05:00 UTC (night line-haul), clipped to ``[min_h, max_h]``; ``max_h`` is kept
    below 1.5 x the distribution's 95th percentile, so a learned stall threshold
    (percentile x margin) is never crossed by a parcel that moves normally.
    """

    carrier: str
    service: str
    median_h: float
    sigma: float
    min_h: float
    max_h: float
    local_days: int
    domestic_days: int
    international_days: int

    def days(self, route: RouteClass) -> int:
        return {
            RouteClass.LOCAL: self.local_days,
            RouteClass.DOMESTIC: self.domestic_days,
            RouteClass.INTERNATIONAL: self.international_days,
        }[route]

    def p95_h(self) -> float:
        """The unclipped distribution's 95th percentile (hours)."""
        return self.median_h * math.exp(1.645 * self.sigma)

    def draw_h(self, rng: random.Random, start: float) -> float:
        gap = self.median_h * math.exp(self.sigma * rng.gauss(0.0, 1.0))
        hour = datetime.fromtimestamp(start, UTC).hour
        if hour >= 22 or hour < 5:
            gap *= 1.25
        return min(self.max_h, max(self.min_h, gap))


def _gm(carrier: str, service: str, median: float, sigma: float, lo: float, hi: float, days: str) -> GapModel:
    local, domestic, international = (int(d) for d in days.split("/"))
    return GapModel(carrier, service, median, sigma, lo, hi, local, domestic, international)


# The table the simulator draws from (carrier, service as EasyPost names them in rates).
GAP_MODELS: tuple[GapModel, ...] = (
    _gm("USPS", "GroundAdvantage", 8.0, 0.5, 2.0, 14.0, "2/4/10"),
    _gm("USPS", "First-Class Package Service", 8.0, 0.5, 2.0, 14.0, "2/4/10"),
    _gm("USPS", "Priority", 6.0, 0.45, 1.5, 12.0, "1/2/7"),
    _gm("USPS", "Express", 4.0, 0.4, 1.0, 8.0, "1/1/4"),
    _gm("USPS", "FirstClassPackageInternationalService", 9.0, 0.5, 2.0, 14.0, "2/4/10"),
    _gm("USPS", "PriorityMailInternational", 8.0, 0.45, 2.0, 14.0, "1/2/7"),
    _gm("USPS", "ExpressMailInternational", 6.0, 0.4, 1.5, 12.0, "1/1/4"),
    _gm("UPS", "Ground", 6.0, 0.5, 1.5, 12.0, "1/3/8"),
    _gm("UPS", "UPS Ground", 6.0, 0.5, 1.5, 12.0, "1/3/8"),
    _gm("UPS", "2ndDayAir", 4.0, 0.45, 1.0, 9.0, "1/2/3"),
    _gm("UPS", "NextDayAir", 3.0, 0.4, 0.75, 6.0, "1/1/2"),
    _gm("UPS", "Expedited", 7.0, 0.45, 1.5, 13.0, "2/3/5"),
    _gm("UPS", "Express", 4.0, 0.4, 1.0, 8.0, "1/1/3"),
    _gm("FedEx", "FEDEX_GROUND", 7.0, 0.5, 1.5, 13.0, "1/3/8"),
    _gm("FedEx", "FEDEX_2_DAY", 4.5, 0.45, 1.0, 9.0, "1/2/3"),
    _gm("FedEx", "STANDARD_OVERNIGHT", 3.0, 0.4, 0.75, 6.0, "1/1/2"),
    _gm("FedEx", "INTERNATIONAL_ECONOMY", 8.0, 0.45, 2.0, 14.0, "2/3/5"),
    _gm("FedEx", "INTERNATIONAL_PRIORITY", 5.0, 0.4, 1.25, 10.0, "1/2/3"),
)
GAPS: dict[tuple[str, str], GapModel] = {(g.carrier.upper(), g.service): g for g in GAP_MODELS}
# A service the table does not know moves like the carrier's ground service.
CARRIER_DEFAULT = {"USPS": "GroundAdvantage", "UPS": "Ground", "FEDEX": "FEDEX_GROUND"}


def gap_model(carrier: str, service: str | None) -> GapModel:
    """The model for ``carrier``/``service``; unknown services fall back to the carrier's ground one."""
    found = GAPS.get((carrier.upper(), service or ""))
    if found is not None:
        return found
    upper = carrier.upper()
    fallback = GAPS[
        (upper, CARRIER_DEFAULT[upper]) if upper in CARRIER_DEFAULT else ("USPS", "GroundAdvantage")
    ]
    return replace(fallback, carrier=carrier, service=service or fallback.service)


def first_gap_h(model: GapModel) -> tuple[float, float]:
    """Bounds (hours) of the gap from the label scan to the pickup scan."""
    return (max(model.min_h, 2.0), min(model.max_h, 8.0))


def final_gap_h(model: GapModel) -> tuple[float, float]:
    """Bounds (hours) of the gap from out for delivery to delivered."""
    return (min(model.min_h, 1.0), min(model.max_h, 7.0))


def _country(place: Json | None) -> str:
    return str((place or {}).get("country") or "US").upper()


def route_class(origin: Json | None, destination: Json | None) -> RouteClass:
    if _country(origin) != _country(destination):
        return RouteClass.INTERNATIONAL
    state = (origin or {}).get("state")
    same_state = bool(state) and state == (destination or {}).get("state")
    return RouteClass.LOCAL if same_state else RouteClass.DOMESTIC


# Sorting hubs the parcels pass through (city, state, country, zip).
US_HUBS: tuple[tuple[str, str, str, str], ...] = (
    ("MEMPHIS", "TN", "US", "38118"),
    ("LOUISVILLE", "KY", "US", "40209"),
    ("INDIANAPOLIS", "IN", "US", "46241"),
    ("DALLAS", "TX", "US", "75261"),
    ("CHICAGO", "IL", "US", "60666"),
    ("ATLANTA", "GA", "US", "30320"),
    ("ONTARIO", "CA", "US", "91761"),
    ("SAN PABLO", "CA", "US", "94806"),
    ("DENVER", "CO", "US", "80249"),
    ("PHOENIX", "AZ", "US", "85043"),
    ("NEWARK", "NJ", "US", "07114"),
    ("SALT LAKE CITY", "UT", "US", "84116"),
    ("KANSAS CITY", "MO", "US", "64153"),
    ("KENLY", "NC", "US", "27542"),
    ("HARRISBURG", "PA", "US", "17112"),
)
EXPORT_HUB = ("JAMAICA", "NY", "US", "11430")
FOREIGN_HUBS: dict[str, tuple[str, str | None, str, str]] = {
    "GB": ("EAST MIDLANDS", None, "GB", "DE74 2SA"),
    "DE": ("LEIPZIG", None, "DE", "04435"),
    "FR": ("ROISSY CHARLES DE GAULLE", None, "FR", "95700"),
    "CA": ("MISSISSAUGA", "ON", "CA", "L5T 2T2"),
}


def place(city: str | None, state: str | None, country: str | None, zip_code: str | None) -> Json:
    return {"city": city, "state": state, "country": country, "zip": zip_code}


def address_place(address: Json | None) -> Json:
    """A TrackingLocation-like place (upper-case city) from an address."""
    address = address or {}
    city = address.get("city")
    return place(city.upper() if isinstance(city, str) else None, address.get("state"),
                 _country(address), address.get("zip"))  # fmt: skip


def hubs(rng: random.Random, route: RouteClass, origin: Json | None, destination: Json | None) -> list[Json]:
    """The hub cities between origin and destination: on a local route only one in the same state."""
    if route is RouteClass.LOCAL:
        state = (origin or {}).get("state")
        in_state = [h for h in US_HUBS if h[1] == state]
        return [place(*rng.choice(in_state))] if in_state and rng.random() < 0.5 else []
    chosen = [
        place(*h) for h in rng.sample(US_HUBS, rng.randint(1, 3) if route is RouteClass.DOMESTIC else 1)
    ]
    if route is RouteClass.INTERNATIONAL:
        chosen.append(place(*EXPORT_HUB))
        foreign = FOREIGN_HUBS.get(_country(destination))
        if foreign is not None:
            chosen.append(place(*foreign))
    return chosen


@dataclass(frozen=True)
class Scan:
    """One planned scan: carrier time, EasyPost status words, a kind (for the message) and a place."""

    at: float
    status: str
    detail: str
    kind: str
    place: Json | None

    def shifted(self, seconds: float) -> Scan:
        return replace(self, at=self.at + seconds)


def _day_start(ts: float) -> float:
    day = datetime.fromtimestamp(ts, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def delivery_day(created: float, days: int) -> float:
    """Midnight UTC of the day the parcel is delivered."""
    start = datetime.fromtimestamp(_day_start(created), UTC) + timedelta(days=max(1, days))
    return start.timestamp()


def estimate(created: float, days: int) -> float:
    """``est_delivery_date``: midnight UTC after the delivery day."""
    return delivery_day(created, days) + DAY


@dataclass(frozen=True)
class Route:
    """What a plan needs to know about a parcel."""

    created: float
    days: int
    model: GapModel
    route: RouteClass
    origin: Json
    destination: Json


def _facility_sequence(rng: random.Random, route: Route) -> list[tuple[str, Json]]:
    """(kind, place) from leaving the origin to arriving at the destination facility."""
    sequence: list[tuple[str, Json]] = [("departed", route.origin)]
    for hub in hubs(rng, route.route, route.origin, route.destination):
        sequence += [("arrived", hub), ("departed", hub)]
    sequence.append(("arrived", route.destination))
    return sequence


def _gaps(rng: random.Random, model: GapModel, start: float, end: float) -> list[float]:
    """Gaps (seconds) drawn from ``model`` from ``start``, scaled so that they end exactly at ``end``."""
    gaps: list[float] = []
    at = start
    while at < end:
        gap = model.draw_h(rng, at) * HOUR
        gaps.append(gap)
        at += gap
    scale = (end - start) / sum(gaps)
    return [g * scale for g in gaps]


def normal_plan(rng: random.Random, route: Route) -> list[Scan]:
    """The scans of a parcel that moves normally (see the module docstring)."""
    model = route.model
    label_at = route.created + HOUR
    pickup_at = label_at + rng.uniform(*first_gap_h(model)) * HOUR
    day = delivery_day(route.created, route.days)
    out_at = max(day + rng.uniform(11.0, 14.0) * HOUR, pickup_at + 2 * model.min_h * HOUR)
    delivered_at = out_at + rng.uniform(*final_gap_h(model)) * HOUR
    scans = [
        Scan(label_at, "pre_transit", "label_created", "label", route.origin),
        Scan(pickup_at, "in_transit", "arrived_at_facility", "pickup", route.origin),
    ]
    gaps = _gaps(rng, model, pickup_at, out_at)[:-1]  # the last gap ends at out for delivery
    facilities = _facility_sequence(rng, route)
    stops: list[tuple[str, Json]] = []
    if len(gaps) <= len(facilities):
        spots = sorted(rng.sample(range(len(facilities) - 1), max(0, len(gaps) - 1)))
        stops = [facilities[i] for i in spots] + ([facilities[-1]] if gaps else [])
    else:  # more scans than facilities: "in transit" scans between them
        extra = len(gaps) - len(facilities)
        moving_at = set(rng.sample(range(1, len(gaps) - 1), extra))  # never the last: it arrives
        source = iter(facilities)
        last = route.origin
        for index in range(len(gaps)):
            if index in moving_at:
                stops.append(("moving", last))
            else:
                kind, last = next(source)
                stops.append((kind, last))
    moving = "unknown" if model.carrier.upper() == "FEDEX" else "in_transit"  # FedEx's "On the way"
    at = pickup_at
    for gap, (kind, where) in zip(gaps, stops, strict=True):
        at += gap
        detail = {"arrived": "arrived_at_facility", "departed": "departed_facility"}.get(kind, moving)
        scans.append(Scan(at, "in_transit", detail, kind, where))
    scans.append(Scan(out_at, "out_for_delivery", "out_for_delivery", "out", route.destination))
    scans.append(Scan(delivered_at, "delivered", "arrived_at_destination", "delivered", route.destination))
    return scans

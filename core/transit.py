"""Learned carrier behaviour: route classes, the gaps between scans, delivery performance.

Pure. Tracking asks two questions of Waybill's own history, per carrier, service and
route class (a :class:`RouteKey`): how long may a parcel go without a scan before it is
stalled (:func:`stall_threshold`, :func:`usual_gap`), and how often does this carrier
deliver by its own estimate (:func:`performance`). The rate chooser uses the second
(:func:`choose_on_time`, an option of ``core.rates``). docs/transit.md explains the model.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from typing import TypeVar

from core.shipping import Rate

OUTLIER_FACTOR = 10  # a gap above 10 x the median is a lost scan, not how the carrier moves
RATE_PLACES = Decimal("0.0001")
DAY_PLACES = Decimal("0.1")
DAY_US = 86_400_000_000

N = TypeVar("N", float, Decimal)


class RouteClass(StrEnum):
    LOCAL = "local"  # same country, same state
    DOMESTIC = "domestic"  # same country, another state (or a state unknown)
    INTERNATIONAL = "international"


def _part(value: str | None) -> str | None:
    text = (value or "").strip().casefold()
    return text or None


def route_class(
    origin_country: str | None, origin_state: str | None, dest_country: str | None, dest_state: str | None
) -> RouteClass:
    """The kind of route between two places (codes compared without case or spaces).

    A missing country is taken to be the other side's (an address without a country is
    one the store did not need to qualify); both missing counts as one country. Local needs
    both states known and equal: an unknown state never makes a route local.
    """
    here, there = _part(origin_country), _part(dest_country)
    if here is not None and there is not None and here != there:
        return RouteClass.INTERNATIONAL
    a, b = _part(origin_state), _part(dest_state)
    if a is not None and a == b:
        return RouteClass.LOCAL
    return RouteClass.DOMESTIC


@dataclass(frozen=True, order=True)
class RouteKey:
    """Carrier (upper-cased, stripped), service (stripped, case kept) and route class."""

    carrier: str
    service: str
    route_class: RouteClass

    def __post_init__(self) -> None:
        carrier = (self.carrier or "").strip().upper()
        if not carrier:
            raise ValueError("a route key needs a carrier")
        object.__setattr__(self, "carrier", carrier)
        object.__setattr__(self, "service", (self.service or "").strip())
        object.__setattr__(self, "route_class", RouteClass(self.route_class))

    def __str__(self) -> str:
        return f"{self.carrier} {self.service} ({self.route_class})"


def _aware(when: datetime, what: str) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {when.isoformat()}")


def gaps_between(times: Sequence[datetime]) -> list[float]:
    """Seconds between consecutive scans in time order; equal times (no gap) are left out."""
    for t in times:
        _aware(t, "a scan time")
    ordered = sorted(times)
    gaps = ((b - a).total_seconds() for a, b in pairwise(ordered))
    return [g for g in gaps if g > 0]


@dataclass(frozen=True)
class GapPolicy:
    """How gaps become a stall threshold (seconds); see docs/transit.md."""

    percentile: float = 0.95
    margin: float = 1.5
    min_samples: int = 30
    default_s: float = 36 * 3600
    floor_s: float = 4 * 3600
    cap_s: float = 7 * 86400

    def __post_init__(self) -> None:
        if not 0 < self.percentile <= 1:
            raise ValueError(f"gap percentile must be above 0 and at most 1, got {self.percentile}")
        if self.margin <= 0:
            raise ValueError(f"gap margin must be above 0, got {self.margin}")
        if self.min_samples < 1:
            raise ValueError(f"gap min_samples must be at least 1, got {self.min_samples}")
        if not 0 < self.floor_s <= self.default_s <= self.cap_s:
            raise ValueError(
                f"gap seconds must hold 0 < floor <= default <= cap, got "
                f"floor {self.floor_s}, default {self.default_s}, cap {self.cap_s}"
            )


class Source(StrEnum):
    DEFAULT = "default"  # no history: the configured default
    BLENDED = "blended"  # some history: weighted between the default and what was learned
    LEARNED = "learned"  # min_samples gaps or more: learned alone


@dataclass(frozen=True)
class Threshold:
    seconds: float
    source: Source
    samples: int  # gaps used (after outliers were dropped)
    dropped: int = 0  # gaps dropped as outliers (lost scans)


def nearest_rank(values: Sequence[N], percentile: float) -> N:
    """The nearest-rank percentile: the smallest value with at least ``percentile`` of them at or below it."""
    if not values:
        raise ValueError("a percentile of no values")
    if not 0 < percentile <= 1:
        raise ValueError(f"a percentile is above 0 and at most 1, got {percentile}")
    rank = math.ceil(Decimal(str(percentile)) * len(values))  # in Decimal: 0.95 x 20 is 19, not 19.000...04
    return sorted(values)[rank - 1]


def censored_percentile(
    done: Sequence[float], still_open: Sequence[float], percentile: float
) -> float | None:
    """The ``percentile`` of a duration of which some are still running (Kaplan-Meier).

    ``done`` are durations that ended; ``still_open`` are ones still going after that long
    (right-censored: they will end later). Counting only ``done`` would learn from the short
    ones first, since a long one ends last. The estimate is the smallest ended duration at
    which the share still going is at most ``1 - percentile``; a duration still going at a
    time counts as at risk of ending up to that time and is then left out. None when that
    share is never reached (too many still going past the longest ended one to tell).
    With nothing open it is the nearest-rank percentile of ``done``. Exact (fractions).
    """
    if not 0 < percentile <= 1:
        raise ValueError(f"a percentile is above 0 and at most 1, got {percentile}")
    ended = Counter(done)
    left = Counter(still_open)
    at_risk = len(done) + len(still_open)
    going = Fraction(1)
    wanted = 1 - Fraction(str(percentile))
    for t in sorted(set(ended) | set(left)):
        if ended[t]:  # durations ending at t end before ones still open at t are left out
            going *= Fraction(at_risk - ended[t], at_risk)
            if going <= wanted:
                return t
        at_risk -= ended[t] + left[t]
    return None


def _checked(gaps: Iterable[float]) -> list[float]:
    kept = []
    for g in gaps:
        if not g >= 0:  # also NaN
            raise ValueError(f"a gap between scans cannot be negative, got {g}")
        if g > 0:
            kept.append(float(g))
    return kept


def _without_outliers(gaps: list[float]) -> list[float]:
    limit = OUTLIER_FACTOR * statistics.median(gaps)
    return [g for g in gaps if g <= limit]


def _blend(learned: float, default: float, samples: int, policy: GapPolicy) -> float:
    weight = min(samples / policy.min_samples, 1.0)
    return default + weight * (learned - default)


def stall_threshold(gaps_s: Sequence[float], policy: GapPolicy, open_s: Sequence[float] = ()) -> Threshold:
    """How long without a scan means stalled, from the gaps seen on one route key.

    ``gaps_s`` are gaps that ended (a later scan came); ``open_s`` how long each parcel
    still on its way on the route has been quiet now (its gap has not ended yet). No ended
    gaps: the default. Outliers (> 10 x the median ended gap) are dropped from both, then
    the percentile of :func:`censored_percentile` times the margin is what was learned
    (the default when the open gaps leave it unknown); with fewer than ``min_samples``
    ended gaps it is blended with the default by samples / min_samples. Always within
    [floor, cap].
    """
    gaps = _checked(gaps_s)
    if not gaps:
        return Threshold(policy.default_s, Source.DEFAULT, 0)
    kept = _without_outliers(gaps)
    limit = OUTLIER_FACTOR * statistics.median(gaps)
    going = [g for g in _checked(open_s) if g <= limit]
    n = len(kept)
    found = censored_percentile(kept, going, policy.percentile)
    if found is None:
        return Threshold(policy.default_s, Source.DEFAULT, n, len(gaps) - n)
    source = Source.LEARNED if n >= policy.min_samples else Source.BLENDED
    learned = found * policy.margin
    seconds = min(max(_blend(learned, policy.default_s, n, policy), policy.floor_s), policy.cap_s)
    return Threshold(seconds, source, n, len(gaps) - n)


def usual_gap(gaps_s: Sequence[float], policy: GapPolicy) -> float:
    """The usual time between scans (seconds): the median gap, blended like the threshold.

    No gaps: half the default. Outliers are dropped first; with fewer than ``min_samples``
    gaps the median is weighted against half the default. A tracker silent for longer than
    this is worth asking about (a webhook may have been lost).
    """
    gaps = _checked(gaps_s)
    half = policy.default_s / 2
    if not gaps:
        return half
    kept = _without_outliers(gaps)
    return _blend(statistics.median(kept), half, len(kept), policy)


@dataclass(frozen=True)
class Delivered:
    """One delivered parcel: when it left, when it arrived, what the carrier had estimated."""

    key: RouteKey
    shipped_at: datetime
    delivered_at: datetime
    estimated_at: datetime | None = None

    def __post_init__(self) -> None:
        _aware(self.shipped_at, "shipped_at")
        _aware(self.delivered_at, "delivered_at")
        if self.estimated_at is not None:
            _aware(self.estimated_at, "estimated_at")

    @property
    def transit_days(self) -> Decimal:
        """Days in transit, exact; a delivery stamped before the label (carrier clock skew) is 0."""
        micros = max((self.delivered_at - self.shipped_at) // timedelta(microseconds=1), 0)
        return Decimal(micros) / DAY_US


@dataclass(frozen=True)
class CarrierStats:
    """Delivery performance of one route key."""

    key: RouteKey
    shipments: int  # delivered parcels
    estimated: int  # of them, those with an estimate: the base of the on-time rate
    on_time: int
    on_time_rate: Decimal | None  # on_time / estimated, 4 places; None when nothing had an estimate
    transit_days_p50: Decimal  # nearest-rank, 1 place
    transit_days_p90: Decimal


def _days(values: Sequence[Decimal], percentile: float) -> Decimal:
    return nearest_rank(values, percentile).quantize(DAY_PLACES, rounding=ROUND_HALF_UP)


def _stats(key: RouteKey, rows: list[Delivered], grace: timedelta) -> CarrierStats:
    judged = [r for r in rows if r.estimated_at is not None]
    on_time = sum(
        1 for r in judged if r.estimated_at is not None and r.delivered_at <= r.estimated_at + grace
    )
    rate = (Decimal(on_time) / len(judged)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP) if judged else None
    days = [r.transit_days for r in rows]
    return CarrierStats(key, len(rows), len(judged), on_time, rate, _days(days, 0.5), _days(days, 0.9))


def performance(rows: Iterable[Delivered], grace: timedelta = timedelta(0)) -> list[CarrierStats]:
    """Per route key (sorted): deliveries, on-time count and rate, transit-day p50 and p90.

    On time: delivered at or before the estimate plus ``grace``. A delivery without an
    estimate counts for the shipments and transit days, not for the on-time rate.
    """
    if grace < timedelta(0):
        raise ValueError(f"on-time grace cannot be negative, got {grace}")
    by_key: dict[RouteKey, list[Delivered]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    return [_stats(key, by_key[key], grace) for key in sorted(by_key)]


def percent(rate: Decimal) -> str:
    """0.95 -> "95%", 0.9525 -> "95.25%"."""
    return f"{(rate * 100).normalize():f}%"


def qualifies(stats: CarrierStats | None, min_rate: Decimal, min_samples: int) -> bool:
    """Enough deliveries with an estimate, and on time at least ``min_rate`` of them."""
    if min_samples < 1:
        raise ValueError(f"on-time min_samples must be at least 1, got {min_samples}")
    return (
        stats is not None
        and stats.on_time_rate is not None
        and stats.estimated >= min_samples
        and stats.on_time_rate >= min_rate
    )


def on_time_verdict(
    stats: CarrierStats | None, route: RouteClass, min_rate: Decimal, min_samples: int
) -> str | None:
    """Why a rate with these ``stats`` (on its route class) is not on time enough, or None when it is."""
    if qualifies(stats, min_rate, min_samples):
        return None
    if stats is None or stats.estimated < min_samples:
        seen = stats.estimated if stats is not None else 0
        return f"{seen} delivery(ies) with an estimate on {route} routes, {min_samples} needed"
    assert stats.on_time_rate is not None  # estimated >= min_samples >= 1
    return f"on time {percent(stats.on_time_rate)} on {route} routes, below {percent(min_rate)}"


def key_of(rate: Rate, route: RouteClass) -> RouteKey:
    return RouteKey(rate.carrier, rate.service, route)


def choose_on_time(
    rates: Sequence[Rate],
    stats_by_key: Mapping[RouteKey, CarrierStats],
    route_class: RouteClass,
    min_rate: Decimal,
    min_samples: int,
    fallback: tuple[Rate | None, str],
) -> tuple[Rate | None, str]:
    """The first of ``rates`` (eligible, in the current rule's order) that is on time enough.

    Qualifies: at least ``min_samples`` deliveries with an estimate on this route class,
    and an on-time rate at or above ``min_rate``. None qualifying: ``fallback`` (the
    current rule's choice and its reason), with why no rate qualified.
    """
    found = [(r, stats_by_key.get(key_of(r, route_class))) for r in rates]
    for r, stats in found:
        if qualifies(stats, min_rate, min_samples):
            assert stats is not None
            assert stats.on_time_rate is not None
            return r, (
                f"cheapest rate on time at least {percent(min_rate)} on {route_class} routes "
                f"({percent(stats.on_time_rate)} of {stats.estimated}): "
                f"{r.carrier} {r.service} {r.price.amount} {r.price.currency}"
            )
    known = any(stats is not None and stats.estimated >= min_samples for _, stats in found)
    lead = (
        f"no rate is on time at least {percent(min_rate)} on {route_class} routes"
        if known
        else f"no rate has {min_samples} deliveries with an estimate on {route_class} routes"
    )
    return fallback[0], f"{lead}; the usual rule chose: {fallback[1]}"

"""The transit model's routes and scan gaps (core/transit.py), table-driven.

Each threshold is tried at, below and above its boundary; the policy's numbers are chosen
so that every result is exact (weights of 1/4, 1/2, 3/4; whole hours).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.transit import (
    GapPolicy,
    RouteClass,
    RouteKey,
    Source,
    Threshold,
    censored_percentile,
    gaps_between,
    nearest_rank,
    route_class,
    stall_threshold,
    usual_gap,
)

H = 3600.0
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
DEFAULT = GapPolicy()
# min_samples 4: weights are quarters; floor 1 h and cap 100 h keep the learned figures unclamped
SMALL = GapPolicy(percentile=0.5, margin=2.0, min_samples=4, default_s=10 * H, floor_s=1 * H, cap_s=100 * H)


# -- route classes
@pytest.mark.parametrize(
    ("origin", "dest", "expected"),
    [
        (("US", "CA"), ("US", "CA"), RouteClass.LOCAL),
        (("US", "CA"), ("US", "NY"), RouteClass.DOMESTIC),
        (("US", "CA"), ("CA", "ON"), RouteClass.INTERNATIONAL),
        (("US", "CA"), ("CA", "CA"), RouteClass.INTERNATIONAL),  # same state code, other country
        ((" us ", "ca"), ("US", " CA "), RouteClass.LOCAL),  # case and spaces do not matter
        (("us", None), ("gb", None), RouteClass.INTERNATIONAL),
        # a missing country is the other side's
        (("US", "CA"), (None, "CA"), RouteClass.LOCAL),
        ((None, "CA"), ("US", "NY"), RouteClass.DOMESTIC),
        (("US", "CA"), ("", "CA"), RouteClass.LOCAL),
        (("US", "CA"), ("  ", "NY"), RouteClass.DOMESTIC),
        ((None, None), (None, None), RouteClass.DOMESTIC),
        ((None, "CA"), (None, "CA"), RouteClass.LOCAL),
        # local needs both states known
        (("US", None), ("US", None), RouteClass.DOMESTIC),
        (("US", ""), ("US", " "), RouteClass.DOMESTIC),
        (("US", "CA"), ("US", None), RouteClass.DOMESTIC),
        (("US", None), ("US", "CA"), RouteClass.DOMESTIC),
    ],
)
def test_route_class(
    origin: tuple[str | None, str | None], dest: tuple[str | None, str | None], expected: RouteClass
) -> None:
    assert route_class(origin[0], origin[1], dest[0], dest[1]) is expected
    assert route_class(dest[0], dest[1], origin[0], origin[1]) is expected  # either direction


part = st.one_of(st.none(), st.sampled_from(["", " ", "us", "US", "ca", "CA", "NY", "gb"]))


@given(part, part, part, part)
def test_route_class_is_symmetric(a: str | None, b: str | None, c: str | None, d: str | None) -> None:
    assert route_class(a, b, c, d) is route_class(c, d, a, b)


def test_a_route_key_normalises_the_carrier_and_service_but_keeps_the_service_case() -> None:
    key = RouteKey("  ups ", " Ground Saver ", "domestic")  # type: ignore[arg-type]
    assert (key.carrier, key.service, key.route_class) == ("UPS", "Ground Saver", RouteClass.DOMESTIC)
    assert key.route_class is RouteClass.DOMESTIC
    assert key == RouteKey("UPS", "Ground Saver", RouteClass.DOMESTIC)
    assert key != RouteKey("UPS", "ground saver", RouteClass.DOMESTIC)
    assert str(key) == "UPS Ground Saver (domestic)"
    assert RouteKey("usps", None, RouteClass.LOCAL).service == ""  # type: ignore[arg-type]


@pytest.mark.parametrize("carrier", ["", "   ", None])
def test_a_route_key_without_a_carrier_is_refused(carrier: str | None) -> None:
    with pytest.raises(ValueError, match=r"^a route key needs a carrier$"):
        RouteKey(carrier, "Ground", RouteClass.LOCAL)  # type: ignore[arg-type]


def test_a_route_key_with_an_unknown_route_class_is_refused() -> None:
    with pytest.raises(ValueError, match="'regional' is not a valid RouteClass"):
        RouteKey("UPS", "Ground", "regional")  # type: ignore[arg-type]


def test_route_keys_sort_by_carrier_service_then_route_class() -> None:
    keys = [
        RouteKey("USPS", "Priority", RouteClass.LOCAL),
        RouteKey("UPS", "Ground", RouteClass.LOCAL),
        RouteKey("UPS", "Ground", RouteClass.DOMESTIC),
        RouteKey("UPS", "Air", RouteClass.LOCAL),
    ]
    assert sorted(keys) == [keys[3], keys[2], keys[1], keys[0]]


# -- gaps between scans
def test_gaps_are_taken_in_time_order_and_equal_times_are_no_gap() -> None:
    times = [
        T0 + timedelta(hours=5),
        T0,
        T0 + timedelta(hours=2),
        T0 + timedelta(hours=2),
        T0 + timedelta(seconds=7205),
        T0 + timedelta(seconds=7205.5),
    ]
    assert gaps_between(times) == [2 * H, 5.0, 0.5, 3 * H - 5.5]  # half a second is a gap


def test_gaps_across_time_zones_are_real_seconds() -> None:
    east = timezone(timedelta(hours=2))
    assert gaps_between([T0, datetime(2026, 11, 2, 11, 0, tzinfo=east)]) == [H]


@pytest.mark.parametrize("times", [[], [T0], [T0, T0]])
def test_fewer_than_two_distinct_times_have_no_gaps(times: list[datetime]) -> None:
    assert gaps_between(times) == []


class NoOffset(tzinfo):
    """A zone that does not know its offset: as unusable as none."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


@pytest.mark.parametrize("bad", [datetime(2026, 11, 2, 8, 0), datetime(2026, 11, 2, 8, 0, tzinfo=NoOffset())])
def test_a_scan_time_without_a_zone_is_refused(bad: datetime) -> None:
    with pytest.raises(
        ValueError, match=r"^a scan time must be a timezone-aware datetime, got 2026-11-02T08:00:00$"
    ):
        gaps_between([T0, bad])


@given(st.lists(st.integers(min_value=0, max_value=10**7), max_size=20))
def test_gaps_add_up_to_the_span(offsets: list[int]) -> None:
    times = [T0 + timedelta(seconds=o) for o in offsets]
    gaps = gaps_between(times)
    assert all(g > 0 for g in gaps)
    assert sum(gaps) == (max(offsets) - min(offsets) if offsets else 0)
    assert len(gaps) == max(len(set(offsets)) - 1, 0)


# -- the policy's bounds
@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"percentile": 0}, "gap percentile must be above 0 and at most 1, got 0"),
        ({"percentile": -0.5}, "gap percentile must be above 0 and at most 1, got -0.5"),
        ({"percentile": 1.01}, "gap percentile must be above 0 and at most 1, got 1.01"),
        ({"margin": 0}, "gap margin must be above 0, got 0"),
        ({"margin": -1}, "gap margin must be above 0, got -1"),
        ({"min_samples": 0}, "gap min_samples must be at least 1, got 0"),
        (
            {"floor_s": 0, "default_s": 10, "cap_s": 20},
            "gap seconds must hold 0 < floor <= default <= cap, got floor 0, default 10, cap 20",
        ),
        (
            {"floor_s": 11, "default_s": 10, "cap_s": 20},
            "gap seconds must hold 0 < floor <= default <= cap, got floor 11, default 10, cap 20",
        ),
        (
            {"floor_s": 1, "default_s": 21, "cap_s": 20},
            "gap seconds must hold 0 < floor <= default <= cap, got floor 1, default 21, cap 20",
        ),
    ],
)
def test_a_gap_policy_out_of_bounds_is_refused(kw: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        GapPolicy(**kw)  # type: ignore[arg-type]
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "kw",
    [
        {"percentile": 1},
        {"percentile": 0.001},
        {"margin": 0.01},
        {"min_samples": 1},
        {"floor_s": 10, "default_s": 10, "cap_s": 10},
        {"floor_s": 0.5, "default_s": 10, "cap_s": 20},
    ],
)
def test_a_gap_policy_at_its_bounds_is_accepted(kw: dict[str, float]) -> None:
    policy = GapPolicy(**kw)  # type: ignore[arg-type]
    for name, value in kw.items():
        assert getattr(policy, name) == value


def test_the_default_policy() -> None:
    d = GapPolicy()
    assert (d.percentile, d.margin, d.min_samples, d.default_s, d.floor_s, d.cap_s) == (
        0.95,
        1.5,
        30,
        129600,
        14400,
        604800,
    )


# -- nearest rank
@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([float(v) for v in range(1, 21)], 0.95, 19.0),  # rank 19 exactly (in floats 0.95 x 20 > 19)
        ([float(v) for v in range(20, 0, -1)], 0.95, 19.0),  # any order
        ([float(v) for v in range(1, 21)], 0.951, 20.0),
        ([float(v) for v in range(1, 21)], 0.949, 19.0),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.0),
        ([4.0, 1.0, 3.0, 2.0], 0.51, 3.0),
        ([4.0, 1.0, 3.0, 2.0], 1, 4.0),
        ([4.0, 1.0, 3.0, 2.0], 0.01, 1.0),
        ([7.0], 0.95, 7.0),
    ],
)
def test_nearest_rank(values: list[float], p: float, expected: float) -> None:
    assert nearest_rank(values, p) == expected


def test_nearest_rank_refuses_no_values_and_percentiles_out_of_bounds() -> None:
    with pytest.raises(ValueError, match=r"^a percentile of no values$"):
        nearest_rank([], 0.5)
    for p in (0, 1.5, -0.1):
        with pytest.raises(ValueError) as raised:
            nearest_rank([1.0], p)
        assert str(raised.value) == f"a percentile is above 0 and at most 1, got {p}"


# -- stall threshold
def test_no_history_gives_the_default() -> None:
    assert stall_threshold([], DEFAULT) == Threshold(36 * H, Source.DEFAULT, 0, 0)
    assert stall_threshold([0, 0.0], SMALL) == Threshold(10 * H, Source.DEFAULT, 0, 0)  # zero gaps are none


@pytest.mark.parametrize(
    ("gaps", "seconds", "source", "samples"),
    [
        # SMALL: median x 2, blended with 10 h by n/4
        ([1 * H], 10 * H + 0.25 * (2 * H - 10 * H), Source.BLENDED, 1),  # 8 h
        ([3 * H, 1 * H], 10 * H + 0.5 * (2 * H - 10 * H), Source.BLENDED, 2),  # 6 h
        ([1 * H, 3 * H, 2 * H], 10 * H + 0.75 * (4 * H - 10 * H), Source.BLENDED, 3),  # 5.5 h
        ([1 * H, 3 * H, 2 * H, 4 * H], 4 * H, Source.LEARNED, 4),  # exactly min_samples: learned alone
        ([1 * H, 3 * H, 2 * H, 4 * H, 5 * H], 6 * H, Source.LEARNED, 5),  # above: learned alone
        ([20 * H], 10 * H + 0.25 * (40 * H - 10 * H), Source.BLENDED, 1),  # learned above the default
        ([0, 1 * H], 8 * H, Source.BLENDED, 1),  # a zero gap counts for nothing
    ],
)
def test_little_history_blends_and_enough_history_is_learned(
    gaps: list[float], seconds: float, source: Source, samples: int
) -> None:
    assert stall_threshold(gaps, SMALL) == Threshold(seconds, source, samples, 0)


def test_the_default_policy_learns_the_95th_percentile_times_one_and_a_half() -> None:
    gaps = [float(h) * H for h in range(1, 41)]  # 40 gaps: the 95th percentile is the 38th, 38 h
    assert stall_threshold(gaps, DEFAULT) == Threshold(57 * H, Source.LEARNED, 40, 0)
    assert stall_threshold(gaps[:29], DEFAULT).source is Source.BLENDED
    assert stall_threshold(gaps[:30], DEFAULT) == Threshold(43.5 * H, Source.LEARNED, 30, 0)  # 29th of 30


@pytest.mark.parametrize(
    ("gaps", "samples", "dropped", "seconds"),
    [
        # median 1 h: a gap up to 10 h is kept, above it is a lost scan
        ([1 * H] * 4 + [10 * H], 5, 0, 20 * H),
        ([1 * H] * 4 + [10 * H + 1], 4, 1, 2 * H),
        ([1 * H] * 4 + [10 * H + 1, 50 * H], 4, 2, 2 * H),
        ([1 * H] * 4 + [9 * H], 5, 0, 18 * H),
    ],
)
def test_gaps_from_lost_scans_are_dropped(
    gaps: list[float], samples: int, dropped: int, seconds: float
) -> None:
    policy = GapPolicy(
        percentile=1, margin=2.0, min_samples=4, default_s=10 * H, floor_s=1 * H, cap_s=100 * H
    )
    assert stall_threshold(gaps, policy) == Threshold(seconds, Source.LEARNED, samples, dropped)


@pytest.mark.parametrize(
    ("gap", "seconds"),
    [
        (60.0, 4 * H),  # learned 90 s: the floor
        (4 * H / 1.5, 4 * H),  # learned exactly the floor
        (5 * H, 7.5 * H),  # above the floor
        (4 * 86400.0, 6 * 86400.0),  # below the cap
        (7 * 86400 / 1.5, 7 * 86400.0),  # learned exactly the cap
        (6 * 86400.0, 7 * 86400.0),  # learned 9 days: the cap
    ],
)
def test_a_learned_threshold_stays_between_floor_and_cap(gap: float, seconds: float) -> None:
    found = stall_threshold([gap] * 30, DEFAULT)
    assert found == Threshold(pytest.approx(seconds, rel=1e-12), Source.LEARNED, 30, 0)  # type: ignore[arg-type]


def test_a_blended_threshold_is_clamped_too() -> None:
    policy = GapPolicy(percentile=1, margin=1, min_samples=2, default_s=2 * H, floor_s=2 * H, cap_s=3 * H)
    assert stall_threshold([60.0], policy) == Threshold(
        2 * H, Source.BLENDED, 1, 0
    )  # blended 1 h 0 min 30 s: the floor
    assert stall_threshold([20 * H], policy) == Threshold(3 * H, Source.BLENDED, 1, 0)  # 11 h: cap


# -- gaps not ended yet (right-censored)
@given(
    st.lists(st.floats(min_value=1, max_value=1e6), min_size=1, max_size=60),
    st.sampled_from([0.05, 0.5, 0.9, 0.95, 0.99, 1.0]),
)
def test_with_nothing_open_the_censored_percentile_is_the_nearest_rank(done: list[float], p: float) -> None:
    assert censored_percentile(done, [], p) == nearest_rank(done, p)


@pytest.mark.parametrize(
    ("done", "still_open", "p", "expected"),
    [
        # at 1: 4 of 5 still going; at 2: 3/5; 2.5 leaves; at 3: 3/5 x 1/2 = 3/10 <= 1/2
        ([1.0, 2.0, 3.0, 4.0], [2.5], 0.5, 3.0),
        ([1.0, 2.0, 3.0, 4.0], [], 0.5, 2.0),  # the same without it: it learned from short ones
        ([1.0, 2.0, 3.0, 4.0], [0.5], 0.5, 2.0),  # one open shorter than all: 3/4, then 2/4
        # an open gap as long as an ended one is still at risk when that one ends: 2/3, then 0
        ([2.0, 3.0], [2.0], 0.5, 3.0),
        ([1.0], [5.0, 6.0], 0.5, None),  # 2/3 still going after the only ended gap: unknown
        ([1.0, 2.0], [3.0], 1.0, None),  # the 100th percentile needs every gap ended
        ([1.0, 3.0], [2.0], 1.0, 3.0),
        ([float(h) for h in range(1, 21)], [], 0.95, 19.0),  # 19/20 exactly, not 0.95 in binary
        ([1.0, 1.0, 2.0], [], 0.7, 2.0),  # ties end together: 1/3 going after 1 is above 0.3
        ([1.0, 1.0, 2.0], [], 0.6, 1.0),  # and at most 0.4
    ],
)
def test_the_censored_percentile(
    done: list[float], still_open: list[float], p: float, expected: float | None
) -> None:
    assert censored_percentile(done, still_open, p) == expected


def test_the_censored_percentile_refuses_percentiles_out_of_bounds() -> None:
    for p in (0, 1.5, -0.1):
        with pytest.raises(ValueError) as raised:
            censored_percentile([1.0], [], p)
        assert str(raised.value) == f"a percentile is above 0 and at most 1, got {p}"


@pytest.mark.parametrize(
    ("still_open", "expected"),
    [
        ([], Threshold(4 * H, Source.LEARNED, 4, 0)),  # 2 h x 2
        ([2.5 * H], Threshold(6 * H, Source.LEARNED, 4, 0)),  # a quiet parcel: 3 h x 2
        ([25 * H], Threshold(6 * H, Source.LEARNED, 4, 0)),  # 10 x the median ended gap (2.5 h): kept
        ([25 * H + 1], Threshold(4 * H, Source.LEARNED, 4, 0)),  # above it: a stall, not a gap
        ([0.0, 2.5 * H], Threshold(6 * H, Source.LEARNED, 4, 0)),  # scanned just now: no gap
    ],
)
def test_parcels_quiet_now_count_as_gaps_not_ended(still_open: list[float], expected: Threshold) -> None:
    assert stall_threshold([1 * H, 2 * H, 3 * H, 4 * H], SMALL, still_open) == expected


def test_when_the_open_gaps_leave_the_percentile_unknown_the_default_holds() -> None:
    assert stall_threshold([1 * H], SMALL, [2 * H, 3 * H]) == Threshold(10 * H, Source.DEFAULT, 1, 0)
    assert stall_threshold([1 * H] * 3 + [50 * H], SMALL, [2 * H, 3 * H, 4 * H, 5 * H]) == Threshold(
        10 * H, Source.DEFAULT, 3, 1
    )  # 4/7 still going after 1 h; the lost scan is still counted as dropped
    assert stall_threshold([], SMALL, [2 * H]) == Threshold(10 * H, Source.DEFAULT, 0, 0)
    with pytest.raises(ValueError, match="cannot be negative"):
        stall_threshold([H], SMALL, [-1.0])


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_a_negative_or_missing_gap_is_refused(bad: float) -> None:
    with pytest.raises(ValueError) as raised:
        stall_threshold([H, bad], DEFAULT)
    assert str(raised.value) == f"a gap between scans cannot be negative, got {bad}"
    with pytest.raises(ValueError):
        usual_gap([bad], DEFAULT)


def test_whole_number_gaps_are_taken_as_seconds() -> None:
    assert stall_threshold([3600, 7200, 10800, 14400], SMALL) == Threshold(4 * H, Source.LEARNED, 4, 0)
    assert usual_gap([3600, 7200, 10800, 14400], SMALL) == 2.5 * H


gap_lists = st.lists(st.floats(min_value=0, max_value=30 * 86400, allow_nan=False), max_size=60)


@given(gap_lists, st.floats(min_value=0.1, max_value=5), st.floats(min_value=0.1, max_value=5))
def test_the_threshold_never_falls_with_a_larger_margin(gaps: list[float], a: float, b: float) -> None:
    low, high = sorted((a, b))
    first = stall_threshold(gaps, GapPolicy(margin=low))
    second = stall_threshold(gaps, GapPolicy(margin=high))
    assert first.seconds <= second.seconds
    assert (first.source, first.samples, first.dropped) == (second.source, second.samples, second.dropped)


@given(
    gap_lists,
    st.floats(min_value=0.01, max_value=1),
    st.floats(min_value=0.1, max_value=5),
    st.integers(1, 50),
)
def test_the_threshold_is_never_below_the_floor_nor_above_the_cap(
    gaps: list[float], p: float, margin: float, least: int
) -> None:
    policy = GapPolicy(percentile=p, margin=margin, min_samples=least)
    found = stall_threshold(gaps, policy)
    assert policy.floor_s <= found.seconds <= policy.cap_s
    assert found.samples + found.dropped == sum(1 for g in gaps if g > 0)
    assert found.source == (
        Source.DEFAULT if not found.samples else Source.LEARNED if found.samples >= least else Source.BLENDED
    )


# -- usual gap
@pytest.mark.parametrize(
    ("gaps", "seconds"),
    [
        ([], 5 * H),  # half the default
        ([0.0], 5 * H),
        ([1 * H], 5 * H + 0.25 * (1 * H - 5 * H)),  # 4 h
        ([3 * H, 1 * H], 5 * H + 0.5 * (2 * H - 5 * H)),  # median 2 h: 3.5 h
        ([1 * H, 9 * H, 2 * H], 5 * H + 0.75 * (2 * H - 5 * H)),  # 2.75 h
        ([1 * H, 9 * H, 2 * H, 3 * H], 2.5 * H),  # exactly min_samples: the median
        ([1 * H, 9 * H, 2 * H, 3 * H, 3 * H], 3 * H),
        ([1 * H, 1 * H, 1 * H, 1 * H, 1 * H, 1 * H, 11 * H], 1 * H),  # the lost scan is dropped
        ([1 * H, 1 * H, 1 * H, 100 * H], 5 * H + 0.75 * (1 * H - 5 * H)),  # 3 kept of 4: still blended
    ],
)
def test_usual_gap(gaps: list[float], seconds: float) -> None:
    assert usual_gap(gaps, SMALL) == seconds


def test_usual_gap_of_the_default_policy_without_history_is_18_hours() -> None:
    assert usual_gap([], DEFAULT) == 18 * H

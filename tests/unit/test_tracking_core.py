"""core/tracking.py: scans, merge, state, the milestone table, changes and the findings.

Table-driven: every row of the milestone table, each finding just below, at and above its
threshold, final states never late or stalled, merges with duplicates, reordering and ties.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from core.tracking import (
    CARRIER_KINDS,
    EXCEPTION_MILESTONES,
    FINAL,
    WAITING,
    DeliveryState,
    ExceptionKind,
    Finding,
    Milestone,
    Place,
    Scan,
    TrackerReport,
    carrier_finding,
    changes,
    late_finding,
    latest_scan_at,
    merge,
    milestone,
    stall_finding,
    state_of,
)

D = DeliveryState
M = Milestone
K = ExceptionKind
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def scan(hours: float, status: D, detail: str = "", message: str = "") -> Scan:
    return Scan(at(hours), status, detail, message)


# -- states and scans
def test_final_and_waiting_states() -> None:
    assert {D.delivered, D.return_to_sender, D.cancelled} == FINAL
    assert {D.delivered, D.return_to_sender, D.cancelled, D.available_for_pickup} == WAITING
    assert D.failure not in FINAL
    assert [s.value for s in D] == [
        "unknown",
        "pre_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
        "available_for_pickup",
        "return_to_sender",
        "failure",
        "cancelled",
        "error",
    ]


def test_milestones_are_the_storefront_words() -> None:
    from connectors.storefront.writes import TrackingStatus

    assert {m.value for m in M} <= {t.value for t in TrackingStatus}
    assert {M.failure, M.attempted_delivery, M.ready_for_pickup, M.delayed} == EXCEPTION_MILESTONES


def test_a_scan_key_is_the_digest_of_time_status_detail_and_words() -> None:
    s = Scan(at(0), D.in_transit, "arrived_at_facility", "Arrived")
    text = "2026-03-01T12:00:00+00:00|in_transit|arrived_at_facility|Arrived"
    assert s.key == hashlib.sha256(text.encode()).hexdigest()
    assert len(s.key) == 64


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (Scan(at(0), D.in_transit, "arrived_at_facility", "Arrived"), True),
        (Scan(at(0), D.in_transit, "arrived_at_facility", "Arrived", Place(city="X")), True),
        (
            Scan(
                T0.astimezone(timezone(timedelta(hours=-5))), D.in_transit, "arrived_at_facility", "Arrived"
            ),
            True,
        ),
        (Scan(at(0) + timedelta(seconds=1), D.in_transit, "arrived_at_facility", "Arrived"), False),
        (Scan(at(0), D.out_for_delivery, "arrived_at_facility", "Arrived"), False),
        (Scan(at(0), D.in_transit, "departed_facility", "Arrived"), False),
        (Scan(at(0), D.in_transit, "arrived_at_facility", "Arrived at hub"), False),
    ],
)
def test_the_key_ignores_place_and_zone_but_nothing_else(other: Scan, same: bool) -> None:
    base = Scan(at(0), D.in_transit, "arrived_at_facility", "Arrived")
    assert (other.key == base.key) is same


def test_a_scan_keeps_utc_and_its_state() -> None:
    s = Scan(datetime(2026, 3, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5))), "delivered")  # type: ignore[arg-type]
    assert s.happened_at == T0 and s.happened_at.tzinfo is UTC
    assert s.status is D.delivered
    assert (s.detail, s.message, s.place) == ("", "", None)


def test_a_scan_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^a carrier time needs a zone$"):
        Scan(datetime(2026, 3, 1, 12, 0), D.in_transit)


class NoOffset(tzinfo):
    """A zone that knows no offset (``utcoffset`` None): as good as none."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def test_a_scan_in_a_zone_without_an_offset_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^a carrier time needs a zone$"):
        Scan(datetime(2026, 3, 1, 12, 0, tzinfo=NoOffset()), D.in_transit)


def test_a_scan_of_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError):
        Scan(at(0), "lost_in_space")  # type: ignore[arg-type]


def test_place_round_trip() -> None:
    place = Place("ORLANDO", "FL", "US", "32809")
    assert place.to_dict() == {"city": "ORLANDO", "state": "FL", "country": "US", "postal_code": "32809"}
    assert Place.from_dict(place.to_dict()) == place
    assert Place.from_dict({"city": "ORLANDO"}) == Place(city="ORLANDO")
    assert Place.from_dict({"city": "", "state": None}) is None
    assert Place.from_dict(None) is None
    assert Place.from_dict(["ORLANDO"]) is None
    assert Place.from_dict({"country": 1}) == Place(country="1")


def test_a_report_holds_what_the_carrier_said() -> None:
    report = TrackerReport("trk_1", "1Z", "UPS", None, D.in_transit, "x", None, ())
    assert (report.updated_at, report.public_url) == (None, None)


# -- merge
def test_merge_adds_new_scans_in_carrier_time() -> None:
    a, b, c = scan(0, D.pre_transit), scan(5, D.in_transit), scan(9, D.delivered)
    new, merged = merge([a, c], [c, b])
    assert new == [b]
    assert merged == [a, b, c]


def test_merge_counts_a_scan_once_within_one_report() -> None:
    a = scan(1, D.in_transit, "arrived_at_facility")
    twin = scan(1, D.in_transit, "arrived_at_facility")
    new, merged = merge([], [a, twin, a])
    assert new == [a] and merged == [a]


def test_merge_of_nothing_new() -> None:
    a = scan(0, D.pre_transit)
    assert merge([a], [a]) == ([], [a])
    assert merge([], []) == ([], [])


def test_merge_ties_keep_the_known_then_the_carrier_order() -> None:
    known = scan(2, D.in_transit, "arrived_at_facility", "first")
    x = scan(2, D.in_transit, "departed_facility", "second")
    y = scan(2, D.in_transit, "departed_facility", "third")
    new, merged = merge([known], [y, x])
    assert new == [y, x]
    assert merged == [known, y, x]


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
def test_reports_in_any_order_converge(order: tuple[int, int, int]) -> None:
    reports = [
        [scan(0, D.pre_transit)],
        [scan(0, D.pre_transit), scan(4, D.in_transit)],
        [scan(0, D.pre_transit), scan(4, D.in_transit), scan(8, D.delivered)],
    ]
    known: list[Scan] = []
    added = 0
    for i in order:
        new, known = merge(known, reports[i])
        added += len(new)
    assert added == 3
    assert [s.status for s in known] == [D.pre_transit, D.in_transit, D.delivered]
    assert state_of(known, D.unknown) is D.delivered


# -- state
@pytest.mark.parametrize(
    ("scans", "reported", "expected"),
    [
        ([], D.in_transit, D.in_transit),
        ([], D.unknown, D.unknown),
        ([scan(0, D.pre_transit)], D.delivered, D.pre_transit),
        ([scan(0, D.pre_transit), scan(3, D.in_transit)], D.unknown, D.in_transit),
        ([scan(3, D.in_transit), scan(0, D.pre_transit)], D.unknown, D.in_transit),
        ([scan(5, D.delivered), scan(3, D.out_for_delivery)], D.unknown, D.delivered),
        ([scan(3, D.failure), scan(3, D.in_transit)], D.unknown, D.in_transit),
        ([scan(3, D.in_transit), scan(3, D.failure)], D.unknown, D.failure),
    ],
)
def test_state_is_the_latest_scan_by_carrier_time(scans: list[Scan], reported: D, expected: D) -> None:
    assert state_of(scans, reported) is expected


def test_latest_scan_at() -> None:
    assert latest_scan_at([]) is None
    assert latest_scan_at([scan(4, D.in_transit), scan(1, D.pre_transit)]) == at(4)


# -- the milestone table
@pytest.mark.parametrize(
    ("status", "detail", "picked_up_before", "expected"),
    [
        (D.unknown, "", True, None),
        (D.pre_transit, "label_created", False, None),
        (D.pre_transit, "delayed", True, None),
        (D.in_transit, "arrived_at_facility", False, M.picked_up),
        (D.in_transit, "arrived_at_facility", True, M.in_transit),
        (D.in_transit, "departed_facility", True, M.in_transit),
        (D.in_transit, "delayed", False, M.delayed),
        (D.in_transit, "weather_delay", True, M.delayed),
        (D.in_transit, "transit_exception", True, M.delayed),
        (D.in_transit, "held", True, M.delayed),
        (D.in_transit, "awaiting_information", True, M.delayed),
        (D.in_transit, "attempted_delivery", True, M.attempted_delivery),
        (D.in_transit, "delivery_attempted", True, M.attempted_delivery),
        (D.in_transit, "notice_left", True, M.attempted_delivery),
        (D.out_for_delivery, "out_for_delivery", False, M.out_for_delivery),
        (D.out_for_delivery, "out_for_delivery", True, M.out_for_delivery),
        (D.out_for_delivery, "attempted_delivery", True, M.attempted_delivery),
        (D.out_for_delivery, "weather_delay", True, M.delayed),
        (D.delivered, "arrived_at_destination", True, M.delivered),
        (D.delivered, "attempted_delivery", True, M.delivered),
        (D.available_for_pickup, "arrived_at_pickup_location", True, M.ready_for_pickup),
        (D.available_for_pickup, "delayed", True, M.ready_for_pickup),
        (D.return_to_sender, "return", True, M.failure),
        (D.return_to_sender, "delayed", True, M.failure),
        (D.failure, "delivery_exception", True, M.failure),
        (D.failure, "attempted_delivery", True, M.attempted_delivery),
        (D.failure, "delayed", True, M.delayed),
        (D.cancelled, "cancelled", True, None),
        (D.cancelled, "delayed", True, None),
        (D.error, "unknown", True, None),
        (D.error, "attempted_delivery", True, None),
    ],
)
def test_every_row_of_the_milestone_table(
    status: D, detail: str, picked_up_before: bool, expected: M | None
) -> None:
    assert milestone(Scan(at(0), status, detail), picked_up_before) == expected


def test_changes_collapse_repeats_and_skip_unmapped_scans() -> None:
    scans = [
        scan(0, D.pre_transit, "label_created"),
        scan(1, D.in_transit, "arrived_at_facility"),
        scan(2, D.in_transit, "arrived_at_facility"),
        scan(3, D.in_transit, "departed_facility"),
        scan(4, D.in_transit, "weather_delay"),
        scan(5, D.in_transit, "weather_delay", "still"),
        scan(6, D.in_transit, "departed_facility"),
        scan(7, D.unknown),
        scan(8, D.out_for_delivery, "out_for_delivery"),
        scan(9, D.delivered, "arrived_at_destination"),
    ]
    got = [(s.happened_at, m) for s, m in changes(scans)]
    assert got == [
        (at(1), M.picked_up),
        (at(2), M.in_transit),
        (at(4), M.delayed),
        (at(6), M.in_transit),
        (at(8), M.out_for_delivery),
        (at(9), M.delivered),
    ]


def test_changes_after_a_skipped_scan_still_collapse() -> None:
    scans = [scan(1, D.out_for_delivery), scan(2, D.unknown), scan(3, D.out_for_delivery)]
    assert [m for _, m in changes(scans)] == [M.out_for_delivery]


def test_a_delayed_first_scan_in_transit_counts_as_the_pickup() -> None:
    scans = [scan(1, D.in_transit, "delayed"), scan(2, D.in_transit, "arrived_at_facility")]
    assert [m for _, m in changes(scans)] == [M.delayed, M.in_transit]
    assert [m for _, m in changes([scan(1, D.out_for_delivery), scan(2, D.in_transit)])] == [
        M.out_for_delivery,
        M.picked_up,
    ]


def test_no_changes_without_scans() -> None:
    assert changes([]) == []
    assert changes([scan(0, D.pre_transit)]) == []


# -- findings
def test_carrier_kinds() -> None:
    assert {
        K.failure,
        K.return_to_sender,
        K.available_for_pickup,
        K.attempted_delivery,
        K.carrier_error,
    } == CARRIER_KINDS
    assert [k.value for k in K] == [
        "failure",
        "return_to_sender",
        "available_for_pickup",
        "attempted_delivery",
        "carrier_error",
        "late",
        "stalled",
    ]


@pytest.mark.parametrize(
    ("state", "detail", "message", "expected"),
    [
        (
            D.failure,
            "delivery_exception",
            "Package damaged",
            Finding(
                K.failure,
                "The carrier reports a delivery failure: Package damaged",
                "Contact the carrier and the customer; reship or refund",
            ),
        ),
        (
            D.return_to_sender,
            "return",
            "",
            Finding(
                K.return_to_sender,
                "The carrier is returning the parcel to the sender",
                "Confirm the address with the customer; reship or refund once it is back",
            ),
        ),
        (
            D.available_for_pickup,
            "arrived_at_pickup_location",
            "At the post office",
            Finding(
                K.available_for_pickup,
                "The parcel waits for the customer at a pickup point: At the post office",
                "Remind the customer to collect it before the carrier sends it back",
            ),
        ),
        (
            D.error,
            "unknown",
            "",
            Finding(
                K.carrier_error,
                "The carrier reports an error for this tracking number",
                "Check the tracking number with the carrier; reship if the parcel is lost",
            ),
        ),
        (
            D.in_transit,
            "attempted_delivery",
            "No one home",
            Finding(
                K.attempted_delivery,
                "The carrier tried to deliver and could not: No one home",
                "Ask the customer to arrange a redelivery or collect the parcel",
            ),
        ),
        (D.in_transit, "arrived_at_facility", "Arrived", None),
        (D.out_for_delivery, "out_for_delivery", "", None),
        (D.pre_transit, "label_created", "", None),
        (D.unknown, "unknown", "", None),
        (D.cancelled, "cancelled", "", None),
        (D.delivered, "attempted_delivery", "Left with neighbour", None),
        (
            D.return_to_sender,
            "attempted_delivery",
            "",
            Finding(
                K.return_to_sender,
                "The carrier is returning the parcel to the sender",
                "Confirm the address with the customer; reship or refund once it is back",
            ),
        ),
    ],
)
def test_carrier_findings(state: D, detail: str, message: str, expected: Finding | None) -> None:
    assert carrier_finding(state, Scan(at(0), state, detail, message)) == expected


def test_carrier_finding_without_a_scan() -> None:
    assert carrier_finding(D.failure, None) == Finding(
        K.failure,
        "The carrier reports a delivery failure",
        "Contact the carrier and the customer; reship or refund",
    )
    assert carrier_finding(D.in_transit, None) is None


def test_an_attempt_reported_by_a_scan_of_another_state() -> None:
    latest = Scan(at(0), D.out_for_delivery, "attempted_delivery", "")
    assert carrier_finding(D.out_for_delivery, latest) == Finding(
        K.attempted_delivery,
        "The carrier tried to deliver and could not",
        "Ask the customer to arrange a redelivery or collect the parcel",
    )


GRACE = timedelta(hours=12)


@pytest.mark.parametrize(
    ("now_h", "state", "late"),
    [
        (11.99, D.in_transit, False),
        (12, D.in_transit, False),
        (12.01, D.in_transit, True),
        (40, D.pre_transit, True),
        (40, D.unknown, True),
        (40, None, True),
        (40, D.failure, False),  # the carrier's failure is its own exception
        (40, D.error, False),
        (40, D.out_for_delivery, True),
        (40, D.delivered, False),
        (40, D.return_to_sender, False),
        (40, D.cancelled, False),
        (40, D.available_for_pickup, False),
    ],
)
def test_late_at_below_and_above_the_grace(now_h: float, state: D | None, late: bool) -> None:
    found = late_finding(T0, at(now_h), state, GRACE)
    assert (found is not None) is late
    if found is not None:
        assert found.kind is K.late
        assert found.action == "Ask the carrier for news and tell the customer about the delay"


def test_late_reason_names_the_estimate_and_how_long_ago() -> None:
    found = late_finding(T0, at(30), D.in_transit, GRACE)
    assert found == Finding(
        K.late,
        "The estimated delivery (2026-03-01 12:00 UTC) passed 30.0 h ago and the parcel is not delivered",
        "Ask the carrier for news and tell the customer about the delay",
    )


def test_late_without_an_estimate_or_grace() -> None:
    assert late_finding(None, at(100), D.in_transit, GRACE) is None
    assert late_finding(T0, at(0), D.in_transit, timedelta(0)) is None
    assert late_finding(T0, at(0.001), D.in_transit, timedelta(0)) is not None


THRESHOLD = 36 * 3600.0


@pytest.mark.parametrize(
    ("quiet_h", "state", "stalled"),
    [
        (35.99, D.in_transit, False),
        (36, D.in_transit, False),
        (36.01, D.in_transit, True),
        (50, D.pre_transit, True),
        (50, D.out_for_delivery, True),
        (50, D.failure, False),  # the carrier's failure is its own exception
        (50, D.error, False),
        (50, D.unknown, True),
        (50, None, True),
        (50, D.delivered, False),
        (50, D.return_to_sender, False),
        (50, D.cancelled, False),
        (50, D.available_for_pickup, False),
    ],
)
def test_stall_at_below_and_above_the_threshold(quiet_h: float, state: D | None, stalled: bool) -> None:
    found = stall_finding(T0, at(quiet_h), THRESHOLD, state)
    assert (found is not None) is stalled


def test_stall_reason_and_action() -> None:
    assert stall_finding(T0, at(40), THRESHOLD, D.in_transit) == Finding(
        K.stalled,
        "No carrier scan for 40.0 h; this carrier usually scans within 36.0 h on this route",
        "Open a trace with the carrier and tell the customer; reship if it does not move",
    )


def test_long_quiet_spells_are_told_in_hours() -> None:
    found = stall_finding(T0, at(1000), THRESHOLD, D.in_transit)
    assert found is not None and found.reason.startswith("No carrier scan for 1000.0 h;")
    late = late_finding(T0, at(1000), D.in_transit, GRACE)
    assert late is not None and "passed 1000.0 h ago" in late.reason


def test_no_stall_without_a_scan() -> None:
    assert stall_finding(None, at(1000), THRESHOLD, D.in_transit) is None


def test_findings_refuse_times_without_a_zone() -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    with pytest.raises(ValueError):
        stall_finding(naive, at(40), THRESHOLD, D.in_transit)
    with pytest.raises(ValueError):
        late_finding(T0, naive, D.in_transit, GRACE)


def test_findings_compare_across_zones() -> None:
    est = datetime(2026, 3, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5)))  # = T0
    found = late_finding(est, at(13), D.in_transit, GRACE)
    assert found is not None and "2026-03-01 12:00 UTC" in found.reason and "13.0 h" in found.reason

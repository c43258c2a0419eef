"""Trackers: creation, EasyPost's test codes, scan-by-scan progression on the fake clock, scenarios."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import easypost
import pytest

from sandbox.easypost import EasyPostSimulator
from sandbox.easypost.samples import pick_rate
from sandbox.harness import FakeClock

HOUR = 3600
FACILITY = {"arrived_at_facility", "departed_facility", "in_transit", "unknown"}


@pytest.mark.parametrize(
    ("code", "status", "scans"),
    [
        ("EZ1000000001", "pre_transit", 1),
        ("EZ2000000002", "in_transit", 3),
        ("EZ3000000003", "out_for_delivery", 4),
        ("EZ4000000004", "delivered", 5),
        ("EZ5000000005", "return_to_sender", 5),
        ("EZ6000000006", "failure", 5),
        ("EZ7000000007", "unknown", 1),
    ],
)
def test_test_tracking_codes_start_at_their_status_and_stay(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, code: str, status: str, scans: int
) -> None:
    tracker = client.tracker.create(tracking_code=code, carrier="USPS")

    assert (tracker.status, len(tracker.tracking_details), tracker.carrier) == (status, scans, "USPS")
    assert tracker.signed_by == ("John Tester" if status == "delivered" else None)
    sim.advance(10 * 24 * HOUR)
    assert client.tracker.retrieve(tracker.id).status == status


def test_create_is_idempotent_per_code_and_carrier(
    client: easypost.EasyPostClient, sim: EasyPostSimulator
) -> None:
    first = client.tracker.create(tracking_code="9400111111111111111111")
    again = client.tracker.create(tracking_code="9400111111111111111111", carrier="USPS")

    assert again.id == first.id and first.carrier == "USPS"
    assert [e["description"] for e in sim.events_sent()] == ["tracker.created"]


def test_carrier_is_detected_from_the_code(client: easypost.EasyPostClient) -> None:
    assert client.tracker.create(tracking_code="1Z999AA10123456784").carrier == "UPS"
    assert client.tracker.create(tracking_code="123456789012").carrier == "FedEx"


def outline(details: list[Any]) -> list[str]:
    """A tracker's scans as ``status/detail``; the first in-transit scan is ``picked_up`` and the
    facility scans after it collapse into one ``moving``."""
    words: list[str] = []
    for detail in details:
        status, word = detail["status"], detail["status_detail"]
        if status == "in_transit" and word in FACILITY and "picked_up" not in words:
            words.append("picked_up")
        elif status == "in_transit" and word in FACILITY:
            if words[-1] != "moving":
                words.append("moving")
        else:
            words.append(f"{status}/{word}")
    return words


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_label_tracker_moves_scan_by_scan_to_delivered_before_its_estimate(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, shipment: Any
) -> None:
    bought = client.shipment.buy(shipment.id, rate=pick_rate(shipment, "USPS", "Priority"))  # 2 days
    tracker_id = bought.tracker.id
    statuses = []
    for _ in range(3 * 24):
        sim.advance(HOUR)
        statuses.append(client.tracker.retrieve(tracker_id).status)

    tracker = client.tracker.retrieve(tracker_id).to_dict()
    assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == [
        "pre_transit", "in_transit", "out_for_delivery", "delivered",
    ]  # fmt: skip
    assert outline(tracker["tracking_details"]) == [
        "pre_transit/label_created", "picked_up", "moving",
        "out_for_delivery/out_for_delivery", "delivered/arrived_at_destination",
    ]  # fmt: skip
    # Bought 2027-01-15 08:00 UTC, two days: delivered on the 17th, estimated for the 18th.
    assert tracker["est_delivery_date"] == "2027-01-18T00:00:00Z"
    assert tracker["carrier_detail"]["est_delivery_date_local"] == "2027-01-18"
    delivered_at = stamp(tracker["tracking_details"][-1]["datetime"])
    assert tracker["tracking_details"][-1]["datetime"].startswith("2027-01-17")
    assert delivered_at < stamp(tracker["est_delivery_date"])
    places = [d["tracking_location"]["city"] for d in tracker["tracking_details"]]
    assert places[:2] == ["SAN FRANCISCO", "SAN FRANCISCO"] and places[-2:] == ["REDONDO BEACH"] * 2
    assert all(d["tracking_location"]["state"] == "CA" for d in tracker["tracking_details"])  # a local route
    assert (tracker["carrier_detail"]["service"], tracker["finalized"]) == ("Priority", True)
    assert tracker["carrier_detail"]["destination_tracking_location"]["city"] == "REDONDO BEACH"
    assert client.shipment.retrieve(shipment.id).tracker.status == "delivered"
    updates = sim.events_sent("tracker.updated")
    # One update per tick that moved it, each with the status before, as EasyPost sends them.
    assert [e["result"]["tracking_details"] for e in updates][-1] == tracker["tracking_details"]
    assert [e["previous_attributes"] for e in updates] == [{"status": "unknown"}] + [
        {"status": e["result"]["status"]} for e in updates[:-1]
    ]
    assert [len(e["result"]["tracking_details"]) for e in updates] == list(range(1, len(updates) + 1))


def test_one_big_step_reports_one_update_with_every_scan(
    client: easypost.EasyPostClient, sim: EasyPostSimulator
) -> None:
    tracker = client.tracker.create(tracking_code="9400122222222222222222")  # First-Class, 4 days

    sim.advance(6 * 24 * HOUR)

    [update] = sim.events_sent("tracker.updated")
    assert update["result"]["status"] == "delivered"
    assert update["previous_attributes"] == {"status": "unknown"}
    refreshed = client.tracker.retrieve(tracker.id)
    assert len(update["result"]["tracking_details"]) == len(refreshed.tracking_details) > 5
    assert refreshed.finalized is True


def test_the_same_seed_replays_the_same_scans_and_another_does_not(clock: Any) -> None:
    def scans(seed: int) -> list[tuple[str, str, str, str]]:
        sim = EasyPostSimulator(clock=FakeClock(start=1_800_000_000.0), seed=seed)
        tracker, _ = sim.tracking.create(sim.clock.now(), "test", "9400133333333333333333", None)
        sim.advance(8 * 24 * HOUR, step_s=6 * HOUR)
        return [
            (d["datetime"], d["status_detail"], d["message"], d["tracking_location"]["city"])
            for d in sim.trackers[tracker["id"]]["tracking_details"]
        ]

    assert scans(7) == scans(7)
    assert scans(7) != scans(8)


@pytest.mark.parametrize(
    ("scenario", "params", "tail"),
    [
        ("normal", {}, ["out_for_delivery/out_for_delivery", "delivered/arrived_at_destination"]),
        ("lost_events", {}, ["out_for_delivery/out_for_delivery", "delivered/arrived_at_destination"]),
        ("failure", {}, ["out_for_delivery/out_for_delivery", "failure/delivery_exception"]),
        (
            "return_to_sender",
            {},
            ["out_for_delivery/out_for_delivery", "in_transit/attempted_delivery"]
            + ["return_to_sender/return"] * 3,
        ),
        (
            "available_for_pickup",
            {},
            [
                "out_for_delivery/out_for_delivery",
                "in_transit/attempted_delivery",
                "available_for_pickup/arrived_at_pickup_location",
            ],
        ),
        (
            "available_for_pickup",
            {"picked_up_after_s": 2 * 24 * HOUR},
            [
                "in_transit/attempted_delivery",
                "available_for_pickup/arrived_at_pickup_location",
                "delivered/arrived_at_destination",
            ],
        ),
        (
            "attempted_delivery",
            {},
            [
                "out_for_delivery/out_for_delivery",
                "in_transit/attempted_delivery",
                "out_for_delivery/out_for_delivery",
                "delivered/arrived_at_destination",
            ],
        ),
        (
            "delayed",
            {},
            [
                "picked_up",
                "moving",
                "in_transit/weather_delay",
                "moving",
                "out_for_delivery/out_for_delivery",
                "delivered/arrived_at_destination",
            ],
        ),
        ("stalled", {}, ["pre_transit/label_created", "picked_up"]),
    ],
)
def test_each_scenario_gives_its_status_sequence(
    client: easypost.EasyPostClient,
    sim: EasyPostSimulator,
    scenario: str,
    params: dict[str, Any],
    tail: list[str],
) -> None:
    tracker = client.tracker.create(tracking_code="9400144444444444444444")
    sim.script_tracker(tracker.id, scenario, **params)

    sim.advance(20 * 24 * HOUR, step_s=HOUR)

    details = client.tracker.retrieve(tracker.id).to_dict()["tracking_details"]
    assert outline(details)[:2] == ["pre_transit/label_created", "picked_up"]
    assert outline(details)[-len(tail) :] == tail
    assert sim.tracker_report(tracker.id)["pending"] == 0  # nothing more will come


@pytest.mark.parametrize(
    ("scenario", "late"),
    [("normal", False), ("delayed", True), ("attempted_delivery", True), ("lost_events", False)],
)
def test_late_scenarios_deliver_after_the_estimate_and_normal_ones_before(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, scenario: str, late: bool
) -> None:
    sim.script_tracker("9400155555555555555599", scenario)  # by code, before the tracker exists
    tracker = client.tracker.create(tracking_code="9400155555555555555599")

    sim.advance(20 * 24 * HOUR, step_s=2 * HOUR)

    refreshed = client.tracker.retrieve(tracker.id)
    assert refreshed.status == "delivered"
    delivered_at = stamp(refreshed.tracking_details[-1].datetime)
    assert (delivered_at > stamp(refreshed.est_delivery_date)) is late


def test_a_stall_that_resumes_leaves_one_long_gap_then_delivers(
    client: easypost.EasyPostClient, sim: EasyPostSimulator
) -> None:
    tracker = client.tracker.create(tracking_code="9400166666666666666699")
    sim.script_tracker(tracker.id, "stalled", stall_after=3, stall_for_s=3 * 24 * HOUR)

    sim.advance(20 * 24 * HOUR, step_s=HOUR)

    details = client.tracker.retrieve(tracker.id).tracking_details
    times = [stamp(d.datetime) for d in details]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    moving = [i for i, d in enumerate(details) if d.status == "in_transit"]
    assert max(gaps) == gaps[moving[2]] >= 3 * 24 * HOUR  # right after the third in-transit scan
    assert sorted(gaps)[-2] <= 14 * HOUR  # every other gap as usual (USPS First-Class: at most 14 h)
    assert details[-1].status == "delivered"
    assert stamp(details[-1].datetime) > stamp(client.tracker.retrieve(tracker.id).est_delivery_date)


def test_scripting_a_moving_tracker_changes_only_what_is_still_to_come(
    client: easypost.EasyPostClient, sim: EasyPostSimulator
) -> None:
    tracker = client.tracker.create(tracking_code="9400177777777777777777")
    sim.advance(30 * HOUR, step_s=HOUR)
    before = client.tracker.retrieve(tracker.id).to_dict()["tracking_details"]

    sim.script_tracker("9400177777777777777777", "stalled")  # by code, after creation
    sim.advance(10 * 24 * HOUR, step_s=HOUR)

    after = client.tracker.retrieve(tracker.id).to_dict()["tracking_details"]
    assert after == before and before[-1]["status"] == "in_transit"
    assert sim.tracker_report(tracker.id)["pending"] == 0


@pytest.mark.parametrize(
    ("scenario", "params", "message"),
    [
        ("lost", {}, "unknown scenario 'lost'"),
        ("stalled", {"stall_for": 3}, "scenario 'stalled' takes no stall_for"),
        ("stalled", {"stall_after": -1}, "stall_after must be a number >= 0"),
        ("delayed", {"delay_s": "long"}, "delay_s must be a number"),
        ("lost_events", {"lose": 2}, "lose must be a share between 0 and 1"),
    ],
)
def test_bad_scripts_are_refused_and_change_nothing(
    sim: EasyPostSimulator, scenario: str, params: dict[str, Any], message: str
) -> None:
    tracker, _ = sim.tracking.create(sim.clock.now(), "test", "9400188888888888888888", None)
    with pytest.raises(ValueError, match=message):
        sim.script_tracker(tracker["id"], scenario, **params)
    assert sim.tracker_report(tracker["id"])["scenario"] == "normal"
    assert sim.tracking.scripts == {}


def test_finalized_and_test_code_trackers_cannot_be_scripted(sim: EasyPostSimulator) -> None:
    tracker, _ = sim.tracking.create(sim.clock.now(), "test", "9400199999999999999999", None)
    sim.advance(10 * 24 * HOUR)

    with pytest.raises(ValueError, match="is finalized"):
        sim.script_tracker(tracker["id"], "failure")
    with pytest.raises(ValueError, match="test tracking code"):
        sim.script_tracker("EZ2000000002", "failure")


def test_unknown_scenario_is_refused(sim: EasyPostSimulator) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'lost'"):
        sim.script_tracker("EZ1000000001", "lost")


def test_list_filters_by_tracking_code_and_paginates(client: easypost.EasyPostClient) -> None:
    ids = [client.tracker.create(tracking_code=f"94001555555555555555{i:02d}").id for i in range(3)]

    assert [t.id for t in client.tracker.all(tracking_code="9400155555555555555501")["trackers"]] == [ids[1]]
    page = client.tracker.all(page_size=2)
    assert ([t.id for t in page["trackers"]], page["has_more"]) == ([ids[2], ids[1]], True)


def test_missing_tracking_code_is_422(client: easypost.EasyPostClient) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.tracker.create(carrier="USPS")

    assert caught.value.errors == [{"field": "tracker.tracking_code", "message": "cannot be blank"}]

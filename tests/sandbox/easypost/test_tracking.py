"""Trackers: creation, EasyPost's test codes, progression on the fake clock, scripted exceptions."""

from __future__ import annotations

from typing import Any

import easypost
import pytest

from sandbox.easypost import EasyPostSimulator
from sandbox.easypost.samples import pick_rate

HOUR = 3600


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


def test_label_tracker_progresses_to_delivered(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, shipment: Any
) -> None:
    bought = client.shipment.buy(shipment.id, rate=pick_rate(shipment, "USPS", "Priority"))  # 2 days: 48 h
    tracker_id = bought.tracker.id
    seen = []
    for hours in (1, 12, 24, 44, 48):
        sim.advance(hours * HOUR - (sim.clock.now() - 1_800_000_000))
        tracker = client.tracker.retrieve(tracker_id)
        seen.append((hours, tracker.status, tracker.status_detail))

    assert seen == [
        (1, "pre_transit", "label_created"),
        (12, "in_transit", "arrived_at_facility"),
        (24, "in_transit", "departed_facility"),
        (44, "out_for_delivery", "out_for_delivery"),
        (48, "delivered", "arrived_at_destination"),
    ]
    assert tracker.est_delivery_date == "2027-01-17T08:00:00Z"
    assert [d.tracking_location.city for d in tracker.tracking_details] == [
        "San Francisco", "San Francisco", "San Francisco", "REDONDO BEACH", "REDONDO BEACH",
    ]  # fmt: skip
    assert client.shipment.retrieve(shipment.id).tracker.status == "delivered"
    updates = sim.events_sent("tracker.updated")
    assert [e["previous_attributes"]["status"] for e in updates] == [
        "unknown", "pre_transit", "in_transit", "in_transit", "out_for_delivery",
    ]  # fmt: skip


def test_one_big_step_reports_one_update_with_every_scan(
    client: easypost.EasyPostClient, sim: EasyPostSimulator
) -> None:
    tracker = client.tracker.create(tracking_code="9400122222222222222222")  # 3 days by default

    sim.advance(4 * 24 * HOUR)

    updates = sim.events_sent("tracker.updated")
    assert len(updates) == 1
    assert updates[0]["result"]["status"] == "delivered"
    assert len(updates[0]["result"]["tracking_details"]) == 5
    assert client.tracker.retrieve(tracker.id).finalized is True


@pytest.mark.parametrize(
    ("scenario", "final", "detail"),
    [("failure", "failure", "delivery_exception"), ("return_to_sender", "return_to_sender", "return")],
)
def test_scripted_exceptions_end_after_out_for_delivery(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, scenario: str, final: str, detail: str
) -> None:
    tracker = client.tracker.create(tracking_code="9400133333333333333333")
    sim.script_tracker(tracker.id, scenario)

    sim.advance(4 * 24 * HOUR, step_s=6 * HOUR)

    refreshed = client.tracker.retrieve(tracker.id)
    assert [d.status for d in refreshed.tracking_details] == [
        "pre_transit", "in_transit", "in_transit", "out_for_delivery", final,
    ]  # fmt: skip
    assert (refreshed.status, refreshed.status_detail) == (final, detail)


def test_stalled_tracker_stops_moving_past_its_estimate(
    client: easypost.EasyPostClient, sim: EasyPostSimulator
) -> None:
    sim.script_tracker("9400144444444444444444", "stalled")  # scripted before it exists, by code
    tracker = client.tracker.create(tracking_code="9400144444444444444444")

    sim.advance(10 * 24 * HOUR, step_s=12 * HOUR)

    refreshed = client.tracker.retrieve(tracker.id)
    assert (refreshed.status, refreshed.status_detail) == ("in_transit", "arrived_at_facility")
    assert refreshed.est_delivery_date == "2027-01-18T08:00:00Z"  # three days after creation, long gone
    assert len(refreshed.tracking_details) == 2


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

"""Simulated trackers and their Events against EasyPost's recorded ``tracker.updated`` body.

Every update a scripted tracker sends, whatever its outcome, has the recorded body's keys
and JSON types (see ``test_easypost_shapes``), ``previous_attributes`` names what the
recorded one names, and a FedEx tracker words its scans as the recorded FedEx scans
(message, status, status_detail, carrier code).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.easypost.samples import NEW_YORK, PARCEL, SF
from tests.conformance.test_easypost_shapes import Api, shape_problems

HOUR = 3600
SCENARIOS = ["normal", "failure", "return_to_sender", "available_for_pickup", "attempted_delivery", "delayed"]


def recorded_event(reference_dir: Path) -> Any:
    return json.loads((reference_dir / "easypost" / "event-body.json").read_text())


def fedex_labels(api: Api, count: int) -> list[Any]:
    """``count`` FedEx Ground labels, San Francisco to New York (a domestic route of several days)."""
    api.sim.events.create_webhook("test", {"url": "http://127.0.0.1:9/unreachable"})
    bought = []
    for n in range(count):
        body = {
            "shipment": {"to_address": NEW_YORK, "from_address": SF, "parcel": PARCEL, "reference": str(n)}
        }
        shipment = api.call("POST", "/shipments", body, 201)
        rate = next(r for r in shipment["rates"] if r["service"] == "FEDEX_GROUND")
        bought.append(api.call("POST", f"/shipments/{shipment['id']}/buy", {"rate": {"id": rate["id"]}}, 200))
    return bought


@pytest.fixture
def api() -> Api:
    return Api()


def test_every_update_of_every_outcome_has_the_recorded_event_shape(reference_dir: Path, api: Api) -> None:
    real = recorded_event(reference_dir)
    labels = fedex_labels(api, len(SCENARIOS))
    for label, scenario in zip(labels, SCENARIOS, strict=True):
        api.sim.script_tracker(label["tracker"]["id"], scenario)

    api.sim.advance(20 * 24 * HOUR, step_s=2 * HOUR)

    hook = next(iter(api.sim.events.webhooks.values()))
    updates = api.sim.events_sent("tracker.updated")
    assert {e["result"]["status"] for e in updates} >= {
        "pre_transit", "in_transit", "out_for_delivery", "delivered", "failure",
        "return_to_sender", "available_for_pickup",
    }  # fmt: skip
    for event in updates:
        body = json.loads(api.sim.events._body(event["id"], hook))
        assert shape_problems(real, body) == [], event["result"]["status"]
        assert set(body["previous_attributes"]) == set(real["previous_attributes"])
        assert all(
            d["tracking_location"]["object"] == "TrackingLocation" for d in body["result"]["tracking_details"]
        )
        retrieved = api.call("GET", f"/trackers/{event['result']['id']}", status=200)
        assert shape_problems(real["result"], retrieved) == []


def test_fedex_scans_are_worded_as_the_recorded_fedex_scans(reference_dir: Path, api: Api) -> None:
    real = recorded_event(reference_dir)["result"]
    labels = fedex_labels(api, 3)

    api.sim.advance(10 * 24 * HOUR, step_s=HOUR)

    words = {
        (d["message"], d["status"], d["status_detail"], d["carrier_code"], d["source"])
        for label in labels
        for d in api.call("GET", f"/trackers/{label['tracker']['id']}", status=200)["tracking_details"]
    }
    recorded = {
        (d["message"], d["status"], d["status_detail"], d["carrier_code"], d["source"])
        for d in real["tracking_details"]
    }
    assert recorded <= words
    tracker = api.call("GET", f"/trackers/{labels[0]['tracker']['id']}", status=200)
    assert tracker["carrier_detail"]["service"] == real["carrier_detail"]["service"] == "FEDEX_GROUND"
    assert tracker["est_delivery_date"].endswith("T00:00:00Z") and real["est_delivery_date"].endswith(
        "T00:00:00Z"
    )
    assert tracker["carrier_detail"]["est_delivery_date_local"] == tracker["est_delivery_date"][:10]
    # FedEx names the ends "CITY ST US", as recorded ("ORLANDO FL US").
    assert real["carrier_detail"]["origin_location"] == "ORLANDO FL US"
    assert tracker["carrier_detail"]["origin_location"] == "SAN FRANCISCO CA US"
    assert tracker["carrier_detail"]["destination_location"] == "NEW YORK NY US"

"""The EasyPost mappers and error table against EasyPost's documented bodies and recorded traffic.

Documented responses (``easypost/responses``) go through the pure mappers; recorded
answers (``easypost/cassettes``) are replayed with ``responses`` through the real client,
so the classification is checked on the bodies EasyPost actually sends.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
import yaml

from connectors.easypost import mappers
from connectors.easypost.client import EasyPost
from connectors.errors import NotFound, Rejected
from core.addresses import Address
from core.money import Money
from core.shipping import Parcel

KEY = "EZTK-conformance"
BASE = "https://api.easypost.com/v2"


def _response(reference_dir: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((reference_dir / "easypost" / "responses" / name).read_text())
    return data


def _recorded(reference_dir: Path, cassette: str, status: int) -> tuple[str, dict[str, Any]]:
    """The request URI and the JSON body of the cassette's first answer with ``status``."""
    data = yaml.safe_load((reference_dir / "easypost" / "cassettes" / cassette).read_text())
    for interaction in data["interactions"]:
        if interaction["response"]["status"]["code"] == status:
            return interaction["request"]["uri"], json.loads(interaction["response"]["body"]["string"])
    raise AssertionError(f"{cassette} has no {status} answer")


def test_documented_rates_map_to_exact_money(reference_dir: Path) -> None:
    shipment = _response(reference_dir, "shipments-create.json")
    state = mappers.to_state(shipment)
    assert state.id == shipment["id"] and state.label is None
    assert [(r.rate_id, r.carrier, r.service, r.price, r.delivery_days) for r in state.rates] == [
        (
            raw["id"],
            raw["carrier"],
            raw["service"],
            Money(Decimal(raw["rate"]), raw["currency"]),
            raw["delivery_days"],
        )
        for raw in shipment["rates"]
    ]
    assert all(isinstance(r.price.amount, Decimal) for r in state.rates)


def test_documented_bought_shipment_maps_to_its_label(reference_dir: Path) -> None:
    shipment = _response(reference_dir, "shipments-buy.json")
    label = mappers.to_label(shipment)
    assert label is not None
    rate = shipment["selected_rate"]
    assert (label.shipment_id, label.tracking_code, label.carrier, label.service) == (
        shipment["id"],
        shipment["tracking_code"],
        rate["carrier"],
        rate["service"],
    )
    assert label.label_url == shipment["postage_label"]["label_url"]
    assert label.price == Money(Decimal(rate["rate"]), rate["currency"])
    assert (label.tracker_id, label.tracking_url) == (
        shipment["tracker"]["id"],
        shipment["tracker"]["public_url"],
    )


def test_documented_retrieved_and_listed_shipments_map(reference_dir: Path) -> None:
    retrieved = mappers.to_state(_response(reference_dir, "shipments-retrieve.json"))
    assert retrieved.id.startswith("shp_") and retrieved.rates
    listed = _response(reference_dir, "shipments-list.json")
    states = [mappers.to_state(s) for s in listed["shipments"]]
    assert [s.id for s in states] == [s["id"] for s in listed["shipments"]]
    assert [s.reference for s in states] == [s.get("reference") for s in listed["shipments"]]


def test_documented_tracker_gives_id_and_public_url(reference_dir: Path) -> None:
    tracker = _response(reference_dir, "trackers-create.json")
    assert mappers.tracker_ref(tracker) == (tracker["id"], tracker["public_url"])


def test_documented_verified_address_is_deliverable(reference_dir: Path) -> None:
    verified = _response(reference_dir, "addresses-create-and-verify.json")
    assert mappers.verified_check(verified.get("address", verified)).deliverable is True


@responses.activate
def test_recorded_verify_failure_becomes_an_undeliverable_check(reference_dir: Path) -> None:
    _, body = _recorded(reference_dir, "test_address_verify_invalid_address.yaml", 422)
    responses.post(f"{BASE}/addresses/create_and_verify", json=body, status=422)
    check = EasyPost(KEY).verify_address(Address(line1="invalid", postal_code="94107", country_code="US"))
    assert check.deliverable is False
    assert check.messages == tuple(e["message"] for e in body["error"]["errors"])
    assert check.suggestion is None


@responses.activate
def test_recorded_shipment_refusal_is_rejected_with_easyposts_code(reference_dir: Path) -> None:
    _, body = _recorded(reference_dir, "test_error.yaml", 422)
    responses.post(f"{BASE}/shipments", json=body, status=422)
    box = Parcel("small", Decimal("20"), Decimal("15"), Decimal("10"), 500)
    with pytest.raises(Rejected) as caught:
        EasyPost(KEY).create_shipment(Address(country_code="US"), {}, box, None, "label:1:1")
    assert body["error"]["code"] in str(caught.value)


@responses.activate
def test_recorded_not_found_is_not_found(reference_dir: Path) -> None:
    _, body = _recorded(reference_dir, "test_event_retrieve_payload.yaml", 404)
    responses.get(f"{BASE}/shipments/shp_gone", json=body, status=404)
    with pytest.raises(NotFound):
        EasyPost(KEY).retrieve_shipment("shp_gone")

"""The EasyPost simulator's bodies against EasyPost's recorded traffic and documented responses.

For every key a real body has, the simulator's body has it too, with the same JSON type
(numbers count as one type; a real ``null`` accepts any type). Lists are compared on
their first element when both are non-empty. Deliberate exceptions are listed in
``INPUT_ECHO`` and ``ALLOWED_NULL``: places where the simulator answers ``null`` while the recording shows
a value, because the simulator has nothing honest to put there.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.test import Client

from sandbox.easypost import EasyPostSimulator
from sandbox.easypost.samples import CUSTOMS_INFO, PARCEL, REDONDO, SF
from sandbox.harness import FakeClock

KEY = "EZTK-sandbox-conformance-key"
# The request EasyPost's recordings were made with (client-library fixture "full").
FULL_SHIPMENT = {
    "to_address": REDONDO,
    "from_address": SF,
    "parcel": PARCEL,
    "customs_info": CUSTOMS_INFO,
    "options": {"label_format": "PNG", "invoice_number": "123"},
    "reference": "123",
}
ALLOWED_NULL = {
    # Batches and scan forms are not simulated; EasyPost's documented list shows a batched shipment.
    "$.shipments[0].batch_id",
    "$.shipments[0].batch_status",
    "$.shipments[0].scan_form",
}


# Fields that echo optional request input: null when the request left them out, as in
# EasyPost's own recordings (``"company": null`` for an address sent without one).
INPUT_ECHO = {"name", "company", "street2", "phone", "email", "code", "insurance", "reference"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "null")


def shape_problems(real: Any, ours: Any, path: str = "$") -> list[str]:
    """Where ``ours`` lacks a key of ``real`` or has another JSON type."""
    if real is None:
        return []
    if ours is None:
        return (
            []
            if path in ALLOWED_NULL or path.rsplit(".", 1)[-1] in INPUT_ECHO
            else [f"{path}: null, real is {_kind(real)}"]
        )
    if _kind(real) != _kind(ours):
        return [f"{path}: {_kind(ours)}, real is {_kind(real)}"]
    if isinstance(real, dict):
        problems = []
        for key, value in real.items():
            if key not in ours:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += shape_problems(value, ours[key], f"{path}.{key}")
        return problems
    if isinstance(real, list) and real and ours:
        return shape_problems(real[0], ours[0], f"{path}[0]")
    return []


def recorded(reference_dir: Path, cassette: str, index: int) -> Any:
    data = yaml.safe_load((reference_dir / "easypost" / "cassettes" / f"{cassette}.yaml").read_text())
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


def documented(reference_dir: Path, name: str) -> Any:
    return json.loads((reference_dir / "easypost" / "responses" / f"{name}.json").read_text())


class Api:
    """The simulator called in-process, as the client calls it."""

    def __init__(self) -> None:
        self.sim = EasyPostSimulator(api_keys=[KEY], webhook_secret="sécret", clock=FakeClock())
        self.http = Client(self.sim)
        self.auth = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}

    def call(self, method: str, path: str, body: Any = None, status: int | None = None) -> Any:
        response = self.http.open("/v2" + path, method=method, json=body, headers=self.auth)
        if status is not None:
            assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()

    def bought_shipment(self) -> Any:
        shipment = self.call("POST", "/shipments", {"shipment": FULL_SHIPMENT}, 201)
        rate = next(r for r in shipment["rates"] if r["service"] == "GroundAdvantage")
        return self.call("POST", f"/shipments/{shipment['id']}/buy", {"rate": {"id": rate["id"]}}, 200)


@pytest.fixture
def api() -> Api:
    return Api()


def test_address_bodies(reference_dir: Path, api: Api) -> None:
    created = api.call("POST", "/addresses", {"address": SF}, 201)
    verified = api.call("POST", "/addresses/create_and_verify", {"address": SF}, 200)
    failing = api.call("POST", "/addresses", {"address": {**SF, "zip": "00001"}, "verify": True}, 201)

    assert shape_problems(recorded(reference_dir, "test_address_create", 0), created) == []
    assert shape_problems(recorded(reference_dir, "test_address_create_and_verify", 0), verified) == []
    with_company = api.call(
        "POST", "/addresses/create_and_verify", {"address": {**SF, "company": "EasyPost"}}, 200
    )
    assert shape_problems(documented(reference_dir, "addresses-verify"), with_company) == []
    assert shape_problems(documented(reference_dir, "addresses-verify-param"), failing) == []
    assert shape_problems(documented(reference_dir, "addresses-list"), api.call("GET", "/addresses")) == []


def test_address_verify_failure_body(reference_dir: Path, api: Api) -> None:
    address = api.call("POST", "/addresses", {"address": {"street1": "invalid"}}, 201)
    failure = api.call("GET", f"/addresses/{address['id']}/verify", status=422)
    strict = api.call("POST", "/addresses/create_and_verify", {"address": {**SF, "zip": "00001"}}, 422)

    assert failure == recorded(reference_dir, "test_address_verify_invalid_address", 1)
    assert shape_problems(documented(reference_dir, "addresses-create-and-verify"), strict) == []


def test_shipment_create_and_rate_bodies(reference_dir: Path, api: Api) -> None:
    shipment = api.call("POST", "/shipments", {"shipment": FULL_SHIPMENT}, 201)
    rate = api.call("GET", f"/rates/{shipment['rates'][0]['id']}", status=200)

    assert shape_problems(recorded(reference_dir, "test_shipment_create", 0), shipment) == []
    assert shape_problems(documented(reference_dir, "shipments-create"), shipment) == []
    assert shape_problems(documented(reference_dir, "rates-retrieve"), rate) == []
    assert shape_problems(recorded(reference_dir, "test_shipment_regenerate_rates", 1),
                          api.call("POST", f"/shipments/{shipment['id']}/rerate", {}, 200)) == []  # fmt: skip


def test_shipment_buy_insure_refund_bodies(reference_dir: Path, api: Api) -> None:
    bought = api.bought_shipment()
    assert shape_problems(recorded(reference_dir, "test_shipment_buy", 1), bought) == []
    assert shape_problems(documented(reference_dir, "shipments-buy"), bought) == []

    insured = api.call("POST", f"/shipments/{bought['id']}/insure", {"amount": "100"}, 200)
    assert shape_problems(recorded(reference_dir, "test_shipment_insure", 1), insured) == []

    api.sim.advance(3600)  # the tracker reaches pre_transit, as in the recorded refund
    refunded = api.call("POST", f"/shipments/{bought['id']}/refund", {}, 200)
    assert shape_problems(recorded(reference_dir, "test_shipment_refund", 1), refunded) == []
    assert shape_problems(documented(reference_dir, "shipments-list"), api.call("GET", "/shipments")) == []


def test_refund_bodies(reference_dir: Path, api: Api) -> None:
    bought = api.bought_shipment()
    created = api.call(
        "POST", "/refunds", {"refund": {"carrier": "USPS", "tracking_codes": [bought["tracking_code"]]}}
    )

    assert shape_problems(recorded(reference_dir, "test_refund_create", 2), created) == []
    assert shape_problems(documented(reference_dir, "refunds-retrieve"),
                          api.call("GET", f"/refunds/{created[0]['id']}", status=200)) == []  # fmt: skip
    assert shape_problems(documented(reference_dir, "refunds-list"), api.call("GET", "/refunds")) == []


def test_tracker_bodies(reference_dir: Path, api: Api) -> None:
    tracker = api.call(
        "POST", "/trackers", {"tracker": {"tracking_code": "EZ1000000001", "carrier": "USPS"}}, 200
    )

    assert shape_problems(recorded(reference_dir, "test_tracker_create", 0), tracker) == []
    assert shape_problems(documented(reference_dir, "trackers-retrieve"), tracker) == []
    assert shape_problems(documented(reference_dir, "trackers-list"), api.call("GET", "/trackers")) == []


def test_event_bodies(reference_dir: Path, api: Api) -> None:
    bought = api.bought_shipment()
    api.sim.events.create_webhook("test", {"url": "http://127.0.0.1:9/unreachable"})
    api.sim.advance(12 * 3600)
    [updated] = api.sim.events_sent("tracker.updated")
    body = json.loads(api.sim.events._body(updated["id"], next(iter(api.sim.events.webhooks.values()))))

    real = json.loads((reference_dir / "easypost" / "event-body.json").read_text())
    assert body["result"]["shipment_id"] == bought["id"]
    assert shape_problems(real, body) == []
    assert shape_problems(documented(reference_dir, "events-retrieve"),
                          api.call("GET", f"/events/{updated['id']}", status=200)) == []  # fmt: skip
    assert shape_problems(documented(reference_dir, "events-list"), api.call("GET", "/events")) == []


def test_webhook_bodies(reference_dir: Path, api: Api) -> None:
    body = {"webhook": {"url": "http://example.com", "custom_headers": [{"name": "test", "value": "header"}]}}
    hook = api.call("POST", "/webhooks", body, 201)

    assert shape_problems(recorded(reference_dir, "test_webhook_create", 0), hook) == []
    assert shape_problems(documented(reference_dir, "webhooks-list"), api.call("GET", "/webhooks")) == []
    assert api.call("DELETE", f"/webhooks/{hook['id']}", status=200) == recorded(
        reference_dir, "test_webhook_create", 1
    )


def test_error_bodies(reference_dir: Path, api: Api) -> None:
    missing = api.call("POST", "/shipments", {"shipment": {}}, 422)
    not_found = api.call("GET", "/shipments/shp_missing", status=404)
    api.sim.fail_next(429)
    limited = api.call("GET", "/shipments", status=429)
    bought = api.bought_shipment()
    twice = api.call(
        "POST", f"/shipments/{bought['id']}/buy", {"rate": {"id": bought["selected_rate"]["id"]}}, 422
    )

    assert missing == recorded(reference_dir, "test_error", 0)
    real_not_found = recorded(reference_dir, "test_error_alternative_format", 0)
    assert (not_found["error"]["code"], not_found["error"]["message"]) == (
        real_not_found["error"]["code"], real_not_found["error"]["message"],
    )  # fmt: skip
    for body in (not_found, limited, twice):
        assert shape_problems(missing, body) == []

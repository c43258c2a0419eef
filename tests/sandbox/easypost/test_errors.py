"""Errors as the official client sees them: one class per status, EasyPost's bodies; lost responses."""

from __future__ import annotations

import base64
from typing import Any

import easypost
import pytest
import requests

from sandbox.easypost import EasyPostSimulator
from sandbox.harness import Faults, RunningServer


def test_missing_key_is_401_apikey_required(server: RunningServer) -> None:
    response = requests.get(server.url + "/v2/shipments", timeout=5)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "APIKEY.REQUIRED"
    assert response.json()["error"]["errors"] == []


def test_unknown_key_raises_unauthorized_with_apikey_inactive(server: RunningServer) -> None:
    stranger = easypost.EasyPostClient("EZTKnotthekey", api_base=server.url + "/v2")

    with pytest.raises(easypost.errors.UnauthorizedError) as caught:
        stranger.shipment.all()

    assert (caught.value.http_status, caught.value.code) == (401, "APIKEY.INACTIVE")


def test_basic_auth_with_the_key_as_username_is_accepted(server: RunningServer, test_key: str) -> None:
    token = base64.b64encode(f"{test_key}:".encode()).decode()
    response = requests.get(
        server.url + "/v2/shipments", headers={"Authorization": f"Basic {token}"}, timeout=5
    )

    assert (response.status_code, response.json()) == (200, {"shipments": [], "has_more": False})


def test_production_key_creates_production_objects(prod_client: easypost.EasyPostClient) -> None:
    assert prod_client.address.create(street1="1 Main St").mode == "production"


def test_unknown_object_raises_not_found(client: easypost.EasyPostClient) -> None:
    with pytest.raises(easypost.errors.NotFoundError) as caught:
        client.shipment.retrieve("shp_00000000000000000000000000000000")

    assert (caught.value.code, caught.value.message) == (
        "NOT_FOUND",
        "The requested resource could not be found.",
    )


def test_unknown_route_is_an_easypost_404(server: RunningServer, test_key: str) -> None:
    response = requests.get(
        server.url + "/v2/nothing", headers={"Authorization": f"Bearer {test_key}"}, timeout=5
    )

    assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_empty_shipment_is_422_parameter_required(client: easypost.EasyPostClient) -> None:
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.shipment.create()

    assert caught.value.json_body == {
        "error": {
            "code": "PARAMETER.REQUIRED",
            "message": "Missing required parameter.",
            "errors": [{"field": "shipment", "message": "cannot be blank"}],
        }
    }


@pytest.mark.parametrize(
    ("status", "error_class", "code"),
    [
        (429, easypost.errors.RateLimitError, "RATE_LIMITED"),
        (500, easypost.errors.InternalServerError, "INTERNAL_SERVER_ERROR"),
        (503, easypost.errors.ServiceUnavailableError, "SERVICE_UNAVAILABLE"),
    ],
)
def test_scripted_errors_map_to_the_client_classes(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, status: int, error_class: type, code: str
) -> None:
    sim.fail_next(status, op="shipment.list")

    with pytest.raises(error_class) as caught:
        client.shipment.all()

    assert (caught.value.http_status, caught.value.code) == (status, code)
    assert client.shipment.all()["shipments"] == []  # only the next call failed


def test_scripted_error_for_one_operation_leaves_others_alone(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, shipment: Any
) -> None:
    sim.fail_next(500, times=2, op="shipment.buy")

    assert client.shipment.retrieve(shipment.id).id == shipment.id
    for _ in range(2):
        with pytest.raises(easypost.errors.InternalServerError):
            client.shipment.buy(shipment.id, rate=shipment.lowest_rate())
    assert client.shipment.buy(shipment.id, rate=shipment.lowest_rate()).postage_label is not None
    assert sim.label_purchases == 1


def test_injected_throttling_is_429_rate_limited_with_retry_after(
    server: RunningServer, sim: EasyPostSimulator
) -> None:
    sim.faults = Faults(throttle_rate=1.0, retry_after_s=3)

    response = requests.get(server.url + "/v2/shipments", timeout=5)

    assert (response.status_code, response.headers["Retry-After"]) == (429, "3")
    assert response.json()["error"]["code"] == "RATE_LIMITED"


def test_injected_errors_are_503_service_unavailable(
    client: easypost.EasyPostClient, sim: EasyPostSimulator
) -> None:
    sim.faults = Faults(error_rate=1.0)

    with pytest.raises(easypost.errors.ServiceUnavailableError) as caught:
        client.tracker.all()

    assert caught.value.code == "SERVICE_UNAVAILABLE"


def test_lost_buy_response_still_buys_the_label(
    client: easypost.EasyPostClient,
    sim: EasyPostSimulator,
    shipment: Any,
    server: RunningServer,
    test_key: str,
) -> None:
    sim.faults = Faults(lost_response_rate=1.0, lost_response_ops=("shipment.buy",), hang_s=0.3)
    impatient = easypost.EasyPostClient(test_key, api_base=server.url + "/v2", timeout=0.1)

    with pytest.raises(easypost.errors.TimeoutError):
        impatient.shipment.buy(shipment.id, rate=shipment.lowest_rate())

    sim.faults = Faults()
    retrieved = client.shipment.retrieve(shipment.id)
    assert retrieved.postage_label.label_url.endswith(".png")
    assert retrieved.tracking_code == sim.labels_for(shipment.id)[0]["tracking_code"]
    assert sim.label_purchases == 1
    with pytest.raises(easypost.errors.InvalidRequestError) as caught:
        client.shipment.buy(shipment.id, rate=shipment.lowest_rate())
    assert caught.value.code == "SHIPMENT.POSTAGE.EXISTS"


def test_lost_response_applies_only_to_the_named_operation(
    client: easypost.EasyPostClient, sim: EasyPostSimulator, shipment: Any
) -> None:
    sim.faults = Faults(lost_response_rate=1.0, lost_response_ops=("shipment.buy",), hang_s=0.0)

    assert client.tracker.create(tracking_code="EZ1000000001").status == "pre_transit"
    with pytest.raises(easypost.errors.EasyPostError):
        client.shipment.buy(shipment.id, rate=shipment.lowest_rate())
    assert sim.label_purchases == 1

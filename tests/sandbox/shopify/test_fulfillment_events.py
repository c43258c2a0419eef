"""Fulfilment progress events: the status enum enforced, everything the input carried kept, read back."""

from __future__ import annotations

from typing import Any

from sandbox.shopify import ShopifySimulator
from sandbox.shopify.store import Order
from tests.sandbox.shopify.support import SHOP, GraphQL, document
from tests.sandbox.shopify.test_faults_and_flows import _fulfil


def _post(gql: GraphQL, event: dict[str, Any]) -> dict[str, Any]:
    _, body = gql(document("fulfillment_event_create"), {"fulfillmentEvent": event})
    return body


def _fulfilment_id(gql: GraphQL, order: Order) -> str:
    fulfilment: dict[str, Any] = _fulfil(gql, order)["fulfillment"]  # type: ignore[assignment]
    return str(fulfilment["id"])


def test_events_keep_their_times_and_place_and_read_back_by_carrier_time(
    sim: ShopifySimulator, gql: GraphQL, order: Order
) -> None:
    fid = _fulfilment_id(gql, order)
    delivered = {
        "fulfillmentId": fid,
        "status": "DELIVERED",
        "happenedAt": "2027-01-17T15:30:00+00:00",
        "estimatedDeliveryAt": "2027-01-18T00:00:00Z",
        "city": "REDONDO BEACH",
        "province": "CA",
        "country": "US",
        "zip": "90277",
        "message": "Delivered, In/At Mailbox",
    }
    in_transit = {"fulfillmentId": fid, "status": "IN_TRANSIT", "happenedAt": "2027-01-16T02:00:00Z"}

    posted = [_post(gql, delivered), _post(gql, in_transit)]  # arrival order is not carrier order

    assert [p["data"]["fulfillmentEventCreate"]["userErrors"] for p in posted] == [[], []]
    created = posted[0]["data"]["fulfillmentEventCreate"]["fulfillmentEvent"]
    assert (created["status"], created["happenedAt"]) == ("DELIVERED", "2027-01-17T15:30:00Z")
    _, read = gql(document("fulfillment_events"), {"id": fid})
    nodes = read["data"]["fulfillment"]["events"]["nodes"]  # reverse: true, newest carrier time first
    assert [(n["status"], n["happenedAt"]) for n in nodes] == [
        ("DELIVERED", "2027-01-17T15:30:00Z"),
        ("IN_TRANSIT", "2027-01-16T02:00:00Z"),
    ]
    assert nodes[0]["id"] == created["id"]
    kept = sim.fulfillment_events(SHOP, fid)[0]
    assert {k: kept[k] for k in ("city", "province", "country", "zip", "message", "estimatedDeliveryAt")} == {
        "city": "REDONDO BEACH",
        "province": "CA",
        "country": "US",
        "zip": "90277",
        "message": "Delivered, In/At Mailbox",
        "estimatedDeliveryAt": "2027-01-18T00:00:00Z",
    }
    assert sim.fulfillment_event_calls(SHOP) == {int(fid.rsplit("/", 1)[1]): 2}
    assert sim.calls["fulfillmentEventCreate"] == 2 and sim.calls["fulfillment"] == 1


def test_a_status_outside_the_enum_is_refused_and_records_nothing(
    sim: ShopifySimulator, gql: GraphQL, order: Order
) -> None:
    fid = _fulfilment_id(gql, order)

    body = _post(gql, {"fulfillmentId": fid, "status": "PICKED_UP"})

    assert body["data"] is None
    assert "FulfillmentEventStatus" in body["errors"][0]["message"]
    assert sim.fulfillment_events(SHOP, fid) == []


def test_an_unknown_fulfilment_or_a_bad_time_is_a_user_error(
    sim: ShopifySimulator, gql: GraphQL, order: Order
) -> None:
    fid = _fulfilment_id(gql, order)

    missing = _post(gql, {"fulfillmentId": "gid://shopify/Fulfillment/999999", "status": "DELIVERED"})
    bad_time = _post(gql, {"fulfillmentId": fid, "status": "DELIVERED", "happenedAt": "yesterday"})

    assert (
        missing["data"]["fulfillmentEventCreate"]["userErrors"][0]["message"] == "Fulfillment does not exist."
    )
    assert bad_time["data"]["fulfillmentEventCreate"]["userErrors"][0]["field"] == [
        "fulfillmentEvent",
        "happenedAt",
    ]
    assert sim.fulfillment_events(SHOP, fid) == []
    _, read = gql(document("fulfillment_events"), {"id": "gid://shopify/Fulfillment/999999"})
    assert read["data"]["fulfillment"] is None

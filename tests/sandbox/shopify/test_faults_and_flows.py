"""Injected faults (lost mutation responses, THROTTLED) and the fulfilment and returns flows."""

from __future__ import annotations

from pathlib import Path

from graphql import parse, validate

from sandbox.harness import Faults
from sandbox.shopify import ShopifySimulator
from sandbox.shopify.documents import trimmed_schema
from sandbox.shopify.store import Order, ShopData
from tests.sandbox.shopify.support import DOCUMENTS, SHOP, TEST_DOCUMENTS, GraphQL, document


def test_every_connector_document_validates_against_the_trimmed_schema() -> None:
    paths = sorted(Path(DOCUMENTS).glob("*.graphql"))
    assert len(paths) == 26
    tests_own = sorted(Path(TEST_DOCUMENTS).glob("*.graphql"))
    assert len(tests_own) == 3
    for path in paths + tests_own:
        assert validate(trimmed_schema(), parse(document(path.stem))) == [], path.name


def _fulfil(gql: GraphQL, order: Order) -> dict[str, object]:
    _, fos = gql(document("order_fulfillment_orders"), {"id": f"gid://shopify/Order/{order.id}"})
    fo_id = fos["data"]["order"]["fulfillmentOrders"]["nodes"][0]["id"]
    _, body = gql(
        document("fulfillment_create"),
        {
            "fulfillment": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id}],
                "trackingInfo": {"company": "UPS", "number": "1Z999", "url": "https://ups.example/1Z999"},
            }
        },
    )
    payload: dict[str, object] = body["data"]["fulfillmentCreate"]
    return payload


def test_lost_response_still_acts(sim: ShopifySimulator, gql: GraphQL, order: Order, shop: ShopData) -> None:
    sim.faults = Faults(lost_response_rate=1.0, hang_s=0, lost_response_ops=("fulfillmentCreate",))
    _, fos = gql(document("order_fulfillment_orders"), {"id": f"gid://shopify/Order/{order.id}"})
    fo_id = fos["data"]["order"]["fulfillmentOrders"]["nodes"][0]["id"]
    from werkzeug.test import Client

    from tests.sandbox.shopify.support import ENDPOINT, TOKEN

    resp = Client(sim).post(
        ENDPOINT,
        json={
            "query": document("fulfillment_create"),
            "variables": {"fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id}]}},
        },
        headers={"X-Shopify-Access-Token": TOKEN},
    )
    assert resp.status_code == 504
    assert len(shop.fulfillments) == 1
    assert sim.calls["fulfillmentCreate"] == 1


def test_injected_throttle_is_a_graphql_error(sim: ShopifySimulator, gql: GraphQL) -> None:
    sim.faults = Faults(throttle_rate=1.0)
    status, body = gql("{ shop { name } }")
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"


def test_fulfilment_with_tracking_and_events(gql: GraphQL, order: Order, shop: ShopData) -> None:
    created = _fulfil(gql, order)
    assert created["userErrors"] == []
    fulfillment = created["fulfillment"]
    assert fulfillment["trackingInfo"] == [  # type: ignore[index]
        {"company": "UPS", "number": "1Z999", "url": "https://ups.example/1Z999"}
    ]
    fid = fulfillment["id"]  # type: ignore[index]
    _, updated = gql(
        document("fulfillment_tracking_info_update"),
        {"fulfillmentId": fid, "trackingInfoInput": {"company": "USPS", "number": "9400"}},
    )
    assert updated["data"]["fulfillmentTrackingInfoUpdate"]["fulfillment"]["trackingInfo"] == [
        {"company": "USPS", "number": "9400", "url": None}
    ]
    _, event = gql(
        document("fulfillment_event_create"),
        {"fulfillmentEvent": {"fulfillmentId": fid, "status": "DELIVERED"}},
    )
    assert event["data"]["fulfillmentEventCreate"]["fulfillmentEvent"]["status"] == "DELIVERED"
    _, again = gql(document("order"), {"id": f"gid://shopify/Order/{order.id}"})
    assert again["data"]["order"]["displayFulfillmentStatus"] == "FULFILLED"
    second = _fulfil(gql, order)
    assert second["fulfillment"] is None
    assert [e["field"] for e in second["userErrors"]] == [  # type: ignore[union-attr]
        ["fulfillment", "lineItemsByFulfillmentOrder", "0", "fulfillmentOrderId"]
    ]


def test_requested_return_is_approved_processed_and_refunded(
    sim: ShopifySimulator, gql: GraphQL, order: Order, shop: ShopData
) -> None:
    created = _fulfil(gql, order)
    line_id = int(created["fulfillment"]["fulfillmentLineItems"]["nodes"][0]["id"].rsplit("/", 1)[1])  # type: ignore[index]
    requested = sim.request_return(SHOP, order.id, [(line_id, 1)])
    rid = f"gid://shopify/Return/{requested.id}"
    _, approved = gql(document("return_approve_request"), {"input": {"id": rid}})
    assert approved["data"]["returnApproveRequest"]["return"]["status"] == "OPEN"
    _, declined = gql(document("return_decline_request"), {"input": {"id": rid, "declineReason": "OTHER"}})
    assert declined["data"]["returnDeclineRequest"]["userErrors"][0]["code"] == "INVALID_STATE"
    rli = f"gid://shopify/ReturnLineItem/{requested.lines[0].id}"
    price = order.line_items[0].price
    amount = {"amount": str(price), "currencyCode": order.currency}
    sale = {"parentId": f"gid://shopify/OrderTransaction/{order.id}", "transactionAmount": amount}
    _, processed = gql(
        document("return_process"),
        {
            "input": {
                "returnId": rid,
                "returnLineItems": [{"id": rli, "quantity": 1}],
                "financialTransfer": {"issueRefund": {"orderTransactions": [sale]}},
                "note": "Cracked",
            }
        },
    )
    assert processed["data"]["returnProcess"]["return"]["status"] == "CLOSED"
    [refund] = shop.refunds.values()
    assert (refund.amount, refund.return_id, refund.note) == (price, requested.id, "Cracked")
    assert [line.restock_type for line in refund.lines] == ["NO_RESTOCK"]
    assert requested.closed_at is not None


def test_risk_assessment_is_recorded(gql: GraphQL, order: Order, shop: ShopData) -> None:
    _, body = gql(
        document("order_risk_assessment_create"),
        {
            "input": {
                "orderId": f"gid://shopify/Order/{order.id}",
                "riskLevel": "HIGH",
                "facts": [{"description": "Billing and shipping countries differ", "sentiment": "NEGATIVE"}],
            }
        },
    )
    assert body["data"]["orderRiskAssessmentCreate"]["userErrors"] == []
    [assessment] = shop.risk_assessments
    assert (assessment.order_id, assessment.risk_level) == (order.id, "HIGH")

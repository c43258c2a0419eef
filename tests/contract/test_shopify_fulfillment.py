"""Shopify write-back: fulfilments, risk assessments and cancellation.

The Shopify simulator serves neither ``Order.fulfillments`` nor ``orderCancel`` yet, so
``fulfill`` and ``cancel`` run against a small stateful stand-in behind ``responses`` that
answers in the Admin API's shapes (2026-10); ``record_risk`` runs against the simulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from connectors.errors import Rejected
from connectors.netguard import AddressPolicy
from connectors.shopify.client import ShopifyClient
from connectors.shopify.fulfillment import allocate, cancel, fulfill, record_risk
from core.errors import Retryable
from sandbox.harness import FakeClock, serve
from sandbox.shopify import ShopifySimulator
from tests.contract.conftest import FakeTime
from tests.contract.shopify_answers import URL, client, ok

ORDER = "gid://shopify/Order/5000000000000000001"  # above 2**53: must stay exact
_OPERATION = re.compile(r"\b(?:query|mutation)\s+(\w+)")


def _fo_line(fo_line: int, line: int, remaining: int, total: int | None = None) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/FulfillmentOrderLineItem/{fo_line}",
        "totalQuantity": total if total is not None else remaining,
        "remainingQuantity": remaining,
        "lineItem": {"id": f"gid://shopify/LineItem/{line}", "sku": f"SKU-{line}"},
    }


def _fo(fo_id: int, lines: list[dict[str, Any]], status: str = "OPEN", location: int = 1) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/FulfillmentOrder/{fo_id}",
        "status": status,
        "requestStatus": "UNSUBMITTED",
        "assignedLocation": {"name": "Main", "location": {"id": f"gid://shopify/Location/{location}"}},
        "lineItems": {"nodes": lines},
    }


class FakeShopify:
    """Answers the write-back documents for one order and keeps its fulfilments."""

    def __init__(self, fulfillment_orders: list[dict[str, Any]]) -> None:
        self.fulfillment_orders = fulfillment_orders
        self.fulfillments: list[dict[str, Any]] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.user_errors: list[dict[str, Any]] = []
        self.lose_next_create = False
        self.cancelled = False

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        match = _OPERATION.search(body["query"])
        assert match is not None, body["query"]
        operation, variables = match.group(1), body["variables"]
        self.sent.append((operation, variables))
        data = getattr(self, f"_{operation}")(variables)
        if operation == "FulfillmentCreate" and self.lose_next_create:
            self.lose_next_create = False
            raise requests.ReadTimeout("answer lost")
        return 200, {}, json.dumps(ok(data))

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.sent if name == operation)

    def _OrderFulfillments(self, variables: dict[str, Any]) -> dict[str, Any]:
        assert variables == {"id": ORDER}
        return {"order": {"id": ORDER, "fulfillments": self.fulfillments}}

    def _OrderFulfillmentOrders(self, variables: dict[str, Any]) -> dict[str, Any]:
        return {"order": {"id": ORDER, "fulfillmentOrders": {"nodes": self.fulfillment_orders}}}

    def _FulfillmentCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        if self.user_errors:
            return {"fulfillmentCreate": {"fulfillment": None, "userErrors": self.user_errors}}
        info = variables["fulfillment"]["trackingInfo"]
        created = {
            "id": f"gid://shopify/Fulfillment/{900 + len(self.fulfillments)}",
            "status": "SUCCESS",
            "trackingInfo": [{"company": info["company"], "number": info["number"], "url": info.get("url")}],
        }
        self.fulfillments.append(created)
        return {"fulfillmentCreate": {"fulfillment": created, "userErrors": []}}

    def _OrderCancel(self, variables: dict[str, Any]) -> dict[str, Any]:
        if self.cancelled:
            error = {"code": "INVALID", "field": ["orderId"], "message": "Order has already been cancelled"}
            return {"orderCancel": {"job": None, "orderCancelUserErrors": [error]}}
        if self.user_errors:
            return {"orderCancel": {"job": None, "orderCancelUserErrors": self.user_errors}}
        self.cancelled = True
        return {
            "orderCancel": {"job": {"id": "gid://shopify/Job/1", "done": False}, "orderCancelUserErrors": []}
        }


@pytest.fixture
def shop(mocked: responses.RequestsMock) -> FakeShopify:
    fake = FakeShopify([_fo(11, [_fo_line(111, 1, 2), _fo_line(112, 2, 1)])])
    mocked.add_callback(responses.POST, URL, callback=fake)
    return fake


@pytest.fixture
def shopify(fake_time: FakeTime) -> ShopifyClient:
    return client(fake_time)


def _created(shop: FakeShopify) -> list[dict[str, Any]]:
    return [v["fulfillment"] for name, v in shop.sent if name == "FulfillmentCreate"]


# -- fulfil


def test_fulfil_everything_open_with_tracking(shop: FakeShopify, shopify: ShopifyClient) -> None:
    got = fulfill(shopify, "5000000000000000001", None, "UPS", "1Z999", "https://t.example/1Z999", True)
    assert got == "gid://shopify/Fulfillment/900"
    assert _created(shop) == [
        {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/11",
                    "fulfillmentOrderLineItems": [
                        {"id": "gid://shopify/FulfillmentOrderLineItem/111", "quantity": 2},
                        {"id": "gid://shopify/FulfillmentOrderLineItem/112", "quantity": 1},
                    ],
                }
            ],
            "trackingInfo": {"company": "UPS", "number": "1Z999", "url": "https://t.example/1Z999"},
            "notifyCustomer": True,
        }
    ]


def test_fulfil_some_lines_by_numeric_or_gid_line_ids(shop: FakeShopify, shopify: ShopifyClient) -> None:
    fulfill(shopify, ORDER, [("1", 1), ("gid://shopify/LineItem/2", 1)], "USPS", "94001", None, False)
    [sent] = _created(shop)
    assert sent["lineItemsByFulfillmentOrder"][0]["fulfillmentOrderLineItems"] == [
        {"id": "gid://shopify/FulfillmentOrderLineItem/111", "quantity": 1},
        {"id": "gid://shopify/FulfillmentOrderLineItem/112", "quantity": 1},
    ]
    assert sent["trackingInfo"] == {"company": "USPS", "number": "94001"}
    assert sent["notifyCustomer"] is False


def test_retry_after_a_lost_answer_returns_the_first_fulfilment(
    shop: FakeShopify, shopify: ShopifyClient
) -> None:
    shop.lose_next_create = True
    with pytest.raises(Retryable):
        fulfill(shopify, ORDER, None, "UPS", "1Z1", None, True)
    assert fulfill(shopify, ORDER, None, "UPS", "1Z1", None, True) == "gid://shopify/Fulfillment/900"
    assert shop.count("FulfillmentCreate") == 1 and len(shop.fulfillments) == 1


def test_second_parcel_with_another_number_is_a_second_fulfilment(
    shop: FakeShopify, shopify: ShopifyClient
) -> None:
    first = fulfill(shopify, ORDER, [("1", 1)], "UPS", "1Z1", None, True)
    again = fulfill(shopify, ORDER, [("1", 1)], "UPS", "1Z1", None, True)
    second = fulfill(shopify, ORDER, [("2", 1)], "UPS", "1Z2", None, True)
    assert (first, again, second) == ("gid://shopify/Fulfillment/900",) * 2 + (
        "gid://shopify/Fulfillment/901",
    )
    assert shop.count("FulfillmentCreate") == 2


def test_user_errors_are_permanent_with_their_field_not_their_message(
    shop: FakeShopify, shopify: ShopifyClient
) -> None:
    shop.user_errors = [
        {
            "field": ["fulfillment", "lineItemsByFulfillmentOrder", "0", "fulfillmentOrderId"],
            "message": "Fulfillment order has an unfulfillable status= closed.",
        }
    ]
    with pytest.raises(Rejected, match=r"lineItemsByFulfillmentOrder\.0\.fulfillmentOrderId") as caught:
        fulfill(shopify, ORDER, None, "UPS", "1Z1", None, True)
    assert "unfulfillable" not in str(caught.value)


def test_throttled_answer_is_waited_out_by_the_client(
    mocked: responses.RequestsMock, shop: FakeShopify, fake_time: FakeTime
) -> None:
    # The first answer is THROTTLED; the client waits from the throttleStatus, then asks again.
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 12,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 2.0,
                    "restoreRate": 100.0,
                },
            }
        },
    }
    mocked.replace(responses.POST, URL, json=throttled)
    mocked.add_callback(responses.POST, URL, callback=shop)
    got = fulfill(client(fake_time), ORDER, None, "UPS", "1Z5", None, True)
    assert got == "gid://shopify/Fulfillment/900" and fake_time.sleeps


def test_allocation_spans_fulfillment_orders_and_skips_closed_ones() -> None:
    orders = [
        _fo(1, [_fo_line(10, 7, 0, total=1)], status="CLOSED"),
        _fo(2, [_fo_line(20, 7, 1, total=2)]),
        _fo(3, [_fo_line(30, 7, 3)]),
    ]
    assert allocate(orders, [("7", 3)]) == {
        "gid://shopify/FulfillmentOrder/2": [
            {"id": "gid://shopify/FulfillmentOrderLineItem/20", "quantity": 1}
        ],
        "gid://shopify/FulfillmentOrder/3": [
            {"id": "gid://shopify/FulfillmentOrderLineItem/30", "quantity": 2}
        ],
    }


@pytest.mark.parametrize(
    ("orders", "lines", "message"),
    [
        ([_fo(1, [_fo_line(10, 7, 1)])], [("7", 2)], r"not open for fulfilment: 7 x1"),
        ([_fo(1, [_fo_line(10, 7, 1)])], [("8", 1)], r"not open for fulfilment: 8 x1"),
        ([_fo(1, [_fo_line(10, 7, 0, total=1)], status="CLOSED")], None, r"nothing left to fulfil"),
        (
            [_fo(1, [_fo_line(10, 7, 1)]), _fo(2, [_fo_line(20, 8, 1)], location=2)],
            None,
            r"several locations",
        ),
        ([_fo(1, [_fo_line(10, 7, 1)])], [("7", 0)], r"quantity 0"),
    ],
)
def test_allocation_refuses_what_cannot_be_fulfilled(
    orders: list[dict[str, Any]], lines: list[tuple[str, int]] | None, message: str
) -> None:
    with pytest.raises(Rejected, match=message):
        allocate(orders, lines)


# -- cancel


def test_cancel_sends_reason_without_restock_and_a_second_cancel_is_done(
    shop: FakeShopify, shopify: ShopifyClient
) -> None:
    cancel(shopify, "5000000000000000001", "fraud", True)
    cancel(shopify, ORDER, "fraud", True)
    first = shop.sent[0][1]
    assert first == {
        "orderId": ORDER,
        "reason": "FRAUD",
        "restock": False,
        "notifyCustomer": True,
        "staffNote": None,
    }
    assert shop.count("OrderCancel") == 2


def test_cancel_with_free_text_is_other_with_a_staff_note_and_can_refund(
    shop: FakeShopify, shopify: ShopifyClient
) -> None:
    cancel(shopify, ORDER, "Rejected in review: score 95", False, refund=True)
    assert shop.sent[0][1] == {
        "orderId": ORDER,
        "reason": "OTHER",
        "restock": False,
        "notifyCustomer": False,
        "staffNote": "Rejected in review: score 95",
        "refundMethod": {"originalPaymentMethodsRefund": True},
    }


def test_cancel_user_errors_are_permanent(shop: FakeShopify, shopify: ShopifyClient) -> None:
    shop.user_errors = [{"code": "NO_REFUND_PERMISSION", "field": None, "message": "No permission to refund"}]
    with pytest.raises(Rejected, match=r"orderCancel: NO_REFUND_PERMISSION$"):
        cancel(shopify, ORDER, "fraud", True, refund=True)


# -- risk, against the simulator


@pytest.fixture
def served_shopify() -> Iterator[tuple[ShopifySimulator, ShopifyClient]]:
    clock = FakeClock()
    sim = ShopifySimulator(api_key="k", api_secret="s", clock=clock)
    sim.add_shop("demo.myshopify.com", token="shpat_risk")
    sim.add_product(
        "demo.myshopify.com", "Canvas Tote", [{"sku": "TOTE-RED", "price": "20.00", "available": 7}]
    )
    with serve(sim) as server:
        yield (
            sim,
            ShopifyClient(
                "demo.myshopify.com",
                "shpat_risk",
                base_url=server.url,
                clock=clock.now,
                sleep=clock.advance,
                policy=AddressPolicy(allow_loopback=True),
            ),
        )


def test_record_risk_writes_the_assessment(served_shopify: tuple[ShopifySimulator, ShopifyClient]) -> None:
    sim, shopify = served_shopify
    order = sim.place_order("demo.myshopify.com", [("TOTE-RED", 1)])
    facts = [("NEGATIVE", "Order value 620.00 above 500"), ("positive", "Address verified by the carrier")]
    record_risk(shopify, str(order.id), "medium", facts)
    [assessment] = sim.snapshot()["demo.myshopify.com"]["risk_assessments"]
    assert (assessment["order_id"], assessment["risk_level"]) == (order.id, "MEDIUM")
    assert assessment["facts"] == [
        {"description": "Order value 620.00 above 500", "sentiment": "NEGATIVE"},
        {"description": "Address verified by the carrier", "sentiment": "POSITIVE"},
    ]


def test_record_risk_on_a_missing_order_is_permanent(
    served_shopify: tuple[ShopifySimulator, ShopifyClient],
) -> None:
    _, shopify = served_shopify
    with pytest.raises(Rejected, match=r"orderRiskAssessmentInput\.orderId: NOT_FOUND"):
        record_risk(shopify, "424242", "HIGH", [("NEGATIVE", "x")])


def test_record_risk_refuses_unknown_levels_before_calling() -> None:
    with pytest.raises(Rejected, match=r"level 'SEVERE'"):
        record_risk(None, "1", "SEVERE", [])  # type: ignore[arg-type]

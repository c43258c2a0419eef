"""Returns as the 2026-10 Admin API has them: a customer's request (seeded), approve, decline
(with its reason enum and a note of at most 500 characters), returnProcess (its 2026-10 input:
return line items, the refund's order transactions; no @idempotent), close and cancel, and the
returns/* webhooks each raises."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sandbox.shopify import ShopifySimulator
from sandbox.shopify.store import Order, Return, ShopData
from tests.sandbox.shopify.support import SHOP, GraphQL, document


@pytest.fixture
def sent(sim: ShopifySimulator) -> list[tuple[str, dict[str, Any]]]:
    """Every webhook event the simulator raises from now on: (topic, body)."""
    events: list[tuple[str, dict[str, Any]]] = []
    emit = sim.emit

    def record(shop: ShopData, topic: str, payload: dict[str, Any]) -> None:
        events.append((topic, payload))
        emit(shop, topic, payload)

    sim.emit = record  # type: ignore[method-assign]
    return events


def _fulfilled_line(gql: GraphQL, order: Order) -> int:
    _, fos = gql(document("order_fulfillment_orders"), {"id": f"gid://shopify/Order/{order.id}"})
    fo_id = fos["data"]["order"]["fulfillmentOrders"]["nodes"][0]["id"]
    _, made = gql(
        document("fulfillment_create"),
        {"fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id}]}, "notify": False},
    )
    node = made["data"]["fulfillmentCreate"]["fulfillment"]["fulfillmentLineItems"]["nodes"][0]
    return int(node["id"].rsplit("/", 1)[1])


def _requested(sim: ShopifySimulator, gql: GraphQL, order: Order, quantity: int = 2) -> Return:
    line = _fulfilled_line(gql, order)
    return sim.request_return(SHOP, order.id, [(line, quantity, "DEFECTIVE", "The lid is cracked")])


def _rid(ret: Return) -> str:
    return f"gid://shopify/Return/{ret.id}"


def _process(
    gql: GraphQL, ret: Return, quantity: int, transactions: list[dict[str, Any]], **extra: Any
) -> Any:
    variables = {
        "input": {
            "returnId": _rid(ret),
            "returnLineItems": [
                {"id": f"gid://shopify/ReturnLineItem/{ret.lines[0].id}", "quantity": quantity}
            ],
            "financialTransfer": {"issueRefund": {"orderTransactions": transactions}},
            **extra,
        }
    }
    return gql(document("return_process"), variables)[1]


def _sale(order: Order, amount: str) -> dict[str, Any]:
    return {
        "parentId": f"gid://shopify/OrderTransaction/{order.id}",
        "transactionAmount": {"amount": amount, "currencyCode": order.currency},
    }


def test_a_customers_request_raises_returns_request_with_its_lines(
    sim: ShopifySimulator, gql: GraphQL, order: Order, sent: list[tuple[str, dict[str, Any]]]
) -> None:
    ret = _requested(sim, gql, order)
    [(topic, body)] = [(t, b) for t, b in sent if t.startswith("returns/")]
    assert (topic, body["status"], body["admin_graphql_api_id"]) == (
        "returns/request",
        "requested",
        _rid(ret),
    )
    [line] = body["return_line_items"]
    assert line["fulfillment_line_item"]["line_item"]["id"] == order.line_items[0].id
    assert (line["quantity"], line["return_reason"], line["customer_note"]) == (
        2,
        "defective",
        "The lid is cracked",
    )
    _, read = gql(document("return_lines"), {"id": _rid(ret)})
    [item] = read["data"]["return"]["returnLineItems"]["nodes"]
    assert (item["returnReason"], item["customerNote"], item["processedQuantity"]) == (
        "DEFECTIVE",
        "The lid is cracked",
        0,
    )
    assert item["fulfillmentLineItem"]["lineItem"]["id"] == f"gid://shopify/LineItem/{order.line_items[0].id}"


def test_units_not_fulfilled_or_already_in_a_return_cannot_be_requested(
    sim: ShopifySimulator, gql: GraphQL, order: Order
) -> None:
    ret = _requested(sim, gql, order, quantity=2)
    with pytest.raises(ValueError, match="has not 1 unit"):
        sim.request_return(SHOP, order.id, [(ret.lines[0].fulfillment_line_id, 1)])
    with pytest.raises(ValueError, match="is not on order"):
        sim.request_return(SHOP, order.id, [(999_999, 1)])


def test_decline_keeps_its_reason_and_note_and_a_note_over_500_characters_is_refused(
    sim: ShopifySimulator, gql: GraphQL, order: Order, sent: list[tuple[str, dict[str, Any]]]
) -> None:
    ret = _requested(sim, gql, order)
    too_long = {"input": {"id": _rid(ret), "declineReason": "FINAL_SALE", "declineNote": "x" * 501}}
    _, refused = gql(document("return_decline_request"), too_long)
    assert refused["data"]["returnDeclineRequest"]["userErrors"][0]["code"] == "TOO_LONG"
    assert ret.status == "REQUESTED"
    declined = {"input": {"id": _rid(ret), "declineReason": "RETURN_PERIOD_ENDED", "declineNote": "Too late"}}
    _, answer = gql(document("return_decline_request"), declined)
    made = answer["data"]["returnDeclineRequest"]["return"]
    assert (made["status"], made["decline"]) == (
        "DECLINED",
        {"reason": "RETURN_PERIOD_ENDED", "note": "Too late"},
    )
    [body] = [b for t, b in sent if t == "returns/decline"]
    assert body["decline"] == {"reason": "return_period_ended", "note": "Too late"}


def test_process_refunds_what_its_transactions_move_and_closes_the_return_when_all_is_processed(
    sim: ShopifySimulator, gql: GraphQL, order: Order, shop: ShopData, sent: list[tuple[str, dict[str, Any]]]
) -> None:
    ret = _requested(sim, gql, order)
    gql(document("return_approve_request"), {"input": {"id": _rid(ret)}})
    price = order.line_items[0].price
    first = _process(gql, ret, 1, [_sale(order, str(price))], note="first [waybill refund:1]")
    assert first["data"]["returnProcess"]["return"]["status"] == "OPEN"
    second = _process(gql, ret, 1, [])  # a refund of the unit with no money
    node = second["data"]["returnProcess"]["return"]
    assert node["status"] == "CLOSED" and ret.closed_at is not None
    assert [Decimal(n["totalRefundedSet"]["shopMoney"]["amount"]) for n in node["refunds"]["nodes"]] == [
        Decimal("0.00"),
        price,
    ]
    assert node["refunds"]["nodes"][1]["note"] == "first [waybill refund:1]"
    assert [t for t, _ in sent if t.startswith("returns/") or t == "refunds/create"] == [
        "returns/request",
        "returns/approve",
        "refunds/create",
        "refunds/create",
        "returns/close",
    ]
    again = _process(gql, ret, 1, [])
    assert again["data"]["returnProcess"]["userErrors"][0]["code"] == "INVALID_STATE"
    assert len(shop.refunds) == 2


@pytest.mark.parametrize(
    ("transaction", "code"),
    [
        (
            {
                "parentId": "gid://shopify/OrderTransaction/1",
                "transactionAmount": {"amount": "1.00", "currencyCode": "USD"},
            },
            "NOT_FOUND",
        ),
        (None, "INVALID"),  # more than the order's total
    ],
)
def test_process_with_a_foreign_transaction_or_too_much_money_is_refused_and_changes_nothing(
    sim: ShopifySimulator, gql: GraphQL, order: Order, shop: ShopData, transaction: Any, code: str
) -> None:
    ret = _requested(sim, gql, order)
    gql(document("return_approve_request"), {"input": {"id": _rid(ret)}})
    tx = transaction or _sale(order, str(order.total + Decimal("0.01")))
    answer = _process(gql, ret, 1, [tx])
    assert answer["data"]["returnProcess"]["userErrors"][0]["code"] == code
    assert (ret.lines[0].processed, len(shop.refunds)) == (0, 0)


def test_process_takes_no_idempotency_key_and_refund_create_requires_one(
    sim: ShopifySimulator, gql: GraphQL, order: Order, shop: ShopData
) -> None:
    ret = _requested(sim, gql, order)
    gql(document("return_approve_request"), {"input": {"id": _rid(ret)}})
    keyed = """mutation($input: ReturnProcessInput!) {
      returnProcess(input: $input) @idempotent(key: "k-1") { userErrors { code } }
    }"""
    line = f"gid://shopify/ReturnLineItem/{ret.lines[0].id}"
    _, answer = gql(
        keyed, {"input": {"returnId": _rid(ret), "returnLineItems": [{"id": line, "quantity": 1}]}}
    )
    assert answer["errors"][0]["message"] == "The @idempotent directive is not supported for this mutation."
    unkeyed = """mutation($input: RefundInput!) { refundCreate(input: $input) { userErrors { message } } }"""
    _, answer = gql(unkeyed, {"input": {"orderId": f"gid://shopify/Order/{order.id}"}})
    assert "@idempotent directive is required" in answer["errors"][0]["message"]
    assert (ret.lines[0].processed, len(shop.refunds)) == (0, 0)


def test_a_return_nothing_was_done_on_can_be_canceled_and_returns_cancel_says_so(
    sim: ShopifySimulator, gql: GraphQL, order: Order, sent: list[tuple[str, dict[str, Any]]]
) -> None:
    ret = _requested(sim, gql, order)
    sim.cancel_return(SHOP, ret.id)
    assert sent[-1] == (
        "returns/cancel",
        {"id": ret.id, "admin_graphql_api_id": _rid(ret), "order_id": order.id, "status": "canceled"},
    )
    with pytest.raises(ValueError, match="canceled and cannot be canceled"):
        sim.cancel_return(SHOP, ret.id)


def test_units_refunded_apart_from_a_return_cannot_be_returned(
    sim: ShopifySimulator, gql: GraphQL, order: Order
) -> None:
    line = _fulfilled_line(gql, order)  # two units of the first line
    refund = """mutation($input: RefundInput!) {
      refundCreate(input: $input) @idempotent(key: "apart-1") { userErrors { message } }
    }"""
    item = {
        "lineItemId": f"gid://shopify/LineItem/{order.line_items[0].id}",
        "quantity": 1,
        "restockType": "NO_RESTOCK",
    }
    gql(refund, {"input": {"orderId": f"gid://shopify/Order/{order.id}", "refundLineItems": [item]}})
    with pytest.raises(ValueError, match="has not 2 unit"):
        sim.request_return(SHOP, order.id, [(line, 2)])
    create = {
        "returnInput": {
            "orderId": f"gid://shopify/Order/{order.id}",
            "returnLineItems": [
                {"fulfillmentLineItemId": f"gid://shopify/FulfillmentLineItem/{line}", "quantity": 2}
            ],
        }
    }
    _, refused = gql(document("return_create"), create)
    assert refused["data"]["returnCreate"]["userErrors"][0]["code"] == "INVALID"
    assert sim.request_return(SHOP, order.id, [(line, 1)]).lines[0].quantity == 1

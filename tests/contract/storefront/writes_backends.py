"""The shops the write contract runs against, each served by ``responses``: Shopify Admin
GraphQL, WooCommerce REST and the test shop. One order each (``ORDER``) with lines
``11`` (2 units) and ``12`` (1 unit); each fake keeps what was written, counts the writes
and can answer the next call with an HTTP failure (``fail_next``)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses
from graphql import GraphQLSchema, parse
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode

from connectors.shopify.storefront import ShopifyStorefront
from connectors.storefront.access import StoreAccess
from connectors.storefront.writes import ParcelShipped, WriteVerbs
from connectors.woocommerce.storefront import WooStorefront
from core.money import Money
from sandbox.shopify.trim_schema import load_full_schema
from tests.conformance.conftest import reference_path
from tests.contract.shopify_answers import SHOP, TOKEN, URL, ok
from tests.contract.storefront.testshop.shop import TestShopStorefront
from tests.contract.storefront.testshop.writes import TestShopWrites

ORDER = "5000000000000000001"  # above 2**53: stays exact on every platform
Reply = tuple[int, dict[str, str], str]
# An operation starts a line; a comment's words ("the query cost") are not one.
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(\w+)", re.MULTILINE)
_ids = itertools.count(700)


def _gid(kind: str, n: object) -> str:
    return f"gid://shopify/{kind}/{n}"


class Fake:
    """What every fake shares: the writes seen, and a failure to answer the next call with."""

    platform = ""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.fail: int | None = None

    def storefront(self) -> WriteVerbs:
        raise NotImplementedError

    def routes(self) -> tuple[tuple[str, ...], re.Pattern[str]]:
        """The HTTP methods and the URL pattern the shop answers."""
        raise NotImplementedError

    def answer(self, request: requests.PreparedRequest) -> Reply:
        raise NotImplementedError

    def install(self, mocked: responses.RequestsMock) -> None:
        methods, pattern = self.routes()
        for method in methods:
            mocked.add_callback(method, pattern, callback=self)

    def fail_next(self, status: int) -> None:
        self.fail = status

    def __call__(self, request: requests.PreparedRequest) -> Reply:
        status, self.fail = self.fail, None
        if status is not None:
            return status, {"Retry-After": "0"}, json.dumps({"code": "broken"})
        return self.answer(request)


class ShopifyFake(Fake):
    platform = "shopify"

    def __init__(self, schema: GraphQLSchema | None = None) -> None:
        super().__init__()
        self.schema = schema  # when given, every request's variables are checked against it
        self.fulfillments: list[dict[str, Any]] = []
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.returns: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self.risks: list[dict[str, Any]] = []
        self.cancelled_at: str | None = None
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.moves: list[tuple[str, str]] = []
        self.processed: list[dict[str, Any]] = []

    def storefront(self) -> ShopifyStorefront:
        access = StoreAccess(1, "shopify", SHOP, {"access_token": TOKEN}, api_version="2026-10")
        return ShopifyStorefront(access)

    def routes(self) -> tuple[tuple[str, ...], re.Pattern[str]]:
        return (responses.POST,), re.compile(re.escape(URL) + "$")

    def answer(self, request: requests.PreparedRequest) -> Reply:
        body = json.loads(request.body or b"{}")
        match = _OPERATION.search(body["query"])
        assert match is not None, body["query"]
        operation, variables = match.group(1), body.get("variables") or {}
        self._check(body["query"], variables)
        self.sent.append((operation, variables))
        if body["query"].lstrip().startswith("mutation") or "mutation " in body["query"]:
            self.writes.append(operation)
        return 200, {}, json.dumps(ok(getattr(self, f"_{operation}")(variables)))

    def _check(self, query: str, variables: dict[str, Any]) -> None:
        if self.schema is None:
            return
        [operation] = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
        coerced = get_variable_values(self.schema, operation.variable_definitions or [], variables)
        assert not isinstance(coerced, list), [e.message for e in coerced]

    def _order(self, **fields: Any) -> dict[str, Any]:
        return {"order": {"id": _gid("Order", ORDER), **fields}}

    def _OrderRiskAssessmentCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        self.risks.append(variables["input"])
        return {"orderRiskAssessmentCreate": {"orderRiskAssessment": {"riskLevel": "LOW"}, "userErrors": []}}

    def _OrderCancel(self, variables: dict[str, Any]) -> dict[str, Any]:
        if self.cancelled_at is not None:
            error = {"code": "INVALID", "field": ["orderId"], "message": "Order has already been cancelled"}
            return {"orderCancel": {"job": None, "orderCancelUserErrors": [error]}}
        self.cancelled_at = "2026-11-20T10:00:00Z"
        return {"orderCancel": {"job": {"id": _gid("Job", 1), "done": False}, "orderCancelUserErrors": []}}

    def _Order(self, variables: dict[str, Any]) -> dict[str, Any]:
        return self._order(cancelledAt=self.cancelled_at)

    def _OrderFulfillments(self, variables: dict[str, Any]) -> dict[str, Any]:
        return self._order(fulfillments=self.fulfillments)

    def _OrderFulfillmentOrders(self, variables: dict[str, Any]) -> dict[str, Any]:
        done = sum(int(f["count"]) for f in self.fulfillments)
        lines = [
            {
                "id": _gid("FulfillmentOrderLineItem", 100 + line),
                "totalQuantity": qty,
                "remainingQuantity": 0 if done else qty,
                "lineItem": {"id": _gid("LineItem", line), "sku": f"SKU-{line}"},
            }
            for line, qty in ((11, 2), (12, 1))
        ]
        fo = {
            "id": _gid("FulfillmentOrder", 9),
            "status": "CLOSED" if done else "OPEN",
            "requestStatus": "UNSUBMITTED",
            "assignedLocation": {"name": "Main", "location": {"id": _gid("Location", 1)}},
            "lineItems": {"nodes": lines},
        }
        return self._order(fulfillmentOrders={"nodes": [fo]})

    def _FulfillmentCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        info = variables["fulfillment"]["trackingInfo"]
        items = [
            i
            for group in variables["fulfillment"]["lineItemsByFulfillmentOrder"]
            for i in group["fulfillmentOrderLineItems"]
        ]
        made = {"id": _gid("Fulfillment", next(_ids)), "status": "SUCCESS", "trackingInfo": [info]}
        self.fulfillments.append({**made, "count": sum(i["quantity"] for i in items)})
        return {"fulfillmentCreate": {"fulfillment": made, "userErrors": []}}

    def _FulfillmentEventCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        event = variables["fulfillmentEvent"]
        made = {
            "id": _gid("FulfillmentEvent", next(_ids)),
            "status": event["status"],
            "happenedAt": event["happenedAt"],
        }
        self.events.setdefault(event["fulfillmentId"], []).append({**event, **made})
        return {"fulfillmentEventCreate": {"fulfillmentEvent": made, "userErrors": []}}

    def _FulfillmentEvents(self, variables: dict[str, Any]) -> dict[str, Any]:
        events = [
            {k: e[k] for k in ("id", "status", "happenedAt")} for e in self.events.get(variables["id"], [])
        ]
        return {"fulfillment": {"id": variables["id"], "events": {"nodes": events[::-1]}}}

    def _OrderReturns(self, variables: dict[str, Any]) -> dict[str, Any]:
        fulfillments = [
            {
                "status": "SUCCESS",
                "fulfillmentLineItems": {
                    "nodes": [
                        {
                            "id": _gid("FulfillmentLineItem", 200 + line),
                            "quantity": qty,
                            "lineItem": {"id": _gid("LineItem", line)},
                        }
                        for line, qty in ((11, 2), (12, 1))
                    ]
                },
            }
            for _ in self.fulfillments[:1]
        ]
        returns = [
            {
                "id": r["id"],
                "name": r["name"],
                "status": "OPEN",
                "returnLineItems": {
                    "nodes": [{"returnReasonNote": i["returnReasonNote"]} for i in r["returnLineItems"]]
                },
            }
            for r in self.returns
        ]
        return self._order(fulfillments=fulfillments, returns={"nodes": returns[::-1]})

    def _ReturnCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        made = {"id": _gid("Return", next(_ids)), "name": f"#1001-R{len(self.returns) + 1}", "status": "OPEN"}
        self._keep_return(made, variables["returnInput"]["returnLineItems"])
        return {"returnCreate": {"return": {**made, "order": {"id": _gid("Order", ORDER)}}, "userErrors": []}}

    def request_return(self, line: int = 11, quantity: int = 1) -> str:
        """A customer's return request made on the store (returnRequest): its id."""
        made = {
            "id": _gid("Return", next(_ids)),
            "name": f"#1001-R{len(self.returns) + 1}",
            "status": "REQUESTED",
        }
        item = {
            "fulfillmentLineItemId": _gid("FulfillmentLineItem", 200 + line),
            "quantity": quantity,
            "returnReason": "DEFECTIVE",
            "returnReasonNote": "",
            "customerNote": "Cracked lid",
        }
        self._keep_return(made, [item])
        return str(made["id"])

    def _keep_return(self, made: dict[str, Any], items: list[dict[str, Any]]) -> None:
        lines = [
            {**item, "id": _gid("ReturnLineItem", next(_ids)), "processedQuantity": 0, "customerNote": None}
            | ({"customerNote": item["customerNote"]} if item.get("customerNote") else {})
            for item in items
        ]
        self.returns.append(
            {**made, "returnLineItems": items, "lines": lines, "refunds": [], "decline": None}
        )

    def _return(self, return_id: str) -> dict[str, Any] | None:
        return next((r for r in self.returns if r["id"] == return_id), None)

    def _ReturnLines(self, variables: dict[str, Any]) -> dict[str, Any]:
        found = self._return(variables["id"])
        if found is None:
            return {"return": None}
        items = [
            {
                "id": i["id"],
                "quantity": i["quantity"],
                "processedQuantity": i["processedQuantity"],
                "returnReasonNote": i.get("returnReasonNote") or "",
                "customerNote": i.get("customerNote"),
                "returnReason": i.get("returnReason") or "UNKNOWN",
                "fulfillmentLineItem": {
                    "lineItem": {
                        "id": _gid("LineItem", int(i["fulfillmentLineItemId"].rsplit("/", 1)[1]) - 200)
                    }
                },
            }
            for i in found["lines"]
        ]
        node = {k: found[k] for k in ("id", "name", "status", "decline")}
        node |= {"order": {"id": _gid("Order", ORDER)}, "returnLineItems": {"nodes": items}}
        return {"return": {**node, "refunds": {"nodes": found["refunds"][::-1]}}}

    def _move(self, field: str, return_id: str, allowed: str, to: str, **extra: Any) -> dict[str, Any]:
        found = self._return(return_id)
        if found is None or found["status"] != allowed:
            code = "NOT_FOUND" if found is None else "INVALID_STATE"
            error = {"code": code, "field": ["id"], "message": "Return cannot move."}
            return {field: {"return": None, "userErrors": [error]}}
        found.update(status=to, **extra)
        self.moves.append((return_id, to))
        return {field: {"return": {"id": return_id, "status": to, **extra}, "userErrors": []}}

    def _ReturnApproveRequest(self, variables: dict[str, Any]) -> dict[str, Any]:
        return self._move("returnApproveRequest", variables["input"]["id"], "REQUESTED", "OPEN")

    def _ReturnDeclineRequest(self, variables: dict[str, Any]) -> dict[str, Any]:
        given = variables["input"]
        decline = {"reason": given["declineReason"], "note": given.get("declineNote")}
        return self._move("returnDeclineRequest", given["id"], "REQUESTED", "DECLINED", decline=decline)

    def _ReturnClose(self, variables: dict[str, Any]) -> dict[str, Any]:
        return self._move("returnClose", variables["id"], "OPEN", "CLOSED")

    def _ReturnProcess(self, variables: dict[str, Any]) -> dict[str, Any]:
        given = variables["input"]
        found = self._return(given["returnId"])
        assert found is not None
        items = {i["id"]: i for i in found["lines"]}
        for row in given["returnLineItems"]:
            item = items[row["id"]]
            if row["quantity"] > item["quantity"] - item["processedQuantity"]:
                error = {"code": "INVALID", "field": ["input", "returnLineItems"], "message": "Too many."}
                return {"returnProcess": {"return": None, "userErrors": [error]}}
        for row in given["returnLineItems"]:
            items[row["id"]]["processedQuantity"] += row["quantity"]
        paid = given["financialTransfer"]["issueRefund"]["orderTransactions"]
        amount = sum((Decimal(t["transactionAmount"]["amount"]) for t in paid), Decimal("0"))
        money = {"shopMoney": {"amount": str(amount), "currencyCode": "USD"}}
        refund = {"id": _gid("Refund", next(_ids)), "note": given.get("note"), "totalRefundedSet": money}
        found["refunds"].append(refund)
        self.processed.append(given)
        answer = {"id": found["id"], "status": found["status"], "refunds": {"nodes": found["refunds"][::-1]}}
        return {"returnProcess": {"return": answer, "userErrors": []}}

    def _OrderRefunds(self, variables: dict[str, Any]) -> dict[str, Any]:
        refunds = [{k: r[k] for k in ("id", "note", "totalRefundedSet")} for r in self.refunds]
        sale = {
            "id": _gid("OrderTransaction", 9),
            "kind": "SALE",
            "status": "SUCCESS",
            "gateway": "shopify_payments",
        }
        return self._order(refunds=refunds, transactions=[sale])

    def _RefundCreate(self, variables: dict[str, Any]) -> dict[str, Any]:
        given = variables["input"]
        amount = given["transactions"][0]["amount"] if given.get("transactions") else "0.00"
        money = {"shopMoney": {"amount": amount, "currencyCode": given.get("currency") or "USD"}}
        made = {"id": _gid("Refund", next(_ids)), "note": given.get("note"), "totalRefundedSet": money}
        self.refunds.append({**made, "input": given, "key": variables["idempotencyKey"]})
        return {
            "refundCreate": {
                "refund": {**made, "createdAt": "2026-11-20T10:00:00Z", "refundLineItems": {"nodes": []}},
                "userErrors": [],
            }
        }


WOO = "https://shop.example"
WOO_API = f"{WOO}/wp-json/wc/v3"


# The store's order statuses: WooCommerce's own and two a plugin registered (wc-shipped, wc-delivered).
WOO_STATUSES = (
    *("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"),
    *("shipped", "delivered"),
)


class WooFake(Fake):
    platform = "woocommerce"

    def __init__(self) -> None:
        super().__init__()
        self.order: dict[str, Any] = {"id": int(ORDER), "status": "processing", "meta_data": []}
        self.notes: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []

    def storefront(self) -> WooStorefront:
        creds = {"consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40}
        return WooStorefront(StoreAccess(2, "woocommerce", WOO, creds))

    def routes(self) -> tuple[tuple[str, ...], re.Pattern[str]]:
        path = re.compile(re.escape(f"{WOO_API}/orders/{ORDER}") + r"(/notes|/refunds(/\d+)?)?(\?.*)?$")
        return (responses.GET, responses.POST, responses.PUT), path

    def answer(self, request: requests.PreparedRequest) -> Reply:
        tail = str(request.path_url).split("?")[0].rsplit(f"/orders/{ORDER}", 1)[1]
        body = json.loads(request.body or b"null")
        if request.method != "GET":
            self.writes.append(f"{request.method} {tail or '/'}")
        status = (body or {}).get("status") if isinstance(body, dict) else None
        if request.method == "PUT" and status is not None and status not in WOO_STATUSES:
            refusal = {"code": "rest_invalid_param", "message": "Invalid parameter(s): status", "data": {}}
            return 400, {}, json.dumps(refusal)
        one = re.fullmatch(r"/refunds/(\d+)", tail)
        if one is not None:  # GET orders/<id>/refunds/<refund id>
            found = next((r for r in self.refunds if str(r["id"]) == one.group(1)), None)
            missing = {"code": "woocommerce_rest_shop_order_refund_invalid_id", "message": "Invalid ID."}
            return (200, {}, json.dumps(found)) if found is not None else (404, {}, json.dumps(missing))
        answer = getattr(self, f"_{request.method.lower()}_{tail.strip('/') or 'order'}")(body)
        return 200 if request.method != "POST" else 201, {}, json.dumps(answer)

    def _get_order(self, body: Any) -> Any:
        return self.order

    def _put_order(self, body: dict[str, Any]) -> Any:
        for meta in body.get("meta_data") or []:
            kept = [m for m in self.order["meta_data"] if m["key"] != meta["key"]]
            self.order["meta_data"] = [*kept, {"id": meta.get("id") or next(_ids), **meta}]
        self.order["status"] = body.get("status", self.order["status"])
        return self.order

    def _get_notes(self, body: Any) -> Any:
        return self.notes[::-1]

    def _post_notes(self, body: dict[str, Any]) -> Any:
        note = {"id": next(_ids), "note": body["note"], "customer_note": bool(body.get("customer_note"))}
        self.notes.append(note)
        return note

    def _get_refunds(self, body: Any) -> Any:
        return self.refunds[::-1]

    def _post_refunds(self, body: dict[str, Any]) -> Any:
        made = {"id": next(_ids), **body, "refunded_payment": bool(body.get("api_refund"))}
        self.refunds.append(made)
        return made


TESTSHOP = "testshop.example"


TESTSHOP_STATES = ("open", "cancelled", "done", "delivered")


class TestShopFake(Fake):
    __test__ = False
    platform = "testshop"

    def __init__(self) -> None:
        super().__init__()
        self.state = "open"
        self.lists: dict[str, list[dict[str, Any]]] = {}

    def storefront(self) -> TestShopWrites:
        return TestShopStorefront(StoreAccess(3, "testshop", TESTSHOP, {"token": "contract"}))

    def routes(self) -> tuple[tuple[str, ...], re.Pattern[str]]:
        path = re.compile(re.escape(f"https://{TESTSHOP}/api/") + r"(.+)$")
        return (responses.GET, responses.POST, responses.PUT), path

    def answer(self, request: requests.PreparedRequest) -> Reply:
        path = str(request.path_url).removeprefix("/api/")
        body = json.loads(request.body or b"null")
        if request.method == "GET" and path == f"orders/{ORDER}":
            return 200, {}, json.dumps({"id": ORDER, "state": self.state})
        if not path.startswith(f"orders/{ORDER}") and not path.startswith("parcels/"):
            return 404, {}, "{}"
        if request.method == "GET":
            return 200, {}, json.dumps(self.lists.get(path, []))
        self.writes.append(f"{request.method} {path}")
        if request.method == "PUT":
            if body["state"] not in TESTSHOP_STATES:
                return 422, {}, json.dumps({"error": f"unknown state {body['state']}"})
            self.state = body["state"]
            return 200, {}, json.dumps({"id": ORDER, "state": self.state})
        made = {"id": next(_ids), **body}
        self.lists.setdefault(path, []).append(made)
        return 201, {}, json.dumps(made)


def backend(platform: str, schema: GraphQLSchema | None = None) -> Fake:
    if platform == "shopify":
        return ShopifyFake(schema)
    return WooFake() if platform == "woocommerce" else TestShopFake()


# -- what the write contracts share. A test module imports the fixtures (``*_fixture``); they
# are named ``schema``, ``fake``, ``shop`` and ``shopify_fake`` in its tests.


PLATFORMS = ("shopify", "woocommerce", "testshop")
SHIPPED = ParcelShipped(
    lines=(("11", 2), ("12", 1)), carrier="UPS", tracking_number="1Z999", tracking_url=None, last=True
)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


@pytest.fixture(name="schema", scope="module")
def schema_fixture() -> GraphQLSchema | None:
    """The Admin schema from the platform reference, when present: Shopify's variables are checked."""
    path = reference_path()
    return load_full_schema(path) if path.is_dir() else None


@pytest.fixture(name="fake", params=PLATFORMS)
def fake_fixture(request: pytest.FixtureRequest, schema: GraphQLSchema | None) -> Iterator[Fake]:
    """Each storefront in turn, served by ``responses`` for the test."""
    shop = backend(request.param, schema)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        shop.install(mocked)
        yield shop


@pytest.fixture(name="shop")
def shop_fixture(fake: Fake) -> WriteVerbs:
    return fake.storefront()


@pytest.fixture(name="shopify_fake")
def shopify_fake_fixture(schema: GraphQLSchema | None) -> Iterator[ShopifyFake]:
    """The Shopify fake alone, served by ``responses`` for the test."""
    fake = ShopifyFake(schema)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        fake.install(mocked)
        yield fake

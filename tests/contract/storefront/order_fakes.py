"""Fakes of each platform's API for the order verbs' contract tests (``responses`` only),
answering in the platform's shapes (``tests/fixtures``, PLATFORMS.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from connectors.storefront.orders import EventKind
from tests.contract.storefront.conftest import DOMAINS, PUBLIC_URL, STORE_ID, WEBHOOK_SECRET

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SINCE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
Json = dict[str, Any]
Callback = Callable[[requests.PreparedRequest], tuple[int, dict[str, str], str]]


def fixture(platform: str, name: str) -> Json:
    data: Json = json.loads((FIXTURES / platform / f"{name}.json").read_text(encoding="utf-8"))
    return data


def at(minutes: int) -> datetime:
    return SINCE + timedelta(minutes=minutes)


def answer(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)


def query(request: requests.PreparedRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}


class Fake(Protocol):
    """One platform's API, as the order verbs use it."""

    topics: dict[str, EventKind]  # a topic of each kind the platform sends
    hook_topics: tuple[str, ...]  # the subscriptions Waybill keeps
    can_disable: bool  # whether a subscription can be disabled (and re-enabled)
    created: list[str]  # subscriptions created, in order
    enabled: list[str]  # subscriptions re-enabled

    def order(self, order_id: int, changed: datetime) -> Json: ...
    def polled(self, order_id: int, changed: datetime) -> Json: ...
    def serve_orders(
        self, mocked: responses.RequestsMock, pages: list[list[Json]]
    ) -> list[dict[str, str]]: ...
    def serve_order(self, mocked: responses.RequestsMock, order_id: int, body: Json | None) -> None: ...
    def serve_hooks(self, mocked: responses.RequestsMock, active: list[str], disabled: list[str]) -> None: ...
    def fail(self, mocked: responses.RequestsMock, status: int) -> None: ...


class ShopifyFake:
    topics = {
        "orders/create": EventKind.order_changed,
        "orders/updated": EventKind.order_changed,
        "orders/cancelled": EventKind.order_changed,
        "inventory_levels/update": EventKind.stock_level_changed,
        "app/uninstalled": EventKind.app_uninstalled,
        "customers/data_request": EventKind.customer_data_request,
        "customers/redact": EventKind.customer_redact,
        "shop/redact": EventKind.shop_redact,
        "returns/request": EventKind.return_changed,
        "returns/approve": EventKind.return_changed,
        "returns/decline": EventKind.return_changed,
        "returns/cancel": EventKind.return_changed,
        "returns/close": EventKind.return_changed,
    }
    hook_topics = ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_CANCELLED", "REFUNDS_CREATE")
    can_disable = False
    url = f"https://{DOMAINS['shopify']}/admin/api/2026-10/graphql.json"
    uri = f"{PUBLIC_URL}/webhooks/shopify"

    def __init__(self) -> None:
        self.created: list[str] = []
        self.enabled: list[str] = []
        self.user_error: str | None = None

    def order(self, order_id: int, changed: datetime) -> Json:
        body = fixture("shopify", "orders_create__basic")
        gid = f"gid://shopify/Order/{order_id}"
        return {**body, "id": order_id, "admin_graphql_api_id": gid, "updated_at": changed.isoformat()}

    def polled(self, order_id: int, changed: datetime) -> Json:
        node = fixture("shopify", "order_node__basic")
        stamp = changed.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            **node,
            "id": f"gid://shopify/Order/{order_id}",
            "legacyResourceId": str(order_id),
            "updatedAt": stamp,
        }

    def _serve(self, mocked: responses.RequestsMock, reply: Callable[[str, Json], Json]) -> None:
        def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            sent = json.loads(request.body or b"{}")
            return answer({"data": reply(sent["query"], sent.get("variables") or {})})

        mocked.add_callback(responses.POST, self.url, callback=callback)

    def serve_orders(self, mocked: responses.RequestsMock, pages: list[list[Json]]) -> list[dict[str, str]]:
        seen: list[dict[str, str]] = []

        def reply(text: str, variables: Json) -> Json:
            assert "orders(" in text
            seen.append({"query": variables["query"], "after": str(variables.get("after"))})
            n = 0 if variables.get("after") is None else int(variables["after"][1:])
            info = {"hasNextPage": n + 1 < len(pages), "endCursor": f"c{n + 1}"}
            return {"orders": {"pageInfo": info, "nodes": pages[n]}}

        self._serve(mocked, reply)
        return seen

    def serve_order(self, mocked: responses.RequestsMock, order_id: int, body: Json | None) -> None:
        def reply(text: str, variables: Json) -> Json:
            assert "order(id:$id)" in text.replace(" ", "")
            assert variables == {"id": f"gid://shopify/Order/{order_id}"}
            return {"order": body}  # Shopify answers null for an order it does not have

        self._serve(mocked, reply)

    def serve_hooks(self, mocked: responses.RequestsMock, active: list[str], disabled: list[str]) -> None:
        nodes = [
            {"id": f"gid://shopify/WebhookSubscription/{n}", "topic": t, "uri": self.uri}
            for n, t in enumerate(active)
        ]
        nodes.append(
            {
                "id": "gid://shopify/WebhookSubscription/99",
                "topic": "ORDERS_UPDATED",
                "uri": "https://other.example",
            }
        )

        def reply(text: str, variables: Json) -> Json:
            if "webhookSubscriptionCreate(" in text:
                assert variables["webhookSubscription"] == {"uri": self.uri, "format": "JSON"}
                if self.user_error:
                    errors = [{"field": ["webhookSubscription", "callbackUrl"], "message": self.user_error}]
                    return {"webhookSubscriptionCreate": {"webhookSubscription": None, "userErrors": errors}}
                self.created.append(variables["topic"])
                return {"webhookSubscriptionCreate": {"webhookSubscription": {"id": "x"}, "userErrors": []}}
            assert "webhookSubscriptions(" in text
            after = variables.get("after")  # two pages: one node each, then the rest
            page = nodes[:1] if after is None else nodes[1:]
            info = {"hasNextPage": after is None, "endCursor": "p2"}
            return {"webhookSubscriptions": {"pageInfo": info, "nodes": page}}

        self._serve(mocked, reply)

    def fail(self, mocked: responses.RequestsMock, status: int) -> None:
        mocked.add(responses.POST, self.url, status=status, json={"errors": "fail"})


class WooFake:
    topics = {
        "order.created": EventKind.order_changed,
        "order.updated": EventKind.order_changed,
        "order.deleted": EventKind.order_deleted,
        "product.updated": EventKind.product_changed,
    }
    hook_topics = ("order.created", "order.updated", "order.deleted", "product.updated")
    can_disable = True
    api = f"{DOMAINS['woocommerce']}/wp-json/wc/v3"
    delivery_url = f"{PUBLIC_URL}/webhooks/woocommerce/{STORE_ID}"

    def __init__(self) -> None:
        self.created: list[str] = []
        self.enabled: list[str] = []

    def order(self, order_id: int, changed: datetime) -> Json:
        body = fixture("woocommerce", "order_created__processing")
        return {**body, "id": order_id, "date_modified_gmt": changed.strftime("%Y-%m-%dT%H:%M:%S")}

    def polled(self, order_id: int, changed: datetime) -> Json:
        return self.order(order_id, changed)

    def serve_orders(self, mocked: responses.RequestsMock, pages: list[list[Json]]) -> list[dict[str, str]]:
        seen: list[dict[str, str]] = []

        def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            params = query(request)
            seen.append(params)
            return answer(pages[int(params["page"]) - 1], headers={"X-WP-TotalPages": str(len(pages))})

        mocked.add_callback(
            responses.GET, re.compile(re.escape(f"{self.api}/orders") + r"\?.*"), callback=callback
        )
        return seen

    def serve_order(self, mocked: responses.RequestsMock, order_id: int, body: Json | None) -> None:
        url = re.compile(re.escape(f"{self.api}/orders/{order_id}") + r"(\?.*)?$")
        if body is None:
            gone = {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}
            mocked.add(responses.GET, url, status=404, json=gone)
        else:
            mocked.add(responses.GET, url, json=body)

    def serve_hooks(self, mocked: responses.RequestsMock, active: list[str], disabled: list[str]) -> None:
        hooks = [
            {
                "id": n,
                "topic": t,
                "delivery_url": self.delivery_url,
                "status": "active" if t in active else "disabled",
            }
            for n, t in enumerate(active + disabled, start=1)
        ]
        hooks.append(
            {"id": 99, "topic": "order.created", "delivery_url": "https://other.example", "status": "active"}
        )
        listing = re.compile(re.escape(f"{self.api}/webhooks") + r"\?.*")
        mocked.add(responses.GET, listing, json=hooks, headers={"X-WP-TotalPages": "1"})

        def create(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            sent = json.loads(request.body or b"{}")
            assert (sent["delivery_url"], sent["secret"], sent["status"]) == (
                self.delivery_url,
                WEBHOOK_SECRET,
                "active",
            )
            self.created.append(sent["topic"])
            return answer({"id": 100 + len(self.created), **sent}, status=201)

        def enable(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            assert json.loads(request.body or b"{}") == {"status": "active"}
            hook_id = int(str(request.url).rsplit("/", 1)[-1].split("?")[0])
            self.enabled.append(next(h["topic"] for h in hooks if h["id"] == hook_id))
            return answer({"id": hook_id, "status": "active"})

        mocked.add_callback(
            responses.POST, re.compile(re.escape(f"{self.api}/webhooks") + r"(\?.*)?$"), callback=create
        )
        mocked.add_callback(
            responses.PUT, re.compile(re.escape(f"{self.api}/webhooks/") + r"\d+.*"), callback=enable
        )

    def fail(self, mocked: responses.RequestsMock, status: int) -> None:
        mocked.add(responses.GET, re.compile(re.escape(self.api) + ".*"), status=status, json={"code": "x"})


class TestShopFake:
    __test__ = False  # not a test class

    topics = {
        "order:placed": EventKind.order_changed,
        "order:edited": EventKind.order_changed,
        "order:removed": EventKind.order_deleted,
        "app:removed": EventKind.app_uninstalled,
        "return:changed": EventKind.return_changed,
    }
    hook_topics = ("order:placed", "order:edited", "order:removed", "app:removed", "return:changed")
    can_disable = True
    api = f"https://{DOMAINS['testshop']}/api"
    url = f"{PUBLIC_URL}/webhooks/testshop/{STORE_ID}"

    def __init__(self) -> None:
        self.created: list[str] = []
        self.enabled: list[str] = []

    def order(self, order_id: int, changed: datetime) -> Json:
        lines = [{"id": 1, "sku": "MUG", "name": "Mug", "qty": 2, "price": "6.25"}]
        return {
            "id": order_id,
            "ref": f"T-{order_id}",
            "currency": "EUR",
            "total": "12.50",
            "created": SINCE.isoformat(),
            "changed": changed.isoformat(),
            "cancelled": None,
            "lines": lines,
        }

    def polled(self, order_id: int, changed: datetime) -> Json:
        return self.order(order_id, changed)

    def serve_orders(self, mocked: responses.RequestsMock, pages: list[list[Json]]) -> list[dict[str, str]]:
        seen: list[dict[str, str]] = []

        def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            params = query(request)
            seen.append(params)
            n = int(params.get("cursor", "0"))
            return answer({"orders": pages[n], "next": str(n + 1) if n + 1 < len(pages) else None})

        mocked.add_callback(
            responses.GET, re.compile(re.escape(f"{self.api}/orders") + r"(\?.*)?$"), callback=callback
        )
        return seen

    def serve_order(self, mocked: responses.RequestsMock, order_id: int, body: Json | None) -> None:
        url = f"{self.api}/orders/{order_id}"
        if body is None:
            mocked.add(responses.GET, url, status=404, json={"error": "no such order"})
        else:
            mocked.add(responses.GET, url, json=body)

    def serve_hooks(self, mocked: responses.RequestsMock, active: list[str], disabled: list[str]) -> None:
        hooks = [
            {"id": n, "event": e, "url": self.url, "active": e in active}
            for n, e in enumerate(active + disabled, start=1)
        ]
        mocked.add(responses.GET, f"{self.api}/hooks", json=hooks)

        def create(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            sent = json.loads(request.body or b"{}")
            assert (sent["url"], sent["secret"]) == (self.url, WEBHOOK_SECRET)
            self.created.append(sent["event"])
            return answer({"id": 100, **sent}, status=201)

        def enable(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            hook_id = int(str(request.url).rsplit("/", 1)[-1])
            self.enabled.append(next(h["event"] for h in hooks if h["id"] == hook_id))
            return answer({"id": hook_id, "active": True})

        mocked.add_callback(responses.POST, f"{self.api}/hooks", callback=create)
        mocked.add_callback(
            responses.PATCH, re.compile(re.escape(f"{self.api}/hooks/") + r"\d+$"), callback=enable
        )

    def fail(self, mocked: responses.RequestsMock, status: int) -> None:
        mocked.add(responses.GET, re.compile(re.escape(self.api) + ".*"), status=status, json={})


FAKES: dict[str, Callable[[], Fake]] = {
    "shopify": ShopifyFake,
    "woocommerce": WooFake,
    "testshop": TestShopFake,
}

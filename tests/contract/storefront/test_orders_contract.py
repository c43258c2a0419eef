"""The order verbs, on every storefront: kinds, the order a body holds, orders changed since a
cursor (paged), webhook subscriptions repaired, platform failures as ``core.errors`` types.

Each platform's answers come from a small fake of its API (``responses`` only), shaped like
the platform's reference data (``tests/fixtures``, PLATFORMS.md); the assertions are the same
for every implementation.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from connectors import MappingError
from connectors.errors import AuthError, NotFound, Rejected
from connectors.storefront import StoreAccess, Storefront, event_kind, reader_for, storefront_for
from connectors.storefront.orders import POLLED_ORDER_TOPIC, EventKind, PolledOrder, PrivacyRequest
from core.errors import Permanent, Retryable
from tests.contract.storefront.conftest import CREDENTIALS, DOMAINS, PUBLIC_URL, STORE_ID, WEBHOOK_SECRET

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
    }
    hook_topics = ("order:placed", "order:edited", "order:removed", "app:removed")
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


@pytest.fixture
def fake(platform: str) -> Fake:
    return FAKES[platform]()


# --------------------------------------------------------------------------- events in


def test_each_topic_is_its_kind_and_others_none(platform: str, storefront: Storefront, fake: Fake) -> None:
    for topic, kind in fake.topics.items():
        assert storefront.kind_of(topic) is kind
        assert reader_for(platform).kind_of(topic) is kind
        assert event_kind(platform, topic) is kind
    assert storefront.kind_of("carts/update") is None
    assert event_kind(platform, "carts/update") is None
    assert event_kind(platform, POLLED_ORDER_TOPIC) is EventKind.order_polled


def test_an_unknown_platform_has_no_kinds() -> None:
    assert event_kind("nowhere", "orders/create") is None
    with pytest.raises(LookupError):
        reader_for("nowhere")


def test_parse_order_reads_the_pushed_and_the_polled_order(storefront: Storefront, fake: Fake) -> None:
    pushed = storefront.parse_order(EventKind.order_changed, fake.order(4242, at(5)))
    polled = storefront.parse_order(EventKind.order_polled, fake.polled(4242, at(6)))
    assert (pushed.order_id, pushed.updated_at, pushed.is_cancelled) == ("4242", at(5), False)
    assert (polled.order_id, polled.updated_at) == ("4242", at(6))
    assert pushed.platform == storefront.platform
    assert pushed.updated_at.tzinfo is UTC and pushed.line_items


def test_parse_order_refuses_a_body_without_its_id(storefront: Storefront, fake: Fake) -> None:
    body = {k: v for k, v in fake.order(1, at(1)).items() if k not in ("id", "admin_graphql_api_id")}
    with pytest.raises(MappingError) as refused:
        storefront.parse_order(EventKind.order_changed, body)
    assert isinstance(refused.value, Permanent)


@pytest.mark.parametrize(
    ("body", "expected"), [({"id": 9_007_199_254_740_993}, "9007199254740993"), ({}, None)]
)
def test_the_id_of_a_deleted_order_is_exact(storefront: Storefront, body: Json, expected: str | None) -> None:
    assert storefront.deleted_order_id(body) == expected


def test_the_orders_an_event_names(storefront: Storefront, fake: Fake) -> None:
    assert "4242" in storefront.orders_named(fake.order(4242, at(1)))
    assert storefront.orders_named({"note": "nothing"}) == frozenset()


def test_a_privacy_request_is_a_canonical_request(storefront: Storefront) -> None:
    body = {
        "customer": {
            "email": "Ada@Example.com",
            "phone": "+44 20 7946 0018",
            "first_name": "Ada",
            "last_name": "Lovelace",
        },
        "orders_to_redact": [11, 12],
    }
    request = storefront.privacy_request(EventKind.customer_redact, body)
    assert isinstance(request, PrivacyRequest)
    if storefront.platform == "shopify":
        assert (request.email, request.order_ids) == ("ada@example.com", frozenset({"11", "12"}))
        assert (request.name, request.phone) == ("Ada Lovelace", "+44 20 7946 0018")
    else:  # a platform that sends no privacy requests names no one
        assert request == PrivacyRequest()


# --------------------------------------------------------------------------- orders changed since


def test_orders_since_reads_every_page(
    storefront: Storefront, fake: Fake, mocked: responses.RequestsMock
) -> None:
    pages = [[fake.polled(1, at(1)), fake.polled(2, at(2))], [fake.polled(3, at(3))]]
    seen = fake.serve_orders(mocked, pages)
    found = list(storefront.orders_since(SINCE))
    assert [(p.order_id, p.updated_at) for p in found] == [("1", at(1)), ("2", at(2)), ("3", at(3))]
    assert all(p.updated_at.tzinfo is UTC for p in found)
    for polled in found:
        assert polled.body is not None
        order = storefront.parse_order(EventKind.order_polled, json.loads(polled.body))
        assert (order.order_id, order.updated_at) == (polled.order_id, polled.updated_at)
    assert len(seen) == 2  # one request a page
    assert any("2026-03-01T09:00:00" in value for value in seen[0].values())  # the cursor was asked for


def shopify() -> Storefront:
    """The Shopify storefront, for what only a GraphQL platform does."""
    access = StoreAccess(
        STORE_ID, "shopify", DOMAINS["shopify"], CREDENTIALS["shopify"], WEBHOOK_SECRET, PUBLIC_URL
    )
    return storefront_for(access)


def test_an_order_a_read_may_have_cut_comes_without_its_body(mocked: responses.RequestsMock) -> None:
    fake = ShopifyFake()
    big = fake.polled(5, at(5))
    big["lineItems"] = {"nodes": [copy.deepcopy(big["lineItems"]["nodes"][0]) for _ in range(12)]}
    fake.serve_orders(mocked, [[fake.polled(4, at(4)), big]])
    found = list(shopify().orders_since(SINCE))
    assert found[0].body is not None
    assert found[1] == PolledOrder("5", at(5), None)


# --------------------------------------------------------------------------- webhooks


def test_ensure_webhooks_creates_what_is_missing_and_enables_what_is_off(
    storefront: Storefront, fake: Fake, mocked: responses.RequestsMock
) -> None:
    topics = fake.hook_topics
    disabled = [topics[1]] if fake.can_disable else []
    fake.serve_hooks(mocked, active=[topics[0]], disabled=disabled)
    repaired = storefront.ensure_webhooks()
    missing = [t for t in topics[1:] if t not in disabled]
    assert fake.created[: len(missing)] == missing
    assert fake.enabled == disabled
    assert set(repaired) >= set(missing) | {f"{t} (re-enabled)" for t in disabled}
    assert topics[0] not in repaired


def test_ensure_webhooks_with_everything_in_place_changes_nothing(
    storefront: Storefront, fake: Fake, mocked: responses.RequestsMock, platform: str
) -> None:
    every = list(fake.hook_topics)
    if platform == "shopify":
        from connectors.shopify.storefront_orders import SUBSCRIPTION_TOPICS

        every = list(SUBSCRIPTION_TOPICS)
    fake.serve_hooks(mocked, active=every, disabled=[])
    assert storefront.ensure_webhooks() == []
    assert (fake.created, fake.enabled) == ([], [])


def test_a_refused_subscription_is_permanent_and_quotes_no_platform_text(
    mocked: responses.RequestsMock,
) -> None:
    fake = ShopifyFake()
    fake.user_error = "Address for this topic has already been taken by jane@example.com"
    fake.serve_hooks(mocked, active=[], disabled=[])
    with pytest.raises(Rejected) as refused:
        shopify().ensure_webhooks()
    assert "ORDERS_CREATE" in str(refused.value) and "jane" not in str(refused.value)


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(("status", "error"), [(503, Retryable), (401, AuthError), (404, NotFound)])
@pytest.mark.parametrize("verb", ["orders_since", "ensure_webhooks"])
def test_platform_failures_are_core_errors(
    storefront: Storefront, fake: Fake, mocked: responses.RequestsMock, status: int, error: type, verb: str
) -> None:
    fake.fail(mocked, status)
    with pytest.raises(error) as failed:
        if verb == "orders_since":
            list(storefront.orders_since(SINCE))
        else:
            storefront.ensure_webhooks()
    assert isinstance(failed.value, Retryable | Permanent)

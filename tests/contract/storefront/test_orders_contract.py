"""The order verbs, on every storefront: kinds, the order a body holds, orders changed since a
cursor (paged), webhook subscriptions repaired, platform failures as ``core.errors`` types.

Each platform's answers come from a small fake of its API (``order_fakes.py``, ``responses``
only), shaped like the platform's reference data; the assertions are the same for every
implementation.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC

import pytest
import responses

from connectors import MappingError
from connectors.errors import AuthError, NotFound, Rejected
from connectors.storefront import StoreAccess, Storefront, event_kind, reader_for, storefront_for
from connectors.storefront.orders import POLLED_ORDER_TOPIC, EventKind, PolledOrder, PrivacyRequest
from core.errors import Permanent, Retryable
from tests.contract.storefront.conftest import CREDENTIALS, DOMAINS, PUBLIC_URL, STORE_ID, WEBHOOK_SECRET
from tests.contract.storefront.order_fakes import FAKES, SINCE, Fake, Json, ShopifyFake, at


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


def test_order_now_reads_one_order_as_a_poll_reads_it(
    storefront: Storefront, fake: Fake, mocked: responses.RequestsMock
) -> None:
    fake.serve_order(mocked, 77, fake.polled(77, at(7)))
    found = storefront.order_now("77")
    assert found is not None and (found.order_id, found.updated_at) == ("77", at(7))
    assert found.updated_at.tzinfo is UTC and found.body is not None
    order = storefront.parse_order(EventKind.order_polled, json.loads(found.body))
    assert (order.order_id, order.updated_at) == ("77", at(7))
    assert len(mocked.calls) == 1  # one call, not a page of the store's orders


def test_order_now_of_an_order_the_store_does_not_have_is_none(
    storefront: Storefront, fake: Fake, mocked: responses.RequestsMock
) -> None:
    fake.serve_order(mocked, 78, None)
    assert storefront.order_now("78") is None


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
@pytest.mark.parametrize("verb", ["orders_since", "order_now", "ensure_webhooks"])
def test_platform_failures_are_core_errors(
    storefront: Storefront, fake: Fake, mocked: responses.RequestsMock, status: int, error: type, verb: str
) -> None:
    fake.fail(mocked, status)
    if verb == "order_now" and status == 404 and storefront.platform != "shopify":
        # A REST store's 404 on the order's own address is that order gone; Shopify's one
        # GraphQL endpoint answers a missing order with null (a 404 there is the shop gone).
        assert storefront.order_now("77") is None
        return
    with pytest.raises(error) as failed:
        if verb == "orders_since":
            list(storefront.orders_since(SINCE))
        elif verb == "order_now":
            storefront.order_now("77")
        else:
            storefront.ensure_webhooks()
    assert isinstance(failed.value, Retryable | Permanent)

"""ShopifyClient throttling against ``responses``: exact waits from the throttleStatus arithmetic, pacing."""

from __future__ import annotations

import pytest
import responses

from connectors.shopify.client import MARGIN_S
from connectors.shopify.throttle import REGISTRY, ThrottleState
from core.errors import Retryable
from tests.contract.conftest import FakeTime
from tests.contract.shopify_answers import SHOP_DATA, URL, client, cost, ok, throttled
from tests.sandbox.shopify.support import document


def test_throttled_then_success_waits_exactly_the_refill_time(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mocked.post(URL, json=throttled(requested=252, available=236))
    mocked.post(URL, json=ok(SHOP_DATA))
    assert client(fake_time).query("{ productVariants(first: 250) { nodes { id } } }") == SHOP_DATA
    assert fake_time.sleeps == [(252 - 236) / 100 + MARGIN_S]  # 100 points per second
    assert len(mocked.calls) == 2


def test_throttled_mutation_is_retried_because_it_never_ran(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mocked.post(URL, json=throttled(requested=10, available=4, maximum=100, rate=2))
    mocked.post(URL, json=ok({"webhookSubscriptionDelete": {"userErrors": []}}))
    client(fake_time).query(
        document("webhook_subscription_delete"), {"id": "gid://shopify/WebhookSubscription/1"}
    )
    assert fake_time.sleeps == [(10 - 4) / 2 + MARGIN_S]


def test_http_429_honours_retry_after(mocked: responses.RequestsMock, fake_time: FakeTime) -> None:
    mocked.post(URL, json={"errors": "Exceeded 2 calls per second"}, status=429, headers={"Retry-After": "2"})
    mocked.post(URL, json=ok(SHOP_DATA))
    assert client(fake_time).query("{ shop { id } }") == SHOP_DATA
    assert fake_time.sleeps == [2.0]


def test_http_429_waits_the_longer_of_retry_after_and_the_refill(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    body = {"errors": [{"message": "Throttled"}], "extensions": cost(500, None, 100)}
    mocked.post(URL, json=body, status=429, headers={"Retry-After": "1"})
    mocked.post(URL, json=ok(SHOP_DATA))
    client(fake_time).query("{ shop { id } }")
    assert fake_time.sleeps == [(500 - 100) / 100 + MARGIN_S]  # beats Retry-After: 1


def test_throttling_beyond_the_budget_raises_retryable_with_the_wait(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mocked.post(URL, json=throttled(requested=1000, available=0, maximum=1000, rate=10))
    with pytest.raises(Retryable) as caught:
        client(fake_time).query("{ shop { id } }")
    assert caught.value.wait_s == (1000 - 0) / 10 + MARGIN_S
    assert fake_time.sleeps == []
    assert len(mocked.calls) == 1


def test_repeated_throttling_stops_at_max_wait(mocked: responses.RequestsMock, fake_time: FakeTime) -> None:
    mocked.post(URL, json={"errors": "slow down"}, status=429, headers={"Retry-After": "4"})
    with pytest.raises(Retryable) as caught:
        client(fake_time, max_wait_s=10.0).query("{ shop { id } }")
    assert fake_time.sleeps == [4.0, 4.0]  # a third wait would pass 10 s
    assert caught.value.wait_s == 4.0
    assert len(mocked.calls) == 3


def test_paces_before_a_query_the_bucket_cannot_afford(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    costly = "{ productVariants(first: 100) { nodes { id sku } } }"
    mocked.post(URL, json=ok({"productVariants": {"nodes": []}}, cost(300, 300, 100.0, 1000.0, 50.0)))
    shopify = client(fake_time)
    shopify.query(costly)
    assert fake_time.sleeps == []
    fake_time.advance(1.0)  # 100 + 50 refilled
    shopify.query(costly)
    # Requested 300 last time, 150 available now: (300 - 150) / 50 s before sending.
    assert fake_time.sleeps == [(300 - 150) / 50 + MARGIN_S]
    assert len(mocked.calls) == 2


def test_unknown_document_is_assumed_to_cost_fifty(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mocked.post(URL, json=ok(SHOP_DATA, cost(300, 300, 30.0, 1000.0, 10.0)))
    shopify = client(fake_time)
    shopify.query("{ productVariants(first: 100) { nodes { id } } }")
    shopify.query("{ shop { id } }")  # never sent before: 50 points expected, 30 there
    assert fake_time.sleeps == [(50 - 30) / 10 + MARGIN_S]


def test_pacing_is_shared_by_every_client_of_the_shop(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    costly = "{ orders(first: 50) { nodes { id } } }"
    mocked.post(URL, json=ok(SHOP_DATA, cost(200, 200, 0.0, 1000.0, 100.0)))
    client(fake_time).query(costly)
    client(fake_time).query(costly)  # a second object, as another worker thread would build
    assert fake_time.sleeps == [(200 - 0) / 100 + MARGIN_S]


def test_pacing_longer_than_the_budget_gives_the_job_back_unsent(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    costly = "{ orders(first: 50) { nodes { id } } }"
    mocked.post(URL, json=ok(SHOP_DATA, cost(900, 900, 0.0, 1000.0, 10.0)))
    shopify = client(fake_time, max_wait_s=30.0)
    shopify.query(costly)
    with pytest.raises(Retryable) as caught:
        shopify.query(costly)
    assert caught.value.wait_s == (900 - 0) / 10 + MARGIN_S
    assert len(mocked.calls) == 1


def test_reservations_keep_two_callers_from_spending_the_same_points() -> None:
    REGISTRY.observe("race.myshopify.com", "doc", cost(60, 60, 100.0, 1000.0, 20.0), now=0.0)
    assert REGISTRY.reserve("race.myshopify.com", 60, now=0.0) == 0.0
    # 40 left after the first caller's debit: the second needs 20 more, 1 s at 20 points/s.
    assert REGISTRY.reserve("race.myshopify.com", 60, now=0.0) == 1.0
    assert REGISTRY.reserve("race.myshopify.com", 60, now=1.0) == 0.0


def test_state_estimate_refills_and_caps() -> None:
    state = ThrottleState(maximum_available=1000.0, currently_available=100.0, restore_rate=50.0, at=10.0)
    assert state.available_at(12.0) == 200.0
    assert state.available_at(100.0) == 1000.0
    assert state.wait_for(5000, 10.0) == 18.0  # never more than a full bucket's refill

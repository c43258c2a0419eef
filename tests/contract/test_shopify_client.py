"""ShopifyClient against ``responses``: URL and headers, parsing, every error class, throttle arithmetic."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from connectors.errors import AuthError, NotFound, Rejected
from connectors.shopify.client import (
    MARGIN_S,
    ShopifyClient,
    exchange_code,
    is_mutation,
    load_document,
    user_errors,
)
from connectors.shopify.throttle import REGISTRY, ThrottleState
from core.errors import Retryable
from tests.contract.conftest import FakeTime

SHOP = "demo.myshopify.com"
TOKEN = "shpat_contract_secret_token"
URL = f"https://{SHOP}/admin/api/2026-10/graphql.json"
SHOP_DATA = {"shop": {"id": "gid://shopify/Shop/1", "name": "Demo"}}


def cost(
    requested: int | None, actual: int | None, available: float, maximum: float = 2000.0, rate: float = 100.0
):
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": rate,
            },
        }
    }


def ok(data: dict[str, Any], extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"data": data, "extensions": extensions or cost(5, 3, 1997)}


def throttled(
    requested: int, available: float, maximum: float = 2000.0, rate: float = 100.0
) -> dict[str, Any]:
    error = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
    return {"errors": [error], "extensions": cost(requested, None, available, maximum, rate)}


def client(fake_time: FakeTime, **kwargs: Any) -> ShopifyClient:
    return ShopifyClient(SHOP, TOKEN, clock=fake_time.clock, sleep=fake_time.sleep, **kwargs)


# -- request shape


def test_execute_posts_the_named_document_with_token_header(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mocked.post(URL, json=ok(SHOP_DATA))
    data = client(fake_time).execute("shop_and_locations", {"first": 5, "after": None})
    assert data == SHOP_DATA
    sent = mocked.calls[0].request
    assert sent.url == URL
    assert sent.headers["X-Shopify-Access-Token"] == TOKEN
    assert sent.headers["Content-Type"] == "application/json"
    assert "Host" not in sent.headers
    assert json.loads(sent.body) == {
        "query": load_document("shop_and_locations"),
        "variables": {"first": 5, "after": None},
    }
    assert sent.req_kwargs["timeout"] == 10.0


def test_sandbox_base_url_names_the_shop_in_the_host_header(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mocked.post("http://127.0.0.1:8901/admin/api/2026-07/graphql.json", json=ok(SHOP_DATA))
    sim = client(fake_time, api_version="2026-07", base_url="http://127.0.0.1:8901/", timeout_s=2.5)
    assert sim.query("{ shop { id name } }") == SHOP_DATA
    sent = mocked.calls[0].request
    assert sent.headers["Host"] == SHOP
    assert sent.req_kwargs["timeout"] == 2.5


def test_success_records_the_throttle_status(mocked: responses.RequestsMock, fake_time: FakeTime) -> None:
    mocked.post(URL, json=ok(SHOP_DATA, cost(12, 4, 1996.0, 4000.0, 200.0)))
    shopify = client(fake_time)
    assert shopify.throttle is None
    shopify.query("{ shop { id } }")
    assert shopify.throttle == ThrottleState(4000.0, 1996.0, 200.0, 1_000.0)
    # Another client object for the same shop sees the same state (one bucket per shop).
    assert client(fake_time).throttle == shopify.throttle


def test_documents_load_by_name_and_names_are_checked() -> None:
    assert load_document("webhook_subscriptions").startswith("# The app's webhook subscriptions")
    assert is_mutation(load_document("webhook_subscription_create"))
    assert not is_mutation(load_document("orders_updated_since"))
    with pytest.raises(ValueError):
        load_document("../secrets")


def test_user_errors_reads_the_mutation_payload() -> None:
    data = {"webhookSubscriptionCreate": {"webhookSubscription": None, "userErrors": [{"message": "taken"}]}}
    assert user_errors(data, "webhookSubscriptionCreate") == [{"message": "taken"}]
    assert user_errors({"webhookSubscriptionCreate": {"userErrors": []}}, "webhookSubscriptionCreate") == []


# -- errors


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (401, {"errors": "[API] Invalid API key or access token"}, AuthError, "HTTP 401"),
        (403, {"errors": "Forbidden"}, AuthError, "HTTP 403"),
        (404, {"errors": "Not Found"}, NotFound, "HTTP 404"),
        (400, {"errors": {"query": "Required parameter missing or invalid"}}, Rejected, "Required parameter"),
        (422, {"errors": "Unprocessable Entity"}, Rejected, "Unprocessable Entity"),
        (500, {"errors": "Internal Server Error"}, Retryable, "HTTP 500"),
        (503, {"errors": "Unavailable"}, Retryable, "HTTP 503"),
    ],
)
def test_http_statuses_map_to_error_classes(
    mocked: responses.RequestsMock, fake_time: FakeTime, status: int, body: Any, error: type, text: str
) -> None:
    mocked.post(URL, json=body, status=status)
    with pytest.raises(error) as caught:
        client(fake_time).execute("shop_and_locations", {"first": 1})
    assert text in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("code", "error"),
    [("MAX_COST_EXCEEDED", Rejected), ("ACCESS_DENIED", Rejected), ("INTERNAL_SERVER_ERROR", Retryable)],
)
def test_graphql_errors_map_by_code(
    mocked: responses.RequestsMock, fake_time: FakeTime, code: str, error: type
) -> None:
    failure = {"message": "nope", "extensions": {"code": code}}
    mocked.post(URL, json={"errors": [failure], "extensions": cost(0, 0, 2000)})
    with pytest.raises(error) as caught:
        client(fake_time).query("{ shop { id } }")
    assert str(caught.value) == f"shopify query: {code}: nope"
    assert type(caught.value) is error


def test_validation_error_without_code_is_rejected_with_its_message(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mocked.post(URL, json={"errors": [{"message": "Field 'nope' doesn't exist on type 'QueryRoot'"}]})
    with pytest.raises(Rejected, match="Field 'nope' doesn't exist"):
        client(fake_time).query("{ nope }")


def test_query_is_retried_once_after_a_timeout(mocked: responses.RequestsMock, fake_time: FakeTime) -> None:
    mocked.post(URL, body=requests.Timeout("read timed out"))
    mocked.post(URL, json=ok(SHOP_DATA))
    assert client(fake_time).execute("shop_and_locations", {"first": 1}) == SHOP_DATA
    assert len(mocked.calls) == 2


def test_query_gives_up_after_the_second_transport_failure(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mocked.post(URL, body=requests.ConnectionError("refused"))
    with pytest.raises(Retryable, match="ConnectionError"):
        client(fake_time).execute("shop_and_locations", {"first": 1})
    assert len(mocked.calls) == 2


def test_mutation_is_not_retried_after_a_timeout(mocked: responses.RequestsMock, fake_time: FakeTime) -> None:
    mocked.post(URL, body=requests.ReadTimeout("read timed out"))
    variables = {
        "topic": "ORDERS_CREATE",
        "webhookSubscription": {"uri": "https://w.example/h", "format": "JSON"},
    }
    with pytest.raises(Retryable, match="ReadTimeout"):
        client(fake_time).execute("webhook_subscription_create", variables)
    assert len(mocked.calls) == 1


def test_non_json_answer_is_retryable(mocked: responses.RequestsMock, fake_time: FakeTime) -> None:
    mocked.post(URL, body="<html>upstream reset</html>", status=200)
    with pytest.raises(Retryable, match="not JSON"):
        client(fake_time).query("{ shop { id } }")


# -- throttling


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
    client(fake_time).execute("webhook_subscription_delete", {"id": "gid://shopify/WebhookSubscription/1"})
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


# -- OAuth code exchange

TOKEN_URL = f"https://{SHOP}/admin/oauth/access_token"


def test_exchange_code_posts_credentials_and_returns_token_and_scope(mocked: responses.RequestsMock) -> None:
    mocked.post(TOKEN_URL, json={"access_token": "shpat_new", "scope": "read_orders,write_fulfillments"})
    assert exchange_code(SHOP, "api-key", "api-secret", "code-123") == (
        "shpat_new",
        "read_orders,write_fulfillments",
    )
    sent = mocked.calls[0].request
    assert json.loads(sent.body) == {
        "client_id": "api-key",
        "client_secret": "api-secret",
        "code": "code-123",
    }
    assert sent.req_kwargs["timeout"] == 10.0


def test_exchange_code_in_sandbox_mode_names_the_shop(mocked: responses.RequestsMock) -> None:
    mocked.post("http://127.0.0.1:8901/admin/oauth/access_token", json={"access_token": "t", "scope": "s"})
    assert exchange_code(SHOP, "k", "s", "c", base_url="http://127.0.0.1:8901") == ("t", "s")
    assert mocked.calls[0].request.headers["Host"] == SHOP


def test_exchange_code_refused_is_rejected_without_the_secret(mocked: responses.RequestsMock) -> None:
    body = {
        "error": "invalid_request",
        "error_description": "The authorization code was not found or was already used",
    }
    mocked.post(TOKEN_URL, json=body, status=400)
    with pytest.raises(Rejected, match="already used") as caught:
        exchange_code(SHOP, "api-key", "api-secret", "used-code")
    assert "api-secret" not in str(caught.value)


def test_exchange_code_unreachable_is_retryable(mocked: responses.RequestsMock) -> None:
    mocked.post(TOKEN_URL, body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(Retryable, match="ConnectTimeout"):
        exchange_code(SHOP, "api-key", "api-secret", "code")
    assert len(mocked.calls) == 1

"""ShopifyClient against ``responses``: URL and headers, parsing, every error class, the code exchange."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from connectors.errors import AuthError, NotFound, Rejected
from connectors.shopify.client import exchange_code, is_mutation, load_document
from connectors.shopify.throttle import ThrottleState
from core.errors import Retryable
from tests.contract.conftest import FakeTime
from tests.contract.shopify_answers import SHOP, SHOP_DATA, TOKEN, URL, client, cost, ok

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


# -- errors


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (401, {"errors": "[API] Invalid API key or access token"}, AuthError, "HTTP 401"),
        (403, {"errors": "Forbidden"}, AuthError, "HTTP 403"),
        (404, {"errors": "Not Found"}, NotFound, "HTTP 404"),
        (400, {"errors": {"query": "Required parameter missing or invalid"}}, Rejected, "HTTP 400"),
        (422, {"errors": "Unprocessable Entity"}, Rejected, "HTTP 422"),
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
    # The answer's text stays out of the error (it would reach timelines and logs).
    assert str(caught.value).endswith("no error code")
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
    assert str(caught.value) == f"shopify query: {code} (1 error(s))"
    assert type(caught.value) is error


def test_validation_error_without_code_is_rejected_without_its_message(
    mocked: responses.RequestsMock, fake_time: FakeTime
) -> None:
    mocked.post(URL, json={"errors": [{"message": "Field 'nope' doesn't exist on type 'QueryRoot'"}]})
    with pytest.raises(Rejected, match="error without a code") as caught:
        client(fake_time).query("{ nope }")
    assert "doesn't exist" not in str(caught.value)


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
    with pytest.raises(Rejected, match=r"HTTP 400: shopify oauth access_token: invalid_request$") as caught:
        exchange_code(SHOP, "api-key", "api-secret", "used-code")
    assert "api-secret" not in str(caught.value)
    assert "already used" not in str(caught.value)


def test_exchange_code_unreachable_is_retryable(mocked: responses.RequestsMock) -> None:
    mocked.post(TOKEN_URL, body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(Retryable, match="ConnectTimeout"):
        exchange_code(SHOP, "api-key", "api-secret", "code")
    assert len(mocked.calls) == 1

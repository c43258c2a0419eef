"""WooClient against ``responses``: auth per scheme, query parameters sent once, pages, every error class."""

from __future__ import annotations

import base64
import json
import random
import re
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
import responses
from responses import matchers

from connectors.errors import AuthError, NotFound, Rejected
from connectors.woocommerce.client import WooClient, with_query
from core.errors import Retryable
from sandbox.woocommerce.auth import oauth_signature

CK = "ck_" + "a" * 40
CS = "cs_" + "b" * 40
HTTPS_API = "https://shop.example/wp-json/wc/v3"
HTTP_API = "http://shop.example/wp-json/wc/v3"


def https_client(**kwargs: Any) -> WooClient:
    return WooClient("https://shop.example/", CK, CS, **kwargs)


def http_client() -> WooClient:
    return WooClient("http://shop.example", CK, CS)


def any_query(base: str) -> re.Pattern[str]:
    return re.compile(re.escape(base) + r"(\?.*)?$")


# -- request shape


def test_https_uses_basic_auth_and_sends_each_parameter_once(mocked: responses.RequestsMock) -> None:
    mocked.get(any_query(f"{HTTPS_API}/orders"), json=[{"id": 1}])
    params = {"modified_after": "2026-11-01T00:00:00+00:00", "per_page": 100, "dates_are_gmt": True}
    assert https_client().get("orders", params) == [{"id": 1}]
    sent = mocked.calls[0].request
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(f"{CK}:{CS}".encode()).decode()
    assert urlsplit(sent.url).path == "/wp-json/wc/v3/orders"
    assert parse_qs(urlsplit(sent.url).query) == {
        "modified_after": ["2026-11-01T00:00:00+00:00"],
        "per_page": ["100"],
        "dates_are_gmt": ["true"],
    }
    assert sent.req_kwargs["timeout"] == 10.0


def test_verify_ssl_reaches_requests(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{HTTPS_API}/system_status", json={})
    https_client(verify_ssl=False).get("system_status")
    assert mocked.calls[0].request.req_kwargs["verify"] is False


def test_http_signs_with_oauth_and_sends_each_parameter_once(mocked: responses.RequestsMock) -> None:
    mocked.get(any_query(f"{HTTP_API}/products"), json=[])
    http_client().get("products", {"sku": "A-1,B-2", "page": 2})
    sent = mocked.calls[0].request
    assert "Authorization" not in sent.headers
    pairs = parse_qsl(urlsplit(sent.url).query)
    names = [name for name, _ in pairs]
    assert sorted(names) == sorted(
        ["sku", "page", "oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature_method",
         "oauth_signature"]
    )  # fmt: skip
    params = dict(pairs)
    assert (params["sku"], params["page"], params["oauth_consumer_key"]) == ("A-1,B-2", "2", CK)
    # The signature WooCommerce computes over these parameters matches the one sent.
    expected = oauth_signature("GET", f"{HTTP_API}/products", params, CS, "sha256")
    assert params["oauth_signature"] == expected


def test_oauth_nonces_come_from_the_os_not_the_random_module(mocked: responses.RequestsMock) -> None:
    # The library's own nonce is 8 digits from `random`: the same seed gave the same nonce,
    # and 10^8 values repeat within WooCommerce's 15-minute window at a few thousand calls.
    mocked.get(any_query(f"{HTTP_API}/products"), json=[])
    client = http_client()
    for _ in range(2):
        random.seed(1)
        client.get("products")
    nonces = [dict(parse_qsl(urlsplit(c.request.url).query))["oauth_nonce"] for c in mocked.calls]
    assert nonces[0] != nonces[1]
    assert all(re.fullmatch(r"[0-9a-f]{40}", n) for n in nonces)


def test_query_already_in_the_path_is_kept_and_merged() -> None:
    assert with_query("orders?status=processing", {"page": 3}, signed_in_url=False) == (
        "orders?status=processing&page=3"
    )
    # Over http a trailing '&' absorbs the bare '?' the library appends before signing.
    assert with_query("orders", {"page": 3, "after": None}, signed_in_url=True) == "orders?page=3&"
    assert with_query("orders", None, signed_in_url=True) == "orders"


def test_post_put_delete_send_json_and_force(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{HTTPS_API}/webhooks", json={"id": 7}, status=201)
    mocked.put(f"{HTTPS_API}/webhooks/7", json={"id": 7, "status": "active"})
    mocked.delete(f"{HTTPS_API}/webhooks/7?force=true", json={"id": 7})
    woo = https_client()
    assert woo.post("webhooks", {"topic": "order.created", "name": "é"}) == {"id": 7}
    assert woo.put("webhooks/7", {"status": "active"}) == {"id": 7, "status": "active"}
    assert woo.delete("webhooks/7", force=True) == {"id": 7}
    assert json.loads(mocked.calls[0].request.body) == {"topic": "order.created", "name": "é"}
    assert [c.request.method for c in mocked.calls] == ["POST", "PUT", "DELETE"]
    assert mocked.calls[2].request.url == f"{HTTPS_API}/webhooks/7?force=true"


def test_get_page_reads_the_total_headers(mocked: responses.RequestsMock) -> None:
    headers = {"X-WP-Total": "250", "X-WP-TotalPages": "3"}
    mocked.get(any_query(f"{HTTPS_API}/products"), json=[{"id": 1}, {"id": 2}], headers=headers)
    assert https_client().get_page("products", {"page": 1}) == ([{"id": 1}, {"id": 2}], 250, 3)


def test_iterate_walks_every_page_at_one_hundred(mocked: responses.RequestsMock) -> None:
    headers = {"X-WP-Total": "5", "X-WP-TotalPages": "3"}
    for page, ids in ((1, [1, 2]), (2, [3, 4]), (3, [5])):
        query = matchers.query_string_matcher(f"status=any&per_page=100&page={page}")
        mocked.get(f"{HTTPS_API}/orders", json=[{"id": i} for i in ids], headers=headers, match=[query])
    assert [o["id"] for o in https_client().iterate("orders", {"status": "any"})] == [1, 2, 3, 4, 5]
    assert len(mocked.calls) == 3


def test_iterate_stops_on_an_empty_page(mocked: responses.RequestsMock) -> None:
    mocked.get(any_query(f"{HTTPS_API}/orders"), json=[], headers={"X-WP-Total": "0", "X-WP-TotalPages": "0"})
    assert list(https_client().iterate("orders")) == []
    assert len(mocked.calls) == 1


# -- errors


def wp_error(code: str, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status}}


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "woocommerce_rest_authentication_error", AuthError),
        (403, "woocommerce_rest_cannot_edit", AuthError),
        (404, "woocommerce_rest_product_invalid_id", NotFound),
        (400, "rest_invalid_param", Rejected),
        (413, "woocommerce_rest_request_entity_too_large", Rejected),
        (422, "woocommerce_rest_invalid_stock", Rejected),
        (500, "internal_server_error", Retryable),
        (503, "http_request_failed", Retryable),
    ],
)
def test_statuses_map_to_error_classes_with_the_wp_error(
    mocked: responses.RequestsMock, status: int, code: str, error: type
) -> None:
    mocked.put(f"{HTTPS_API}/products/9", json=wp_error(code, "Went wrong.", status), status=status)
    with pytest.raises(error) as caught:
        https_client().put("products/9", {"stock_quantity": 3})
    assert type(caught.value) is error
    # The WP_Error code only: its message is the store's text.
    assert str(caught.value) == f"HTTP {status}: woocommerce PUT products/9: {code}"


def test_429_carries_retry_after(mocked: responses.RequestsMock) -> None:
    body = wp_error("woocommerce_rest_too_many_requests", "Too many requests.", 429)
    mocked.get(f"{HTTPS_API}/orders", json=body, status=429, headers={"Retry-After": "7"})
    with pytest.raises(Retryable) as caught:
        https_client().get("orders")
    assert caught.value.wait_s == 7.0


@pytest.mark.parametrize("failure", [requests.ReadTimeout("slow"), requests.ConnectionError("refused")])
def test_transport_failures_are_retryable(mocked: responses.RequestsMock, failure: Exception) -> None:
    mocked.post(f"{HTTPS_API}/orders/5/notes", body=failure)
    with pytest.raises(Retryable, match=type(failure).__name__):
        https_client(timeout_s=3).post("orders/5/notes", {"note": "shipped"})
    assert mocked.calls[0].request.req_kwargs["timeout"] == 3


def test_html_answer_is_retryable_and_empty_answer_is_none(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{HTTPS_API}/system_status", body="<html>Briefly unavailable</html>", status=200)
    mocked.delete(f"{HTTPS_API}/webhooks/3", body="", status=204)
    with pytest.raises(Retryable, match="not JSON"):
        https_client().get("system_status")
    assert https_client().delete("webhooks/3") is None


def test_secrets_stay_out_of_errors_and_repr(mocked: responses.RequestsMock) -> None:
    mocked.get(
        any_query(f"{HTTP_API}/orders"), json=wp_error("woocommerce_rest_cannot_view", "No.", 401), status=401
    )
    woo = http_client()
    with pytest.raises(AuthError) as caught:
        woo.get("orders", {"page": 1})
    assert CK not in str(caught.value) and CS not in str(caught.value)
    assert CS not in repr(woo)

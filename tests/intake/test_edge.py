"""The receivers' WSGI edge in front of Flask: what Flask's hooks gave every request
(request ids, HTTP metrics, JSON logs without secrets) and its own answers."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

import webhooks.shopify
from db.models import StoreState
from telemetry import configure_logging
from tests.intake.test_receivers import APP_SECRET, add_store, inbox, shopify_post

SHOP = "acme.myshopify.com"


@pytest.fixture(autouse=True)
def secrets(config: dict[str, Any]) -> None:
    config["shopify"] = {"api_secret": APP_SECRET}


def http_count(endpoint: str, status: str, method: str = "POST") -> float:
    labels = {"method": method, "endpoint": endpoint, "status": status}
    return REGISTRY.get_sample_value("waybill_http_requests_total", labels) or 0.0


def webhook_count(outcome: str) -> float:
    labels = {"platform": "shopify", "outcome": outcome}
    return REGISTRY.get_sample_value("waybill_webhooks_total", labels) or 0.0


def test_requests_are_counted_under_the_receivers_endpoint_names(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", SHOP)
    ok, refused = http_count("webhooks.receive_shopify", "200"), http_count("webhooks.receive_shopify", "401")
    accepted, bad = webhook_count("accepted"), webhook_count("bad_signature")
    assert shopify_post(client, b"{}").status_code == 200
    assert shopify_post(client, b"{}", event_id="e2", secret="wrong").status_code == 401
    assert http_count("webhooks.receive_shopify", "200") == ok + 1
    assert http_count("webhooks.receive_shopify", "401") == refused + 1
    assert (webhook_count("accepted"), webhook_count("bad_signature")) == (accepted + 1, bad + 1)


def test_the_callers_request_id_is_answered_and_a_bad_one_replaced(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", SHOP)
    resp = shopify_post(client, b"{}", **{"X-Request-Id": "req-42"})
    assert resp.headers["X-Request-Id"] == "req-42"
    resp = shopify_post(client, b"{}", event_id="e2", **{"X-Request-Id": "x" * 65})
    fresh = resp.headers["X-Request-Id"]
    assert len(fresh) == 32 and int(fresh, 16) >= 0
    assert resp.headers["Content-Type"] == "application/json"
    assert json.loads(resp.data) == {"status": "accepted"}


def test_logs_carry_the_request_id_and_never_the_signature(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", SHOP, StoreState.uninstalled)
    stream = io.StringIO()
    configure_logging("INFO", stream)
    try:
        resp = shopify_post(client, b"{}", **{"X-Request-Id": "req-7"})
    finally:
        configure_logging("INFO")
    assert resp.status_code == 401
    [line] = [json.loads(raw) for raw in stream.getvalue().splitlines()]
    expected = ("webhook.refused", "uninstalled_store", "req-7")
    assert (line["event"], line["outcome"], line["request_id"]) == expected
    assert "Hmac" not in stream.getvalue() and APP_SECRET not in stream.getvalue()


def test_json_that_only_the_standard_parser_accepts_is_still_json(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", SHOP)
    body = b'{"total": NaN, "big": 1e400}'
    assert shopify_post(client, body).json == {"status": "accepted"}
    assert shopify_post(client, b'{"total": ', event_id="e2").status_code == 400
    assert [e.body for e in inbox(rt)] == [body]


def test_other_methods_and_paths(client: Any, rt: Any) -> None:
    resp = client.get("/webhooks/shopify")
    assert (resp.status_code, resp.headers["Allow"]) == (405, "POST")
    assert client.post("/webhooks/woocommerce/not-a-number", data=b"{}").status_code == 404
    assert client.post("/webhooks/shopify/extra", data=b"{}").status_code == 404
    assert client.get("/healthz").status_code == 200  # everything else is Flask's


def test_an_unexpected_error_answers_500_and_stores_nothing(
    client: Any, rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(webhooks.shopify, "find_store", broken)
    before = http_count("webhooks.receive_shopify", "500")
    resp = shopify_post(client, b"{}")
    assert (resp.status_code, resp.json) == (500, {"error": "internal error"})
    assert http_count("webhooks.receive_shopify", "500") == before + 1
    assert inbox(rt) == []

"""OAuth install flow, with the callback HMAC checked independently of the simulator."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

from werkzeug.test import Client

from sandbox.shopify import ShopifySimulator
from tests.sandbox.shopify.support import API_KEY, ENDPOINT, SECRET, SHOP, TOKEN

REDIRECT = "https://waybill.example/auth/shopify/callback"


def _authorize(client: Client) -> dict[str, str]:
    resp = client.get(
        "/admin/oauth/authorize",
        query_string={
            "client_id": API_KEY,
            "scope": "read_orders,write_inventory",
            "redirect_uri": REDIRECT,
            "state": "nonce-123",
            "shop": SHOP,
        },
    )
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return dict(parse_qsl(location.query))


def test_callback_is_signed_as_shopify_signs_it(sim: ShopifySimulator) -> None:
    params = _authorize(Client(sim))
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert (params["shop"], params["state"], params["timestamp"]) == (SHOP, "nonce-123", "1800000000")
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    expected = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(params["hmac"], expected)


def test_code_exchanges_once_for_a_working_token(sim: ShopifySimulator) -> None:
    client = Client(sim)
    code = _authorize(client)["code"]
    form = {"client_id": API_KEY, "client_secret": SECRET, "code": code}
    resp = client.post("/admin/oauth/access_token", data=form)
    assert resp.status_code == 200
    assert resp.json == {"access_token": TOKEN, "scope": "read_orders,write_inventory"}
    replay = client.post("/admin/oauth/access_token", json=form)
    assert replay.status_code == 400
    assert replay.json["error"] == "invalid_request"
    works = client.post(
        ENDPOINT, json={"query": "{ shop { name } }"}, headers={"X-Shopify-Access-Token": TOKEN}
    )
    assert works.json["data"] == {"shop": {"name": "Demo"}}


def test_wrong_secret_is_refused_and_keeps_the_code(sim: ShopifySimulator) -> None:
    client = Client(sim)
    code = _authorize(client)["code"]
    wrong = client.post(
        "/admin/oauth/access_token", json={"client_id": API_KEY, "client_secret": "nope", "code": code}
    )
    assert wrong.status_code == 400
    assert wrong.json["error"] == "invalid_client"
    right = client.post(
        "/admin/oauth/access_token", json={"client_id": API_KEY, "client_secret": SECRET, "code": code}
    )
    assert right.status_code == 200


def test_reinstall_after_uninstall_issues_a_new_token(sim: ShopifySimulator) -> None:
    client = Client(sim)
    sim.uninstall_app(SHOP)
    gone = client.post(
        ENDPOINT, json={"query": "{ shop { name } }"}, headers={"X-Shopify-Access-Token": TOKEN}
    )
    assert gone.status_code == 401
    code = _authorize(client)["code"]
    resp = client.post(
        "/admin/oauth/access_token", json={"client_id": API_KEY, "client_secret": SECRET, "code": code}
    )
    token = resp.json["access_token"]
    assert token.startswith("shpat_") and token != TOKEN
    again = client.post(
        ENDPOINT, json={"query": "{ shop { name } }"}, headers={"X-Shopify-Access-Token": token}
    )
    assert again.status_code == 200

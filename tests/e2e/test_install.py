"""Both install flows against the sandbox, from the first redirect to registered webhooks.

Forged Shopify callbacks and WooCommerce key posts are refused and store nothing; store
URLs that could reach internal addresses are refused outside sandbox mode; the CLI
connects stores and shows their webhook health; a shop that is down while installing is
saved and repaired by reconciliation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from connectors.shopify.storefront_orders import SUBSCRIPTION_TOPICS as SHOPIFY_TOPICS
from db.models import Account, InboxEvent, Platform, StoreState
from db.timeline import entries
from sandbox.harness import Faults, RunningServer
from sandbox.woocommerce import WooCommerceSimulator
from sync.reconcile import reconcile_store
from tests.e2e.conftest import (
    APP_KEY,
    APP_SECRET,
    HTTP_TIMEOUT_S,
    OTHER_SHOP,
    SHOP,
    ShopifySandbox,
    csrf_token,
    install_shopify,
    install_woocommerce,
    sign_in,
    stores,
)

WOO_TOPICS = ["order.created", "order.deleted", "order.updated", "product.updated"]
# Plain http, loopback, private, link-local (cloud metadata) and IPv6 loopback.
INSIDE_URLS = (
    "http://shop.example.com",
    "https://127.0.0.1",
    "https://10.0.0.1",
    "https://169.254.169.254",
    "https://localhost",
    "https://[::1]",
)


# --------------------------------------------------------------------------- helpers


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def start(browser: requests.Session, public_url: str, shop: str = SHOP) -> dict[str, str]:
    """Start an install and let the simulator approve it; the callback's parameters, not yet sent."""
    begin = browser.get(
        f"{public_url}/install/shopify", params={"shop": shop}, allow_redirects=False, timeout=HTTP_TIMEOUT_S
    )
    assert begin.status_code == 302, begin.text
    grant = browser.get(begin.headers["Location"], allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    assert grant.status_code == 302, grant.text
    return query(grant.headers["Location"])


def callback(browser: requests.Session, public_url: str, params: dict[str, str]) -> requests.Response:
    return browser.get(
        f"{public_url}/install/shopify/callback", params=params, allow_redirects=False, timeout=HTTP_TIMEOUT_S
    )


def signed(params: dict[str, str], **changes: str) -> dict[str, str]:
    """``params`` with ``changes``, signed as Shopify signs a callback (so only the other checks apply)."""
    out = {k: v for k, v in {**params, **changes}.items() if k != "hmac"}
    message = "&".join(f"{k}={out[k]}" for k in sorted(out))
    out["hmac"] = hmac.new(APP_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return out


def subscriptions(shopify: ShopifySandbox, shop: str = SHOP) -> list[tuple[str, str]]:
    return sorted((s.topic, s.uri) for s in shopify.shop(shop).subscriptions.values())


def expected_subscriptions(public_url: str) -> list[tuple[str, str]]:
    return sorted((topic, f"{public_url}/webhooks/shopify") for topic in SHOPIFY_TOPICS)


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def shops_json(app: Flask) -> list[dict[str, Any]]:
    result = cli(app, "shops", "list", "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


# --------------------------------------------------------------------------- Shopify


def test_shopify_install_runs_from_the_first_redirect_to_registered_webhooks(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    page = install_shopify(browser, public_url)

    assert page.status_code == 200
    assert f"{SHOP} is connected and its webhooks are registered." in page.text
    authorize = page.history[0].headers["Location"]
    assert authorize.startswith(f"{rt.settings.shopify.base_url}/admin/oauth/authorize?")
    asked = query(authorize)
    assert (asked["client_id"], asked["scope"], asked["shop"]) == (APP_KEY, rt.settings.shopify.scopes, SHOP)
    assert asked["redirect_uri"] == f"{public_url}/install/shopify/callback"
    (store,) = stores(rt)
    token = shopify.shop(SHOP).token
    assert (store.platform, store.domain, store.state) == (Platform.shopify, SHOP, StoreState.active)
    assert store.credentials is not None and token.encode() not in store.credentials
    assert rt.vault.decrypt_json(store.credentials) == {"access_token": token}
    assert store.scopes == rt.settings.shopify.scopes
    assert subscriptions(shopify) == expected_subscriptions(public_url)
    assert store.settings["webhooks"]["ok"] is True


def test_reinstalling_keeps_one_store_and_one_subscription_per_topic(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    assert install_shopify(browser, public_url).status_code == 200
    (first,) = stores(rt)
    again = install_shopify(browser, public_url)

    assert again.status_code == 200
    assert f"{SHOP} is connected and its webhooks are registered." in again.text
    (store,) = stores(rt)
    assert (store.id, store.account_id) == (first.id, first.account_id)
    assert rt.vault.decrypt_json(store.credentials) == {"access_token": shopify.shop(SHOP).token}
    assert subscriptions(shopify) == expected_subscriptions(public_url)
    assert shopify.calls["oauth.access_token"] == 2
    assert shopify.calls["webhookSubscriptionCreate"] == len(SHOPIFY_TOPICS)  # none asked for twice


@pytest.mark.parametrize("signed_in_first", [True, False], ids=["sign-in-first", "sign-in-between"])
def test_a_signed_in_merchant_gets_both_stores_in_one_account(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    browser: requests.Session,
    public_url: str,
    signed_in_first: bool,
) -> None:
    if signed_in_first:
        account_id = sign_in(browser, public_url, rt, "North Wind Trading")
    assert install_shopify(browser, public_url).status_code == 200
    if not signed_in_first:  # the install made an account named after the shop; the merchant signs in to it
        account_id = sign_in(browser, public_url, rt, SHOP)
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200

    shop_store, woo_store = stores(rt)
    assert (shop_store.platform, woo_store.platform) == (Platform.shopify, Platform.woocommerce)
    assert shop_store.account_id == woo_store.account_id == account_id
    with rt.session() as s:
        assert s.scalar(select(func.count(Account.id))) == 1
    listed = browser.get(f"{public_url}/app/stores", timeout=HTTP_TIMEOUT_S)  # the console's Stores page
    assert SHOP in listed.text and woo_url in listed.text


def test_callback_with_a_bad_hmac_is_refused(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    params = start(browser, public_url)
    page = callback(browser, public_url, {**params, "hmac": "0" * 64})
    assert (page.status_code, stores(rt), shopify.calls["oauth.access_token"]) == (401, [], 0)


def test_callback_in_another_browser_or_without_the_cookie_is_refused(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    params = start(browser, public_url)
    with requests.Session() as other, requests.Session() as cookieless:
        start(other, public_url)  # another merchant's own pending install
        assert callback(other, public_url, params).status_code == 400
        assert callback(cookieless, public_url, params).status_code == 400
    assert (stores(rt), shopify.calls["oauth.access_token"]) == ([], 0)


def test_callback_for_another_shop_than_started_is_refused_even_when_signed(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    started = start(browser, public_url, SHOP)
    with requests.Session() as attacker:
        foreign = start(attacker, public_url, OTHER_SHOP)  # a real, unused code for the other shop
    page = callback(browser, public_url, signed(foreign, state=started["state"]))
    assert page.status_code == 400
    assert "does not match" in page.text
    assert (stores(rt), shopify.calls["oauth.access_token"]) == ([], 0)


def test_callback_with_a_stale_timestamp_is_refused(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    shopify.fake_clock.advance(-700)  # the shop signed this callback over eleven minutes ago
    params = start(browser, public_url)
    assert int(params["timestamp"]) < time.time() - 600
    page = callback(browser, public_url, params)
    assert (page.status_code, stores(rt), shopify.calls["oauth.access_token"]) == (400, [], 0)


def test_a_replayed_code_is_refused_and_changes_nothing(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    used = start(browser, public_url)
    assert callback(browser, public_url, used).status_code == 200
    (before,) = stores(rt)
    fresh = start(browser, public_url)  # a new install is pending, with its own state

    page = callback(browser, public_url, signed(used, state=fresh["state"], timestamp=str(int(time.time()))))

    assert page.status_code == 400
    assert "refused the authorization code" in page.text
    assert shopify.calls["oauth.access_token"] == 2  # Waybill tried; the shop refused the used code
    (after,) = stores(rt)
    assert (after.credentials, after.installed_at) == (before.credentials, before.installed_at)
    with rt.session() as s:
        installs = [
            e for e in entries(s, after.account_id, f"store:{after.id}") if e.action == "store.installed"
        ]
    assert len(installs) == 1


def test_install_refuses_what_is_not_a_shop_domain(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    for shop in ("evil.com", "a.myshopify.com.evil.com", "", "-a.myshopify.com", "a.myshopify.com/x"):
        page = browser.get(
            f"{public_url}/install/shopify",
            params={"shop": shop},
            allow_redirects=False,
            timeout=HTTP_TIMEOUT_S,
        )
        assert (page.status_code, page.headers.get("Location")) == (400, None), shop
    assert (stores(rt), shopify.calls["oauth.authorize"]) == ([], 0)


def test_install_while_the_shop_is_down_saves_the_store_and_reconciliation_repairs_it(
    app: Flask, rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    def go_down() -> None:
        shopify.faults = Faults(error_rate=1.0)

    shopify.on_token_granted = go_down
    page = install_shopify(browser, public_url)

    assert page.status_code == 200
    assert "Registering webhooks failed" in page.text and "HTTP 503" in page.text
    (store,) = stores(rt)
    assert store.state is StoreState.active
    assert rt.vault.decrypt_json(store.credentials) == {"access_token": shopify.shop(SHOP).token}
    assert subscriptions(shopify) == []
    (listed,) = shops_json(app)
    assert (listed["id"], listed["webhooks_ok"]) == (store.id, False)
    assert "HTTP 503" in listed["webhooks_error"]

    shopify.faults = Faults()
    result = reconcile_store(rt, store.id)

    assert (result["webhooks_repaired"], result["webhook_error"]) == (list(SHOPIFY_TOPICS), None)
    assert subscriptions(shopify) == expected_subscriptions(public_url)
    (listed,) = shops_json(app)
    assert (listed["webhooks_ok"], listed["webhooks_error"]) == (True, None)
    with rt.session() as s:
        timeline = [(e.action, e.reason) for e in entries(s, store.account_id, f"store:{store.id}")]
    assert [a for a, _ in timeline] == ["store.installed", "webhooks.failed", "webhooks.repaired"]
    assert timeline[-1][1] == ", ".join(SHOPIFY_TOPICS)


# --------------------------------------------------------------------------- WooCommerce


def test_woocommerce_install_registers_four_signed_webhooks_and_answers_the_ping(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    sign_in(browser, public_url, rt, "North Wind Trading")
    page = install_woocommerce(browser, public_url, woo_url)

    assert page.status_code == 200
    assert f"{woo_url} is connected and its webhooks are registered." in page.text
    # Waybill listens on loopback here, where a stock WordPress sends nothing: the page says so.
    assert (
        f"Webhooks will not arrive: host {urlsplit(public_url).hostname} is loopback or private" in page.text
    )
    assert [urlsplit(r.headers["Location"]).path for r in page.history] == [
        "/wc-auth/v1/authorize",
        "/install/woocommerce/return",
    ]
    (store,) = stores(rt)
    assert (store.platform, store.domain, store.state) == (Platform.woocommerce, woo_url, StoreState.active)
    (key,) = woo.keys.keys.values()  # the store keeps a key only when the callback answered 200
    assert key.consumer_secret.encode() not in (store.credentials or b"")
    creds = rt.vault.decrypt_json(store.credentials)
    assert creds == {"consumer_key": key.consumer_key, "consumer_secret": key.consumer_secret}
    secret = rt.vault.decrypt(store.webhook_secret)
    hooks = [woo.webhook(int(i)) for i in woo.snapshot()["webhooks"]]
    assert sorted(h["topic"] for h in hooks) == WOO_TOPICS
    assert {(h["delivery_url"], h["secret"], h["status"]) for h in hooks} == {
        (f"{public_url}/webhooks/woocommerce/{store.id}", secret, "active")
    }
    assert len(secret) >= 32

    pings = woo.deliver_webhooks()

    assert [(d.topic, d.status) for d in pings] == [("ping", 200)] * 4
    with rt.session() as s:
        assert s.scalar(select(func.count(InboxEvent.id))) == 0


def _woo_begin(browser: requests.Session, public_url: str, woo_url: str) -> requests.Response:
    """The signed-in merchant confirms the install; Waybill's redirect to the store's key request."""
    confirm = browser.get(
        f"{public_url}/install/woocommerce", params={"store_url": woo_url}, timeout=HTTP_TIMEOUT_S
    )
    begin = browser.post(
        f"{public_url}/install/woocommerce",
        data={"store_url": woo_url, "csrf_token": csrf_token(confirm)},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    assert begin.status_code == 302, begin.text
    return begin


def _woo_install_token(browser: requests.Session, public_url: str, woo_url: str) -> str:
    return query(_woo_begin(browser, public_url, woo_url).headers["Location"])["user_id"]


def _post_keys(public_url: str, user_id: str, ck: str, cs: str) -> requests.Response:
    body = {"key_id": 1, "user_id": user_id, "consumer_key": ck, "consumer_secret": cs}
    return requests.post(
        f"{public_url}/install/woocommerce/callback",
        json={**body, "key_permissions": "read_write"},
        timeout=HTTP_TIMEOUT_S,
    )


def test_forged_key_posts_are_refused_and_store_nothing(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    ck, cs = woo.create_key("read_write")
    sign_in(browser, public_url, rt, "North Wind Trading")
    genuine = _woo_install_token(browser, public_url, woo_url)
    garbled = genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB")
    unsigned = json.dumps({"url": woo_url, "account": None})

    assert _post_keys(public_url, unsigned, ck, cs).status_code == 403
    assert _post_keys(public_url, garbled, ck, cs).status_code == 403
    assert _post_keys(public_url, genuine, "ck_" + "0" * 40, "cs_" + "0" * 40).status_code == 403
    assert stores(rt) == []


@pytest.fixture
def strict_app(app: Flask, config: dict[str, Any], waybill_server: RunningServer) -> Iterator[Flask]:
    """A second app on the same database, outside sandbox mode, served at ``public_url`` instead."""
    from app import create_app

    strict = create_app({**config, "sandbox": False})
    waybill_server.app.target = strict
    yield strict
    waybill_server.app.target = app
    strict.extensions["waybill"].close()


def test_store_urls_that_could_reach_inside_are_refused_outside_sandbox_mode(
    strict_app: Flask, rt: Any
) -> None:
    client = strict_app.test_client()
    for url in INSIDE_URLS:
        page = client.get("/install/woocommerce", query_string={"store_url": url})
        assert (page.status_code, page.headers.get("Location")) == (400, None), url
        added = cli(strict_app, "shops", "add-woocommerce", "--url", url, "--key", "ck_1", "--secret", "cs_1")
        assert added.exit_code == 1, url
    assert stores(rt) == []


def test_a_public_ipv6_store_url_keeps_its_brackets(
    strict_app: Flask, rt: Any, browser: requests.Session, public_url: str
) -> None:
    url = "https://[2606:4700:4700::1111]:8443/shop"
    sign_in(browser, public_url, rt, "North Wind Trading")
    page = _woo_begin(browser, public_url, url)
    assert page.headers["Location"].startswith(f"{url}/wc-auth/v1/authorize?")


def test_the_confirm_page_says_when_a_store_will_refuse_the_http_callback(
    strict_app: Flask, rt: Any, browser: requests.Session, public_url: str
) -> None:
    sign_in(browser, public_url, rt, "North Wind Trading")
    confirm = browser.get(
        f"{public_url}/install/woocommerce",
        params={"store_url": "https://[2606:4700:4700::1111]/shop"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert confirm.status_code == 200
    assert f"This Waybill&#39;s public URL ({public_url}) is not https" in confirm.text


def test_cli_connects_both_stores_into_one_account_and_lists_their_webhook_health(
    app: Flask, rt: Any, shopify: ShopifySandbox, woo: WooCommerceSimulator, woo_url: str, public_url: str
) -> None:
    ck, cs = woo.create_key("read_write")
    token = shopify.shop(SHOP).token
    woo_added = cli(
        app, "shops", "add-woocommerce", "--url", woo_url, "--key", ck, "--secret", cs, "--account", "acme"
    )
    shop_added = cli(app, "shops", "add-shopify", "--shop", SHOP, "--token", token, "--account", "acme")
    refused = cli(app, "shops", "add-shopify", "--shop", "evil.com", "--token", token)

    assert woo_added.exit_code == 0 and shop_added.exit_code == 0, woo_added.output + shop_added.output
    assert woo_added.stdout.splitlines() == [
        f"store 1 woocommerce {woo_url} connected",
        "webhooks registered: order.created, order.updated, order.deleted, product.updated",
    ]
    # The tests' Waybill listens on loopback: a stock WordPress would never deliver there.
    host = urlsplit(public_url).hostname
    assert woo_added.stderr.splitlines() == [
        f"warning: webhooks to {public_url}: host {host} is loopback or private: a stock WordPress "
        "does not deliver webhooks there; use a public host name"
    ]
    assert shop_added.output.splitlines() == [
        f"store 2 shopify {SHOP} connected",
        f"webhooks registered: {', '.join(SHOPIFY_TOPICS)}",
    ]
    assert refused.exit_code == 1 and "name.myshopify.com" in refused.output
    assert subscriptions(shopify) == expected_subscriptions(public_url)
    assert sorted(h["topic"] for h in woo.snapshot()["webhooks"].values()) == WOO_TOPICS
    assert [(r["account"], r["platform"], r["webhooks_ok"]) for r in shops_json(app)] == [
        ("acme", "woocommerce", True),
        ("acme", "shopify", True),
    ]
    listing = cli(app, "shops", "list").output.splitlines()
    assert [line.split()[1] for line in listing] == ["woocommerce", "shopify"]
    assert all(line.endswith("webhooks ok") for line in listing)

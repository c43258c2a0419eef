"""Attacks on the browser-facing side, reproduced against the served app and refused.

- Install ownership: an install link opened by a signed-in victim attaches nothing; a
  forged confirm POST (no CSRF token, or from another site) is refused; install state
  copied to another browser is refused at the Shopify callback and the WooCommerce
  return; a store owned by another account is refused at the confirm and at completion;
  a shop installed from Shopify gets its own account whatever stale cookie the browser
  holds; a non-ASCII ``state`` is a 400.
- Login CSRF: a login POST without the session's CSRF token is refused.
- Sessions: a replayed cookie is refused after sign-out, after its token is revoked (CLI
  and API) and after the idle or absolute lifetime.
- Headers: CSP (frame-ancestors), nosniff, HSTS only under https.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select, update

from db.models import Account, ApiToken, ConsoleSession, PendingInstall
from sandbox.woocommerce import WooCommerceSimulator
from tests.e2e.conftest import (
    APP_SECRET,
    HTTP_TIMEOUT_S,
    OTHER_SHOP,
    SHOP,
    ShopifySandbox,
    connect_shopify,
    csrf_token,
    install_shopify,
    install_woocommerce,
    new_token,
    sign_in,
    signed_in,
    stores,
)
from tests.e2e.test_install import callback, query, signed, start

EVIL = "https://evil.example"


def confirm_page(browser: requests.Session, public_url: str, store_url: str) -> requests.Response:
    return browser.get(
        f"{public_url}/install/woocommerce",
        params={"store_url": store_url},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )


def begin_woo(browser: requests.Session, public_url: str, store_url: str) -> str:
    """Confirm the install; the store's key-request URL Waybill sends the browser to."""
    confirm = confirm_page(browser, public_url, store_url)
    assert confirm.status_code == 200, confirm.text
    begin = browser.post(
        f"{public_url}/install/woocommerce",
        data={"store_url": store_url, "csrf_token": csrf_token(confirm)},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    assert begin.status_code == 302, begin.text
    return str(begin.headers["Location"])


def approve(browser: requests.Session, authorize_url: str) -> str:
    """The store approves the key request (its server posts the keys); returns where it sends the browser."""
    answer = browser.get(authorize_url, allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])


def cookie_jar(browser: requests.Session) -> dict[str, str]:
    return {c.name: c.value for c in browser.cookies if c.value is not None}


# --------------------------------------------------------------------------- install ownership


def test_a_signed_in_victim_opening_an_install_link_attaches_nothing(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    victim = sign_in(browser, public_url, rt, "Victim Goods")
    link = browser.get(
        f"{public_url}/install/woocommerce", params={"store_url": woo_url}, timeout=HTTP_TIMEOUT_S
    )

    assert link.status_code == 200 and not link.history  # a confirm page, no redirect to the store
    assert woo_url in link.text and "Victim Goods" in link.text and "csrf_token" in link.text
    assert woo.calls["wc-auth.authorize"] == 0

    # The attacker's page POSTs the confirm form itself: no token, or the right form from another site.
    forged = browser.post(
        f"{public_url}/install/woocommerce",
        data={"store_url": woo_url},
        headers={"Origin": EVIL},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    tokenless = browser.post(
        f"{public_url}/install/woocommerce",
        data={"store_url": woo_url},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    cross_site = browser.post(
        f"{public_url}/install/woocommerce",
        data={"store_url": woo_url, "csrf_token": csrf_token(link)},
        headers={"Referer": f"{EVIL}/page"},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )

    assert (forged.status_code, tokenless.status_code, cross_site.status_code) == (403, 400, 403)
    assert "Location" not in forged.headers and "Location" not in tokenless.headers
    assert stores(rt) == [] and woo.calls["wc-auth.authorize"] == 0 and not woo.keys.keys
    with rt.session() as s:
        assert s.scalar(select(Account.id).where(Account.id != victim)) is None


def test_a_forged_shopify_connect_post_is_refused(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    sign_in(browser, public_url, rt, "Victim Goods")
    forged = browser.post(
        f"{public_url}/install/shopify",
        data={"shop": OTHER_SHOP},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    assert (forged.status_code, forged.headers.get("Location")) == (400, None)
    assert (stores(rt), shopify.calls["oauth.authorize"]) == ([], 0)


def test_install_link_without_a_session_asks_to_sign_in_and_comes_back(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    first = confirm_page(browser, public_url, woo_url)
    assert first.status_code == 302 and "/login?next=" in first.headers["Location"]
    token, _ = new_token(rt, "North Wind Trading")
    login = browser.get(urljoin(public_url, first.headers["Location"]), timeout=HTTP_TIMEOUT_S)
    back = query(first.headers["Location"])["next"]
    assert f'name="next" value="{back}"' in login.text.replace("&amp;", "&")
    confirm = browser.post(
        f"{public_url}/login",
        data={"token": token, "csrf_token": csrf_token(login), "next": back},
        timeout=HTTP_TIMEOUT_S,
    )
    assert confirm.status_code == 200 and urlsplit(confirm.url).path == "/install/woocommerce"
    assert f"Connect the WooCommerce store <strong>{woo_url}</strong>" in confirm.text
    assert stores(rt) == [] and woo.calls["wc-auth.authorize"] == 0
    with requests.Session() as other:
        login = other.get(f"{public_url}/login", timeout=HTTP_TIMEOUT_S)
        for offsite in ("//evil.example/x", "/\t/evil.example", "/\\evil.example", "https://evil.example/"):
            login = other.get(f"{public_url}/login", timeout=HTTP_TIMEOUT_S)
            answer = other.post(
                f"{public_url}/login",
                data={"token": token, "csrf_token": csrf_token(login), "next": offsite},
                allow_redirects=False,
                timeout=HTTP_TIMEOUT_S,
            )
            assert answer.headers["Location"] == "/", offsite  # only paths on this site


def test_a_woocommerce_install_token_copied_to_another_browser_is_refused(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    merchant = sign_in(browser, public_url, rt, "North Wind Trading")
    authorize = begin_woo(browser, public_url, woo_url)
    with requests.Session() as other:
        sign_in(other, public_url, rt, "Attacker Ltd")
        back = approve(other, authorize)  # the store posts the keys; the other browser comes back
        refused = other.get(back, timeout=HTTP_TIMEOUT_S)
        with requests.Session() as cookieless:
            also_refused = cookieless.get(back, allow_redirects=False, timeout=HTTP_TIMEOUT_S)

    assert refused.status_code == 400 and "not started from this browser" in refused.text
    assert also_refused.status_code == 400
    assert stores(rt) == []  # the keys arrived but joined no account
    with rt.session() as s:
        assert s.scalar(select(PendingInstall.account_id)) == merchant

    done = browser.get(back, timeout=HTTP_TIMEOUT_S)  # the browser that started it completes it
    assert done.status_code == 200 and f"{woo_url} is connected" in done.text
    (store,) = stores(rt)
    assert store.account_id == merchant
    with rt.session() as s:
        assert s.scalar(select(PendingInstall.id)) is None


def test_a_shopify_install_state_copied_to_another_browser_is_refused(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    sign_in(browser, public_url, rt, "North Wind Trading")
    home = browser.get(f"{public_url}/", timeout=HTTP_TIMEOUT_S)
    begin = browser.post(
        f"{public_url}/install/shopify",
        data={"shop": SHOP, "csrf_token": csrf_token(home)},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    assert begin.status_code == 302, begin.text
    grant = browser.get(begin.headers["Location"], allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    params = query(grant.headers["Location"])
    with requests.Session() as other:
        sign_in(other, public_url, rt, "Attacker Ltd")
        page = callback(other, public_url, params)
    assert page.status_code == 400 and "not started from this browser" in page.text
    assert (stores(rt), shopify.calls["oauth.access_token"]) == ([], 0)


def test_a_non_ascii_state_is_a_400_not_a_server_error(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    params = start(browser, public_url)  # an install is pending in this browser
    page = callback(browser, public_url, signed(params, state="\u00e9t\u00e9-\u2603"))
    assert page.status_code == 400 and "not started from this browser" in page.text
    assert (stores(rt), shopify.calls["oauth.access_token"]) == ([], 0)


def test_a_store_owned_by_another_account_is_refused_at_confirm_and_at_completion(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    browser: requests.Session,
    public_url: str,
) -> None:
    with requests.Session() as owner_browser:
        owner = sign_in(owner_browser, public_url, rt, "Owner Co")
        # B starts first, while the store is still free; the owner connects it meanwhile.
        sign_in(browser, public_url, rt, "Bystander Inc")
        late = begin_woo(browser, public_url, woo_url)
        assert install_woocommerce(owner_browser, public_url, woo_url).status_code == 200
        assert install_shopify(owner_browser, public_url, SHOP).status_code == 200
    (shop_before, woo_before) = stores(rt)
    assert shop_before.account_id == woo_before.account_id == owner

    at_confirm = confirm_page(browser, public_url, woo_url)
    shop_confirm = connect_shopify(browser, public_url, SHOP)
    assert at_confirm.status_code == 409 and "already connected to another Waybill account" in at_confirm.text
    assert (
        shop_confirm.status_code == 409
        and "already connected to another Waybill account" in shop_confirm.text
    )

    completion = browser.get(late, timeout=HTTP_TIMEOUT_S)  # the store's server gets a refusal
    assert completion.status_code != 200 or "connected" not in completion.text
    assert [(s.id, s.account_id, s.credentials) for s in stores(rt)] == [
        (shop_before.id, owner, shop_before.credentials),
        (woo_before.id, owner, woo_before.credentials),
    ]
    assert len(woo.keys.keys) == 1  # the refused key was deleted by the store


def test_a_shopify_install_without_a_session_gets_its_own_account_despite_a_stale_cookie(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    stale = sign_in(browser, public_url, rt, "Stale Session Co")
    page = browser.get(f"{public_url}/install/shopify", params={"shop": OTHER_SHOP}, timeout=HTTP_TIMEOUT_S)

    assert page.status_code == 200 and f"{OTHER_SHOP} is connected" in page.text
    (store,) = stores(rt)
    assert store.account_id != stale
    with rt.session() as s:
        account = s.get(Account, store.account_id)
        assert account is not None and account.name == OTHER_SHOP
    again = browser.get(f"{public_url}/install/shopify", params={"shop": OTHER_SHOP}, timeout=HTTP_TIMEOUT_S)
    assert again.status_code == 200
    assert [(s.id, s.account_id) for s in stores(rt)] == [
        (store.id, store.account_id)
    ]  # re-install: its owner


# --------------------------------------------------------------------------- login CSRF


def test_a_login_post_without_the_sessions_csrf_token_is_refused(
    rt: Any, browser: requests.Session, public_url: str
) -> None:
    attacker_token, _ = new_token(rt, "Attacker Ltd")
    with requests.Session() as attacker:
        their_form = csrf_token(attacker.get(f"{public_url}/login", timeout=HTTP_TIMEOUT_S))

    bare = browser.post(
        f"{public_url}/login", data={"token": attacker_token}, allow_redirects=False, timeout=HTTP_TIMEOUT_S
    )
    foreign = browser.post(
        f"{public_url}/login",
        data={"token": attacker_token, "csrf_token": their_form},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    assert (bare.status_code, foreign.status_code) == (400, 400)
    assert not signed_in(browser, public_url)
    with rt.session() as s:
        assert s.scalar(select(ConsoleSession.id)) is None


# --------------------------------------------------------------------------- sessions


def replay(public_url: str, cookies: dict[str, str]) -> requests.Response:
    with requests.Session() as copy:
        copy.cookies.update(cookies)
        return copy.get(f"{public_url}/", allow_redirects=False, timeout=HTTP_TIMEOUT_S)


def test_a_session_cookie_replayed_after_sign_out_is_refused(
    rt: Any, browser: requests.Session, public_url: str
) -> None:
    sign_in(browser, public_url, rt, "North Wind Trading")
    home = browser.get(f"{public_url}/", timeout=HTTP_TIMEOUT_S)
    saved = cookie_jar(browser)
    assert replay(public_url, saved).status_code == 200

    assert browser.get(f"{public_url}/logout", timeout=HTTP_TIMEOUT_S).status_code == 405  # a POST now
    out = browser.post(f"{public_url}/logout", data={"csrf_token": csrf_token(home)}, timeout=HTTP_TIMEOUT_S)

    assert out.status_code == 200 and out.url.endswith("/login")
    again = replay(public_url, saved)
    assert again.status_code == 302 and again.headers["Location"].endswith("/login")


def test_a_session_ends_when_its_token_is_revoked_by_cli_or_api(
    app: Flask, rt: Any, browser: requests.Session, public_url: str
) -> None:
    sign_in(browser, public_url, rt, "North Wind Trading")
    by_cli = cookie_jar(browser)
    with requests.Session() as second:
        token, _ = new_token(rt, "North Wind Trading")
        login = second.get(f"{public_url}/login", timeout=HTTP_TIMEOUT_S)
        second.post(
            f"{public_url}/login",
            data={"token": token, "csrf_token": csrf_token(login)},
            timeout=HTTP_TIMEOUT_S,
        )
        by_api = cookie_jar(second)
    with rt.session() as s:
        first_row, second_row = s.scalars(select(ApiToken).order_by(ApiToken.id))
        first_prefix, second_id = first_row.prefix, second_row.id
    assert replay(public_url, by_cli).status_code == replay(public_url, by_api).status_code == 200

    revoked = app.test_cli_runner().invoke(args=["accounts", "revoke", first_prefix])
    assert revoked.exit_code == 0, revoked.output
    assert f"token {first_row.id} {first_prefix}... of account North Wind Trading revoked" in revoked.output
    assert replay(public_url, by_cli).status_code == 302
    assert replay(public_url, by_api).status_code == 200

    api = requests.post(
        f"{public_url}/api/v1/tokens/{second_id}/revoke",
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert api.status_code == 200 and api.json()["revoked_at"] is not None
    assert replay(public_url, by_api).status_code == 302
    after = requests.get(
        f"{public_url}/api/v1/account", headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT_S
    )
    assert after.status_code == 401
    unknown = app.test_cli_runner().invoke(args=["accounts", "revoke", "wb_nothere"])
    assert unknown.exit_code == 1 and "no token matches" in unknown.output


def test_the_api_revokes_only_the_callers_own_tokens(rt: Any, public_url: str) -> None:
    mine, _ = new_token(rt, "North Wind Trading")
    theirs, _ = new_token(rt, "Other Co")
    with rt.session() as s:
        my_id, their_id = s.scalars(select(ApiToken.id).order_by(ApiToken.id))

    def revoke(token_id: int) -> requests.Response:
        return requests.post(
            f"{public_url}/api/v1/tokens/{token_id}/revoke",
            headers={"Authorization": f"Bearer {mine}"},
            timeout=HTTP_TIMEOUT_S,
        )

    def account(token: str) -> int:
        answer = requests.get(
            f"{public_url}/api/v1/account",
            headers={"Authorization": f"Bearer {token}"},
            timeout=HTTP_TIMEOUT_S,
        )
        return answer.status_code

    listed = requests.get(
        f"{public_url}/api/v1/tokens", headers={"Authorization": f"Bearer {mine}"}, timeout=HTTP_TIMEOUT_S
    )
    assert [t["id"] for t in listed.json()["tokens"]] == [my_id]
    assert mine not in listed.text
    assert (revoke(their_id).status_code, account(theirs)) == (404, 200)
    own = revoke(my_id)
    assert own.status_code == 200 and own.json()["prefix"] == mine[:10]
    assert (account(mine), account(theirs)) == (401, 200)


@pytest.mark.parametrize("column", ["last_seen_at", "created_at"], ids=["idle", "absolute"])
def test_a_session_expires_when_idle_and_at_its_absolute_lifetime(
    rt: Any, browser: requests.Session, public_url: str, column: str
) -> None:
    sign_in(browser, public_url, rt, "North Wind Trading")
    saved = cookie_jar(browser)
    idle = timedelta(minutes=rt.settings.console.session_idle_minutes)
    lifetime = timedelta(hours=rt.settings.console.session_max_hours)
    with rt.session() as s:
        row = s.scalars(select(ConsoleSession)).one()
        # Just inside the limit: still valid.
        inside = {
            column: getattr(row, column)
            - (idle if column == "last_seen_at" else lifetime)
            + timedelta(minutes=1)
        }
        s.execute(update(ConsoleSession).values(**inside))
    assert replay(public_url, saved).status_code == 200
    with rt.session() as s:
        row = s.scalars(select(ConsoleSession)).one()
        past = timedelta(minutes=2) + (idle if column == "last_seen_at" else lifetime)
        s.execute(update(ConsoleSession).values(**{column: getattr(row, column) - past}))

    assert replay(public_url, saved).status_code == 302
    with rt.session() as s:
        assert s.scalars(select(ConsoleSession)).one().ended_at is not None
    assert replay(public_url, saved).status_code == 302


# --------------------------------------------------------------------------- headers


def shopify_signed_query(shop: str, **extra: str) -> dict[str, str]:
    params = {"shop": shop, "timestamp": str(int(time.time())), "host": "YWRtaW4", **extra}
    message = "&".join(f"{k}={params[k]}" for k in sorted(params))
    params["hmac"] = hmac.new(APP_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return params


def test_pages_forbid_framing_and_sniffing_and_plain_http_gets_no_hsts(app: Flask) -> None:
    client = app.test_client()
    for path in ("/login", "/", "/healthz", "/api/v1/openapi.json", f"/install/shopify?shop={SHOP}"):
        answer = client.get(path)
        csp = answer.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, path
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", path
        assert "Strict-Transport-Security" not in answer.headers, path


def test_the_embedded_entry_may_be_framed_only_by_its_shops_admin(app: Flask) -> None:
    client = app.test_client()
    good = client.get("/install/shopify?" + urlencode(shopify_signed_query(SHOP)))
    assert good.headers["Content-Security-Policy"].endswith(
        f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    )
    forged = shopify_signed_query(SHOP)
    forged["shop"] = OTHER_SHOP  # the signature no longer matches
    stale = shopify_signed_query(SHOP, timestamp=str(int(time.time()) - 3600))
    for params in (forged, stale, {"shop": SHOP}):
        answer = client.get("/install/shopify?" + urlencode(params))
        assert answer.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'"), params
    login = client.get("/login?" + urlencode(shopify_signed_query(SHOP)))  # not the embedded entry
    assert login.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")


@pytest.fixture
def https_app(app: Flask, config: dict[str, Any]) -> Iterator[Flask]:
    from app import create_app

    secure = create_app({**config, "public_url": "https://waybill.example.com"})
    yield secure
    secure.extensions["waybill"].close()


def test_hsts_is_sent_when_the_public_url_is_https(https_app: Flask) -> None:
    client = https_app.test_client()
    for path in ("/login", "/healthz"):
        answer = client.get(path, base_url="https://waybill.example.com")
        assert answer.headers.get("Strict-Transport-Security") == "max-age=31536000", path
        assert answer.headers.get("X-Content-Type-Options") == "nosniff"
    fresh = https_app.test_client()
    session_cookie = fresh.get("/login", base_url="https://waybill.example.com").headers.get("Set-Cookie", "")
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie

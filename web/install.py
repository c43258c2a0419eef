"""Install flows: Shopify OAuth and WooCommerce's key exchange.

A store joins an account only by an explicit act of that account's signed-in user,
bound to their browser:

- Every install started here sets a random cookie (``waybill_install``, HttpOnly,
  SameSite=Lax) and puts its SHA-256 in the signed install state. The Shopify callback
  and the WooCommerce return URL accept only the browser holding that cookie.
- Shopify from Shopify (``GET /install/shopify?shop=...``, the app's normal install)
  connects the shop to the account that already owns it, or to a new account named after
  it; never to whatever account the browser's session holds.
- Shopify from the console (``POST /install/shopify``, CSRF token, signed in) connects
  the shop to the signed-in account.
- WooCommerce: ``GET /install/woocommerce?store_url=...`` shows the signed-in merchant a
  confirm page naming the store; its ``POST`` (CSRF token) starts the key exchange. The
  keys the store's server posts to the callback are held apart (``pending_installs``)
  and join the account only when the browser that started the install comes back to
  the return URL, signed in to that account.
- A store connected to another account is refused, at the confirm page and at completion.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
)
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import delete, select

from connectors.errors import AuthError, Rejected
from connectors.netguard import check_store_url
from connectors.shopify import oauth
from connectors.woocommerce.webhooks import delivery_url_problem
from core.errors import Retryable
from db.models import Account, PendingInstall, Platform, utcnow
from sync.runtime import Runtime
from sync.storefronts import address_policy
from sync.stores import (
    StoreTaken,
    ensure_webhooks,
    import_catalog_soon,
    save_store,
    store_owner,
)
from web import errors, runtime

bp = Blueprint("install", __name__, url_prefix="/install")
WOO_TOKEN_MAX_AGE_S = 3600
SHOPIFY_STATE_MAX_AGE_S = 3600
MAX_STATE_CHARS = 2000
BROWSER_COOKIE = "waybill_install"
OTHER_ACCOUNT = "Sign in to the account that started this install and start again."
NOT_THIS_BROWSER = "This install was not started from this browser. Start again."
TAKEN = "{name} is already connected to another Waybill account. Sign in to that account to manage it."

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ title }} · Waybill</title>
<link rel="icon" href="{{ url_for('console.static', filename='parcel.svg') }}"></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto"><main>
<h1>{{ title }}</h1><p>{{ message }}</p>{% if problem %}<p style="color:#a40e26">{{ problem }}</p>{% endif %}
<p><a href="{{ url_for('console.stores') }}">Back to your stores</a></p>
</main></body></html>"""

CONFIRM = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Connect a store · Waybill</title>
<link rel="icon" href="{{ url_for('console.static', filename='parcel.svg') }}"></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto"><main>
<h1>Connect a WooCommerce store</h1>
<p>Connect the WooCommerce store <strong>{{ store_url }}</strong> to the Waybill account
<strong>{{ account }}</strong>? Its orders and stock will be managed by this account.
Continue only if you meant to connect this store.</p>
{% if problem %}<p style="color:#a40e26">{{ problem }}</p>{% endif %}
<form method="post" action="{{ url_for('install.woo_start_confirmed') }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input type="hidden" name="store_url" value="{{ store_url }}">
<button>Connect {{ store_url }}</button> <a href="{{ url_for('console.stores') }}">Cancel</a>
</form></main></body></html>"""


def page(title: str, message: str, status: int = 200, problem: str | None = None) -> tuple[str, int]:
    return render_template_string(PAGE, title=title, message=message, problem=problem), status


def refused(status: int, message: str) -> tuple[str, int]:
    return page("Cannot install", message, status)


errors.register(bp, refused)  # an unsafe store URL, a domain error: web/errors.py


def signed_in() -> int | None:
    """The signed-in account (``web.security`` has already checked the session is live)."""
    account_id = session.get("account_id")
    return account_id if isinstance(account_id, int) else None


def _to_login() -> Any:
    from web.console import login_url

    return redirect(login_url(request.full_path.rstrip("?")))


# --------------------------------------------------------------------------- browser binding


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def _browser_key() -> str:
    """This browser's install cookie value (a new one if it has none)."""
    have = request.cookies.get(BROWSER_COOKIE, "")
    return have if 32 <= len(have) <= 64 and have.isascii() else secrets.token_urlsafe(32)


def _bind(response: Response, key: str) -> Response:
    rt = runtime()
    response.set_cookie(
        BROWSER_COOKIE,
        key,
        max_age=WOO_TOKEN_MAX_AGE_S,
        path="/install",
        httponly=True,
        samesite="Lax",
        secure=rt.settings.public_url.startswith("https://"),
    )
    return response


def _same_browser(state: dict[str, Any]) -> bool:
    cookie = request.cookies.get(BROWSER_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(_hash(cookie), str(state.get("b", "")))


def _serializer(platform: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"waybill-{platform}-install")


def _load(platform: str, value: str, max_age: int) -> dict[str, Any] | None:
    """A signed install state, or None for anything else (forged, expired, garbled, non-ASCII)."""
    if not value or len(value) > MAX_STATE_CHARS or not value.isascii():
        return None
    try:
        data = _serializer(platform).loads(value, max_age=max_age)
    except (BadData, UnicodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _owned_elsewhere(rt: Runtime, platform: Platform, domain: str, account_id: int | None) -> bool:
    with rt.session() as s:
        owner = store_owner(s, platform, domain)
    return owner is not None and account_id is not None and owner != account_id


# --------------------------------------------------------------------------- Shopify


def _shopify_ready(rt: Runtime, shop: str) -> tuple[str, int] | None:
    if not oauth.valid_shop_domain(shop):
        return page("Cannot install", "That is not a Shopify shop domain (name.myshopify.com).", 400)
    if not rt.settings.shopify.api_key or rt.settings.shopify.api_secret is None:
        return page("Not configured", "SHOPIFY_API_KEY and SHOPIFY_API_SECRET are not set.", 503)
    return None


def _authorize(rt: Runtime, shop: str, account_id: int | None) -> Response:
    key = _browser_key()
    state = _serializer("shopify").dumps(
        {"shop": shop, "account": account_id, "b": _hash(key), "n": secrets.token_hex(8)}
    )
    base = rt.settings.shopify.base_url if rt.settings.sandbox else None
    redirect_uri = f"{rt.settings.public_url}/install/shopify/callback"
    url = oauth.authorize_url(
        shop, rt.settings.shopify.api_key or "", rt.settings.shopify.scopes, redirect_uri, state, base
    )
    return _bind(redirect(url), key)  # type: ignore[arg-type]


@bp.get("/shopify")
def shopify_start() -> Any:
    """The app's install from Shopify: the shop's own account, whatever session the browser holds."""
    rt = runtime()
    shop = (request.args.get("shop") or "").strip().lower()
    problem = _shopify_ready(rt, shop)
    return problem or _authorize(rt, shop, None)


@bp.post("/shopify")
def shopify_connect() -> Any:
    """A signed-in merchant connects a shop to their account (console form, CSRF-checked)."""
    rt = runtime()
    account_id = signed_in()
    if account_id is None:
        return page("Sign in first", "Sign in to Waybill, then connect the shop from the console.", 401)
    return connect_shopify(rt, (request.form.get("shop") or "").strip().lower(), account_id)


def connect_shopify(rt: Runtime, shop: str, account_id: int) -> Any:
    """Send the signed-in merchant's browser to Shopify's authorization of ``shop`` for their
    account (the console's connect buttons; the caller has checked the CSRF token)."""
    problem = _shopify_ready(rt, shop)
    if problem:
        return problem
    if _owned_elsewhere(rt, Platform.shopify, shop, account_id):
        return page("Cannot install", TAKEN.format(name=shop), 409)
    return _authorize(rt, shop, account_id)


@bp.get("/shopify/callback")
def shopify_callback() -> Any:
    rt = runtime()
    params = {k: v for k, v in request.args.items()}
    secret = rt.settings.shopify.api_secret
    if secret is None or not oauth.verify_callback(params, secret.get_secret_value()):
        return page("Cannot install", "The request was not signed by Shopify.", 401)
    state = _load("shopify", params.get("state", ""), SHOPIFY_STATE_MAX_AGE_S)
    if state is None or not _same_browser(state):
        return page("Cannot install", NOT_THIS_BROWSER, 400)
    shop = params.get("shop", "").lower()
    if shop != state.get("shop") or not oauth.valid_shop_domain(shop):
        return page("Cannot install", "The shop does not match the install that was started.", 400)
    if not oauth.fresh_timestamp(params.get("timestamp"), time.time()):
        return page("Cannot install", "The request is too old. Start again.", 400)
    account_id = state.get("account")
    if account_id is not None and signed_in() != account_id:
        return page("Cannot install", OTHER_ACCOUNT, 400)
    if _owned_elsewhere(rt, Platform.shopify, shop, account_id):
        return page("Cannot install", TAKEN.format(name=shop), 409)
    return _finish_shopify(rt, shop, params.get("code", ""), account_id)


def _finish_shopify(rt: Runtime, shop: str, code: str, account_id: int | None) -> Any:
    from connectors.shopify.client import exchange_code

    base = rt.settings.shopify.base_url if rt.settings.sandbox else None
    key, secret = rt.settings.shopify.api_key or "", rt.settings.shopify.api_secret
    try:
        token, scopes = exchange_code(
            shop,
            key,
            secret.get_secret_value() if secret else "",
            code,
            base_url=base,
            policy=address_policy(rt),
        )
    except (Rejected, AuthError):
        return page("Cannot install", "Shopify refused the authorization code (used or expired).", 400)
    except Retryable:
        return page("Try again", "Shopify could not be reached. Start the install again.", 502)
    try:
        store_id = save_store(
            rt,
            Platform.shopify,
            shop,
            {"access_token": token},
            scopes,
            account_id=account_id,  # None: the shop's own account (or a new one named after it)
            actor="install:shopify",
        )
    except StoreTaken:
        return page("Cannot install", TAKEN.format(name=shop), 409)
    return _webhooks_page(rt, store_id, shop)


def _webhooks_page(rt: Runtime, store_id: int, name: str, warning: str | None = None) -> Any:
    import_catalog_soon(rt, store_id)
    try:
        ensure_webhooks(rt, store_id, actor="install")
    except Retryable as exc:
        return page(
            "Installed",
            f"{name} is connected.",
            200,
            f"Registering webhooks failed ({exc}); Waybill retries at the next reconciliation.",
        )
    return page("Installed", f"{name} is connected and its webhooks are registered.", 200, warning)


# --------------------------------------------------------------------------- WooCommerce


def _store_url(rt: Runtime, value: str) -> str:
    return check_store_url(value, allow_private=rt.settings.sandbox)


@bp.get("/woocommerce")
def woo_start() -> Any:
    """The confirm page: which store, into which account. Nothing is started by a GET."""
    rt = runtime()
    url = _store_url(rt, request.args.get("store_url", ""))  # UnsafeUrl: web/errors.py
    account_id = signed_in()
    if account_id is None:
        return _to_login()
    if _owned_elsewhere(rt, Platform.woocommerce, url, account_id):
        return page("Cannot install", TAKEN.format(name=url), 409)
    with rt.session() as s:
        account = s.get(Account, account_id)
        name = account.name if account else ""
    return render_template_string(
        CONFIRM, store_url=url, account=name, problem=_key_exchange_problem(rt, url)
    )


def _key_exchange_problem(rt: Runtime, store_url: str = "") -> str | None:
    """WooCommerce posts the keys only to an https callback (WC_Auth: "The callback_url needs
    to be over SSL"); said before the merchant is sent to a store that will refuse. A
    sandbox store on this machine (sandbox mode) accepts an http callback."""
    public = rt.settings.public_url
    if public.startswith("https://"):
        return None
    if rt.settings.sandbox and urlsplit(store_url).hostname in ("127.0.0.1", "localhost"):
        return None
    return (
        f"This Waybill's public URL ({public}) is not https: a WooCommerce store refuses to send "
        "it the keys. Set an https WAYBILL_PUBLIC_URL, or connect the store with REST API keys "
        "(waybill shops add-woocommerce)."
    )


@bp.post("/woocommerce")
def woo_start_confirmed() -> Any:
    """The merchant confirmed (CSRF-checked): send the browser to the store's key request."""
    rt = runtime()
    account_id = signed_in()
    if account_id is None:
        return page("Sign in first", "Sign in to Waybill, then connect the store again.", 401)
    url = _store_url(rt, request.form.get("store_url", ""))  # UnsafeUrl: web/errors.py
    if _owned_elsewhere(rt, Platform.woocommerce, url, account_id):
        return page("Cannot install", TAKEN.format(name=url), 409)
    key = _browser_key()
    # WooCommerce echoes user_id to both callbacks; signing it binds them to this install and browser.
    token = _serializer("woo").dumps(
        {"url": url, "account": account_id, "b": _hash(key), "n": secrets.token_hex(16)}
    )
    query = urlencode(
        {
            "app_name": "Waybill",
            "scope": "read_write",
            "user_id": token,
            "return_url": f"{rt.settings.public_url}/install/woocommerce/return",
            "callback_url": f"{rt.settings.public_url}/install/woocommerce/callback",
        }
    )
    return _bind(redirect(f"{url}/wc-auth/v1/authorize?{query}"), key)  # type: ignore[arg-type]


def _install_token(value: str) -> dict[str, Any] | None:
    data = _load("woo", value, WOO_TOKEN_MAX_AGE_S)
    if data is None or not isinstance(data.get("account"), int) or not isinstance(data.get("url"), str):
        return None
    return data


@bp.post("/woocommerce/callback")
def woo_callback() -> tuple[Response, int]:
    """WooCommerce's server POSTs the new keys here; any answer but 200 makes it delete them.

    Not a browser request (no cookie, no CSRF token): the signed ``user_id`` names the
    install. The keys are held apart until the browser that started it comes back.
    """
    rt = runtime()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="expected JSON"), 400
    install = _install_token(str(body.get("user_id", "")))
    ck, cs = str(body.get("consumer_key", "")), str(body.get("consumer_secret", ""))
    if install is None:
        return jsonify(error="unknown or expired install"), 403
    if not (ck.startswith("ck_") and cs.startswith("cs_")) or body.get("key_permissions") != "read_write":
        return jsonify(error="read_write consumer key and secret required"), 400
    if _owned_elsewhere(rt, Platform.woocommerce, install["url"], install["account"]):
        return jsonify(error="the store is connected to another account"), 409
    if not _keys_work(rt, install["url"], ck, cs):
        return jsonify(error="the keys do not open the store's API"), 403
    nonce = _hash(str(install.get("n", "")))
    with rt.session() as s:
        if s.get(Account, install["account"]) is None:
            return jsonify(error="unknown or expired install"), 403
        expired = utcnow() - timedelta(seconds=WOO_TOKEN_MAX_AGE_S)
        s.execute(delete(PendingInstall).where(PendingInstall.created_at < expired))
        s.execute(delete(PendingInstall).where(PendingInstall.nonce_hash == nonce))
        s.add(
            PendingInstall(
                nonce_hash=nonce,
                account_id=install["account"],
                domain=install["url"],
                credentials=rt.vault.encrypt_json({"consumer_key": ck, "consumer_secret": cs}),
            )
        )
    return jsonify(status="received"), 200


def _keys_work(rt: Runtime, url: str, ck: str, cs: str) -> bool:
    """Only keys that really open this store are kept (a forged callback cannot plant others)."""
    from connectors.woocommerce.client import WooClient

    try:
        WooClient(url, ck, cs, timeout_s=5, policy=address_policy(rt)).get_page("products", {"per_page": 1})
        return True
    except Exception:
        return False


@bp.get("/woocommerce/return")
def woo_return() -> Any:
    """The browser that started the install comes back: only now do the keys join its account."""
    rt = runtime()
    install = _install_token(request.args.get("user_id", ""))
    if install is None:
        return page("Cannot install", "This install link is not valid or has expired.", 400)
    if not _same_browser(install):
        return page("Cannot install", NOT_THIS_BROWSER, 400)
    if request.args.get("success") != "1":
        return page("Not connected", "The store did not grant access.", 400)
    account_id = signed_in()
    if account_id is None:
        return _to_login()
    if account_id != install["account"]:
        return page("Cannot install", OTHER_ACCOUNT, 400)
    url = install["url"]
    with rt.session() as s:
        pending = s.scalar(
            select(PendingInstall).where(
                PendingInstall.nonce_hash == _hash(str(install.get("n", ""))),
                PendingInstall.account_id == account_id,
                PendingInstall.domain == url,
            )
        )
        if pending is None:
            return page("Not connected", "The store's keys did not arrive. Start the install again.", 400)
        credentials = rt.vault.decrypt_json(pending.credentials)
        s.delete(pending)
    try:
        store_id = save_store(
            rt,
            Platform.woocommerce,
            url,
            credentials,
            "read_write",
            account_id=account_id,
            actor="install:woocommerce",
        )
    except StoreTaken:
        return page("Cannot install", TAKEN.format(name=url), 409)
    problem = delivery_url_problem(rt.settings.public_url)
    warning = f"Webhooks will not arrive: {problem}." if problem else None
    return _webhooks_page(rt, store_id, url, warning)

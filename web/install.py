"""Install flows: Shopify OAuth and WooCommerce's key exchange."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlencode

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
from itsdangerous import BadSignature, URLSafeTimedSerializer

from connectors.errors import AuthError, Rejected
from connectors.netguard import UnsafeUrl, check_store_url
from connectors.shopify import oauth
from core.errors import Retryable
from db.models import Platform
from sync.runtime import Runtime
from sync.stores import address_policy, ensure_webhooks, import_catalog_soon, save_store

bp = Blueprint("install", __name__, url_prefix="/install")
WOO_TOKEN_MAX_AGE_S = 3600

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Waybill</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto">
<h1>{{ title }}</h1><p>{{ message }}</p>{% if problem %}<p style="color:#b00">{{ problem }}</p>{% endif %}
</body></html>"""


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["waybill"]
    return rt


def page(title: str, message: str, status: int = 200, problem: str | None = None) -> tuple[str, int]:
    return render_template_string(PAGE, title=title, message=message, problem=problem), status


# --------------------------------------------------------------------------- Shopify


@bp.get("/shopify")
def shopify_start() -> Any:
    rt = runtime()
    shop = (request.args.get("shop") or "").strip().lower()
    if not oauth.valid_shop_domain(shop):
        return page("Cannot install", "That is not a Shopify shop domain (name.myshopify.com).", 400)
    key, secret = rt.settings.shopify.api_key, rt.settings.shopify.api_secret
    if not key or secret is None:
        return page("Not configured", "SHOPIFY_API_KEY and SHOPIFY_API_SECRET are not set.", 503)
    state = secrets.token_urlsafe(24)
    session["shopify_install"] = {"state": state, "shop": shop, "at": time.time()}
    base = rt.settings.shopify.base_url if rt.settings.sandbox else None
    redirect_uri = f"{rt.settings.public_url}/install/shopify/callback"
    return redirect(oauth.authorize_url(shop, key, rt.settings.shopify.scopes, redirect_uri, state, base))


@bp.get("/shopify/callback")
def shopify_callback() -> Any:
    rt = runtime()
    params = {k: v for k, v in request.args.items()}
    pending = session.pop("shopify_install", None)
    secret = rt.settings.shopify.api_secret
    if secret is None or not oauth.verify_callback(params, secret.get_secret_value()):
        return page("Cannot install", "The request was not signed by Shopify.", 401)
    shop = params.get("shop", "").lower()
    if pending is None or not hmac.compare_digest(str(pending.get("state", "")), params.get("state", "")):
        return page("Cannot install", "This install was not started from this browser. Start again.", 400)
    if shop != pending.get("shop") or not oauth.valid_shop_domain(shop):
        return page("Cannot install", "The shop does not match the install that was started.", 400)
    if not oauth.fresh_timestamp(params.get("timestamp"), time.time()):
        return page("Cannot install", "The request is too old. Start again.", 400)
    return _finish_shopify(rt, shop, params.get("code", ""))


def _finish_shopify(rt: Runtime, shop: str, code: str) -> Any:
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
    except UnsafeUrl as exc:
        return page("Cannot install", str(exc), 400)
    except (Rejected, AuthError):
        return page("Cannot install", "Shopify refused the authorization code (used or expired).", 400)
    except Retryable:
        return page("Try again", "Shopify could not be reached. Start the install again.", 502)
    store_id = save_store(
        rt,
        Platform.shopify,
        shop,
        {"access_token": token},
        scopes,
        account_id=session.get("account_id"),
        actor="install:shopify",
    )
    return _webhooks_page(rt, store_id, shop)


def _webhooks_page(rt: Runtime, store_id: int, name: str) -> Any:
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
    return page("Installed", f"{name} is connected and its webhooks are registered.")


# --------------------------------------------------------------------------- WooCommerce


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="waybill-woo-install")


@bp.get("/woocommerce")
def woo_start() -> Any:
    rt = runtime()
    try:
        url = check_store_url(request.args.get("store_url", ""), allow_private=rt.settings.sandbox)
    except UnsafeUrl as exc:
        return page("Cannot install", str(exc), 400)
    # WooCommerce echoes user_id to both callbacks; signing it binds them to this install.
    token = _serializer().dumps({"url": url, "account": session.get("account_id"), "n": secrets.token_hex(8)})
    query = urlencode(
        {
            "app_name": "Waybill",
            "scope": "read_write",
            "user_id": token,
            "return_url": f"{rt.settings.public_url}/install/woocommerce/return",
            "callback_url": f"{rt.settings.public_url}/install/woocommerce/callback",
        }
    )
    return redirect(f"{url}/wc-auth/v1/authorize?{query}")


def _install_token(value: str) -> dict[str, Any] | None:
    try:
        data = _serializer().loads(value, max_age=WOO_TOKEN_MAX_AGE_S)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


@bp.post("/woocommerce/callback")
def woo_callback() -> tuple[Response, int]:
    """WooCommerce POSTs the new keys here; any answer but 200 makes it delete them."""
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
    if not _keys_work(rt, install["url"], ck, cs):
        return jsonify(error="the keys do not open the store's API"), 403
    save_store(
        rt,
        Platform.woocommerce,
        install["url"],
        {"consumer_key": ck, "consumer_secret": cs},
        "read_write",
        account_id=install.get("account"),
        actor="install:woocommerce",
    )
    return jsonify(status="stored"), 200


def _keys_work(rt: Runtime, url: str, ck: str, cs: str) -> bool:
    """Only keys that really open this store are stored (a forged callback cannot replace them)."""
    from connectors.woocommerce.client import WooClient

    try:
        WooClient(url, ck, cs, timeout_s=5, policy=address_policy(rt)).get_page("products", {"per_page": 1})
        return True
    except Exception:
        return False


@bp.get("/woocommerce/return")
def woo_return() -> Any:
    rt = runtime()
    install = _install_token(request.args.get("user_id", ""))
    if install is None:
        return page("Cannot install", "This install link is not valid or has expired.", 400)
    if request.args.get("success") != "1":
        return page("Not connected", "The store did not grant access.", 400)
    from sqlalchemy import select

    from db.models import Store, StoreState

    with rt.session() as s:
        store = s.scalar(
            select(Store).where(Store.platform == Platform.woocommerce, Store.domain == install["url"])
        )
        if store is None or store.state is not StoreState.active:
            return page("Not connected", "The store's keys did not arrive. Start the install again.", 400)
        store_id = store.id
    return _webhooks_page(rt, store_id, install["url"])

"""POST /webhooks/shopify (shop from the Shop-Domain header)."""

from __future__ import annotations

from flask import Response, request

from connectors.shopify import webhooks as shopify
from db.models import Platform
from db.store_lookup import StoreRef, find_store
from webhooks import bp
from webhooks.intake import Refused, commit, parse_json, raw_body, refused, runtime, selected

# Shopify sends these to a shop after it uninstalled the app (shop/redact comes 48 h later).
AFTER_UNINSTALL = {"shop/redact", "customers/redact", "customers/data_request"}
KEEP = tuple(
    f"{prefix}Shopify-{name}" for prefix in ("X-", "") for name in shopify.HEADERS if name != "Hmac-Sha256"
)


@bp.post("/shopify")
def receive_shopify() -> tuple[Response, int]:
    try:
        body = raw_body()
        secret = runtime().settings.shopify.api_secret
        signature = shopify.header(request.headers, "Hmac-Sha256")
        if secret is None or not shopify.verify_signature(secret.get_secret_value(), body, signature):
            raise Refused(401, "invalid signature", "bad_signature")
        topic = shopify.header(request.headers, "Topic") or ""
        domain = (shopify.header(request.headers, "Shop-Domain") or "").lower()
        key = shopify.dedupe_key(request.headers)
        if not topic or not domain or not key:
            raise Refused(400, "missing Shopify topic, shop domain or webhook id header", "bad_headers")
        parse_json(body)
        store = _store(domain, topic)
    except Refused as err:
        return refused(Platform.shopify, err)
    return commit(
        Platform.shopify,
        topic,
        f"{domain}:{key}",
        body,
        _kept(),
        store_id=store.id,
        account_id=store.account_id,
    )


def _store(domain: str, topic: str) -> StoreRef:
    store = find_store(runtime().sessions, runtime().vault, Platform.shopify, domain=domain)
    if store is None:
        raise Refused(401, "unknown shop", "unknown_store")
    if not store.active and topic not in AFTER_UNINSTALL:
        raise Refused(401, "shop is not installed", "uninstalled_store")
    return store


def _kept() -> dict[str, str]:
    return selected(request.headers, KEEP)

"""POST /webhooks/shopify (shop from the Shop-Domain header)."""

from __future__ import annotations

from connectors.shopify import webhooks as shopify
from db.models import Platform
from db.store_lookup import STORE_LOOKUP_FAILED, StoreRef, find_store
from sync.runtime import Runtime
from webhooks.intake import (
    Answer,
    Delivery,
    Refused,
    check_json,
    commit,
    not_an_object,
    refused,
    selected,
    unavailable,
)

# Shopify sends these to a shop after it uninstalled the app (shop/redact comes 48 h later).
AFTER_UNINSTALL = {"shop/redact", "customers/redact", "customers/data_request"}
KEEP = tuple(
    f"{prefix}Shopify-{name}" for prefix in ("X-", "") for name in shopify.HEADERS if name != "Hmac-Sha256"
)


def receive_shopify(delivery: Delivery) -> Answer:
    rt, headers = delivery.rt, delivery.headers
    try:
        body = delivery.body()
        secret = rt.settings.shopify.api_secret
        signature = shopify.header(headers, "Hmac-Sha256")
        if secret is None or not shopify.verify_signature(secret.get_secret_value(), body, signature):
            raise Refused(401, "invalid signature", "bad_signature")
        topic = shopify.header(headers, "Topic") or ""
        domain = (shopify.header(headers, "Shop-Domain") or "").lower()
        key = shopify.dedupe_key(headers)
        if not topic or not domain or not key:
            raise Refused(400, "missing Shopify topic, shop domain or webhook id header", "bad_headers")
        check_json(body)
        store = _store(rt, domain, topic)
    except Refused as err:
        return refused(Platform.shopify, err)
    except STORE_LOOKUP_FAILED as exc:  # the database is unreachable, cached store or not
        return unavailable(Platform.shopify, exc)
    return commit(
        rt,
        Platform.shopify,
        topic,
        f"{domain}:{key}",
        body,
        selected(headers, KEEP),
        store_id=store.id,
        account_id=store.account_id,
        refusal="body is not a JSON object" if not_an_object(body) else None,
    )


def _store(rt: Runtime, domain: str, topic: str) -> StoreRef:
    store = find_store(rt.sessions, rt.vault, Platform.shopify, domain=domain)
    if store is None:
        raise Refused(401, "unknown shop", "unknown_store")
    if not store.active and topic not in AFTER_UNINSTALL:
        raise Refused(401, "shop is not installed", "uninstalled_store")
    return store

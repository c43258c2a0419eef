"""POST /webhooks/woocommerce/<store_id>."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl

from connectors.woocommerce import webhooks as woo
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

KEEP = tuple(f"X-WC-Webhook-{n}" for n in ("Source", "Topic", "Resource", "Event", "ID", "Delivery-ID"))
FORM = "application/x-www-form-urlencoded"


def receive_woocommerce(delivery: Delivery, store_id: int) -> Answer:
    rt, headers = delivery.rt, delivery.headers
    try:
        body = delivery.body()
        store, secret = _store(rt, store_id)
        if _is_ping(delivery, body):
            return Answer(200, {"status": "pong"})
        if secret is None or not woo.verify_signature(secret, body, headers.get("X-WC-Webhook-Signature")):
            raise Refused(401, "invalid signature", "bad_signature")
        topic = headers.get("X-WC-Webhook-Topic", "")
        delivery_id = headers.get("X-WC-Webhook-Delivery-ID", "")
        if not topic or not delivery_id:
            raise Refused(400, "missing X-WC-Webhook-Topic or -Delivery-ID", "bad_headers")
        check_json(body)
    except Refused as err:
        return refused(Platform.woocommerce, err)
    except STORE_LOOKUP_FAILED as exc:  # the database is unreachable, cached store or not
        return unavailable(Platform.woocommerce, exc)
    # The delivery id is a hash of the webhook id and the current second, so two resources
    # changed in the same second share it: the body tells them apart, a re-delivery does not.
    key = f"{store_id}:{delivery_id}:{hashlib.sha256(body).hexdigest()[:32]}"
    return commit(
        rt,
        Platform.woocommerce,
        topic,
        key,
        body,
        selected(headers, KEEP),
        store_id=store.id,
        account_id=store.account_id,
        refusal="body is not a JSON object" if not_an_object(body) else None,
    )


def _is_ping(delivery: Delivery, body: bytes) -> bool:
    content_type = delivery.content_type
    if not content_type.startswith(FORM):
        return False
    has_wc = any(k.lower().startswith("x-wc-webhook-") for k in delivery.headers.names())
    form_keys = {k for k, _ in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)}
    return woo.is_ping(content_type, form_keys, has_wc)


MAX_STORE_ID = 2**31 - 1  # stores.id is an INTEGER column: a larger id names no store


def _store(rt: Runtime, store_id: int) -> tuple[StoreRef, str | None]:
    if store_id > MAX_STORE_ID:
        raise Refused(401, "unknown store", "unknown_store")
    store = find_store(rt.sessions, rt.vault, Platform.woocommerce, store_id=store_id)
    if store is None:
        raise Refused(401, "unknown store", "unknown_store")
    if not store.active:
        raise Refused(401, "store is not installed", "uninstalled_store")
    return store, store.webhook_secret

"""POST /webhooks/woocommerce/<store_id>."""

from __future__ import annotations

import hashlib

from flask import Response, jsonify, request

from connectors.woocommerce import webhooks as woo
from db.models import Platform
from db.store_lookup import StoreRef, find_store
from webhooks import bp
from webhooks.intake import Refused, commit, parse_json, raw_body, refused, runtime, selected

KEEP = tuple(f"X-WC-Webhook-{n}" for n in ("Source", "Topic", "Resource", "Event", "ID", "Delivery-ID"))


@bp.post("/woocommerce/<int:store_id>")
def receive_woocommerce(store_id: int) -> tuple[Response, int]:
    try:
        body = raw_body()
        store, secret = _store(store_id)
        has_wc = any(k.lower().startswith("x-wc-webhook-") for k in request.headers.keys())  # noqa: SIM118 (werkzeug Headers)
        if woo.is_ping(request.content_type, set(request.form.keys()), has_wc):
            return jsonify(status="pong"), 200
        if secret is None or not woo.verify_signature(
            secret, body, request.headers.get("X-WC-Webhook-Signature")
        ):
            raise Refused(401, "invalid signature", "bad_signature")
        topic = request.headers.get("X-WC-Webhook-Topic", "")
        delivery = request.headers.get("X-WC-Webhook-Delivery-ID", "")
        if not topic or not delivery:
            raise Refused(400, "missing X-WC-Webhook-Topic or -Delivery-ID", "bad_headers")
        parse_json(body)
    except Refused as err:
        return refused(Platform.woocommerce, err)
    # The delivery id is a hash of the webhook id and the current second, so two resources
    # changed in the same second share it: the body tells them apart, a re-delivery does not.
    key = f"{store_id}:{delivery}:{hashlib.sha256(body).hexdigest()[:32]}"
    return commit(
        Platform.woocommerce,
        topic,
        key,
        body,
        selected(request.headers, KEEP),
        store_id=store.id,
        account_id=store.account_id,
    )


def _store(store_id: int) -> tuple[StoreRef, str | None]:
    store = find_store(runtime().sessions, runtime().vault, Platform.woocommerce, store_id=store_id)
    if store is None:
        raise Refused(401, "unknown store", "unknown_store")
    if not store.active:
        raise Refused(401, "store is not installed", "uninstalled_store")
    return store, store.webhook_secret

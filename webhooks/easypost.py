"""POST /webhooks/easypost (Events: tracker.updated, refund.successful, ...)."""

from __future__ import annotations

from connectors.easypost import webhooks as easypost
from db.models import Platform
from webhooks.intake import Answer, Delivery, Refused, commit, parse_json, refused


def receive_easypost(delivery: Delivery) -> Answer:
    rt = delivery.rt
    try:
        body = delivery.body()
        secret = rt.settings.easypost.webhook_secret
        signature = delivery.headers.get("X-Hmac-Signature")
        if secret is None or not easypost.verify_signature(secret.get_secret_value(), body, signature):
            raise Refused(401, "invalid signature", "bad_signature")
        event = parse_json(body)
        if not isinstance(event, dict) or not str(event.get("id", "")).startswith("evt_"):
            raise Refused(400, "not an EasyPost Event", "bad_json")
        topic = str(event.get("description") or "")
    except Refused as err:
        return refused(Platform.easypost, err)
    return commit(rt, Platform.easypost, topic, str(event["id"]), body, {})

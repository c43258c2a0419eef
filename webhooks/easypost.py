"""POST /webhooks/easypost (Events: tracker.updated, refund.successful, ...)."""

from __future__ import annotations

from flask import Response, request

from connectors.easypost import webhooks as easypost
from db.models import Platform
from webhooks import bp
from webhooks.intake import Refused, commit, parse_json, raw_body, refused, runtime


@bp.post("/easypost")
def receive_easypost() -> tuple[Response, int]:
    try:
        body = raw_body()
        secret = runtime().settings.easypost.webhook_secret
        signature = request.headers.get("X-Hmac-Signature")
        if secret is None or not easypost.verify_signature(secret.get_secret_value(), body, signature):
            raise Refused(401, "invalid signature", "bad_signature")
        event = parse_json(body)
        if not isinstance(event, dict) or not str(event.get("id", "")).startswith("evt_"):
            raise Refused(400, "not an EasyPost Event", "bad_json")
        topic = str(event.get("description") or "")
    except Refused as err:
        return refused(Platform.easypost, err)
    return commit(Platform.easypost, topic, str(event["id"]), body, {})

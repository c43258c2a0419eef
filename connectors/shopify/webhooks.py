"""Shopify webhook signatures and headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.payloads import MalformedPayload, json_type


class HeaderSource(Protocol):
    """Anything with ``get(name)``: a dict or Flask's case-insensitive ``request.headers``."""

    def get(self, key: str) -> str | None: ...


HEADERS = ("Hmac-Sha256", "Topic", "Shop-Domain", "API-Version", "Webhook-Id", "Event-Id", "Triggered-At")


def header(headers: HeaderSource, name: str) -> str | None:
    """A Shopify header with or without the ``X-Shopify-`` prefix (newer deliveries drop ``X-``)."""
    return headers.get(f"X-Shopify-{name}") or headers.get(f"Shopify-{name}")


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(secret: str, body: bytes, signature: str | None) -> bool:
    """``X-Shopify-Hmac-Sha256`` is base64(HMAC-SHA256(app secret, raw body)); constant time."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), signature.strip().encode())


def dedupe_key(headers: HeaderSource) -> str | None:
    """The event id survives re-deliveries of the same event; older deliveries only have a webhook id."""
    event_id = header(headers, "Event-Id")
    if event_id:
        return f"event:{event_id}"
    webhook_id = header(headers, "Webhook-Id")
    return f"webhook:{webhook_id}" if webhook_id else None


# --------------------------------------------------------------------------- body checks

# Privacy topics that change what Waybill holds: a stale delivery of these is not acted on.
STATE_CHANGING_PRIVACY = frozenset({"customers/redact", "shop/redact"})
# Fields a mapper iterates or reads into: the wrong JSON type is refused before it runs.
LISTS = frozenset(
    {
        "line_items",
        "shipping_lines",
        "tax_lines",
        "discount_codes",
        "discount_applications",
        "note_attributes",
        "fulfillments",
        "refunds",
        "refund_line_items",
        "orders_to_redact",
        "orders_requested",
    }
)
OBJECTS = frozenset({"customer", "billing_address", "shipping_address", "data_request", "total_price_set"})


def body_shop(payload: Mapping[str, Any]) -> str | None:
    """The shop a body names (``shop_domain`` in privacy topics, ``myshopify_domain`` in
    app/uninstalled), lower-cased; None when it names none."""
    for key in ("shop_domain", "myshopify_domain"):
        value = payload.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise MalformedPayload(f"{key}: a string expected, got a JSON {json_type(value)}")
        return value.strip().lower()
    return None


def triggered_at(headers: HeaderSource) -> datetime | None:
    """``X-Shopify-Triggered-At`` as an aware UTC time; None when absent.

    Shopify writes ISO 8601 with up to nanoseconds (``2026-12-06T01:00:00.123456789Z``);
    digits past microseconds are dropped. An unreadable value is refused."""
    raw = header(headers, "Triggered-At")
    if not raw:
        return None
    match = _ISO.match(raw.strip())
    if match is None:
        raise MalformedPayload("X-Shopify-Triggered-At is not an ISO 8601 time")
    fraction = (match["fraction"] or "")[:6]
    text = match["base"] + (f".{fraction}" if fraction else "") + (match["zone"].replace("Z", "+00:00"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedPayload("X-Shopify-Triggered-At is not an ISO 8601 time") from exc
    return parsed.astimezone(UTC)


_ISO = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d{2}:?\d{2})$"
)


def screen(
    topic: str, payload: Mapping[str, Any], headers: HeaderSource, received_at: datetime, max_age_s: float
) -> str | None:
    """Shopify's checks of a well-shaped body against its headers.

    Raises ``MalformedPayload`` when the shop the body names is not the
    ``X-Shopify-Shop-Domain`` it came with; returns why a state-changing privacy request
    triggered more than ``max_age_s`` before it was received must not be acted on (past
    Shopify's retry window: not a delivery Shopify would still make), or None."""
    header_shop = (header(headers, "Shop-Domain") or "").strip().lower()
    named = body_shop(payload)
    if named is not None and named != header_shop:
        raise MalformedPayload("the shop the body names is not the X-Shopify-Shop-Domain it came with")
    if topic not in STATE_CHANGING_PRIVACY:
        return None
    triggered = triggered_at(headers)
    if triggered is None:
        return None
    age = (received_at - triggered).total_seconds()
    if age <= max_age_s:
        return None
    return (
        f"stale: triggered {triggered.isoformat()}, {int(age)} s before it was received "
        f"(more than {int(max_age_s)} s, past the platform's retry window); not acted on"
    )

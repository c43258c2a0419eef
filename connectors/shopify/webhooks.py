"""Shopify webhook signatures and headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Protocol


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

"""WooCommerce webhook signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html


def sign(secret: str, body: bytes) -> str:
    # WooCommerce HTML-entity-decodes the secret before signing ("a&amp;b" signs as "a&b").
    key = html.unescape(secret).encode()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def verify_signature(secret: str, body: bytes, signature: str | None) -> bool:
    """``X-WC-Webhook-Signature`` over the raw bytes (PHP's JSON escapes make re-encoding unsafe)."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), signature.strip().encode())


def is_ping(content_type: str | None, form_keys: set[str], has_wc_headers: bool) -> bool:
    """The unsigned ping WooCommerce sends when a webhook is created: ``webhook_id=<id>`` as a form."""
    return (
        not has_wc_headers
        and (content_type or "").startswith("application/x-www-form-urlencoded")
        and form_keys == {"webhook_id"}
    )


# Fields a mapper iterates or reads into: the wrong JSON type is refused before it runs.
LISTS = frozenset(
    {"line_items", "shipping_lines", "fee_lines", "coupon_lines", "tax_lines", "refunds", "meta_data"}
)
OBJECTS = frozenset({"billing", "shipping"})

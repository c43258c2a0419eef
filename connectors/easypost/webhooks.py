"""EasyPost webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

PREFIX = "hmac-sha256-hex="


def sign(secret: str, body: bytes) -> str:
    # EasyPost keys the HMAC with the secret NFKD-normalised and UTF-8 encoded.
    key = unicodedata.normalize("NFKD", secret).encode()
    return PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, signature: str | None) -> bool:
    """``X-Hmac-Signature: hmac-sha256-hex=<hex>``; constant time."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), signature.strip().encode())

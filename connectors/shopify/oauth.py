"""Shopify's OAuth install: pure checks and URLs (the code exchange is in client.py)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import urlencode

SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
MAX_CALLBACK_AGE_S = 600
MAX_CLOCK_SKEW_S = 60


def valid_shop_domain(shop: str | None) -> bool:
    return bool(shop) and len(shop or "") <= 255 and SHOP_DOMAIN.match(shop or "") is not None


def authorize_url(
    shop: str, api_key: str, scopes: str, redirect_uri: str, state: str, base_url: str | None = None
) -> str:
    """Where the merchant approves the install (``base_url`` points at the sandbox)."""
    query = urlencode({"client_id": api_key, "scope": scopes, "redirect_uri": redirect_uri, "state": state})
    if base_url:
        return f"{base_url.rstrip('/')}/admin/oauth/authorize?{query}&{urlencode({'shop': shop})}"
    return f"https://{shop}/admin/oauth/authorize?{query}"


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 over every parameter but ``hmac``/``signature``, sorted, joined ``k=v&...``."""
    message = "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_callback(params: Mapping[str, str], secret: str) -> bool:
    given = params.get("hmac", "")
    return bool(given) and hmac.compare_digest(query_hmac(params, secret).encode(), given.encode())


def fresh_timestamp(timestamp: str | None, now: float) -> bool:
    try:
        ts = int(timestamp or "")
    except ValueError:
        return False
    return now - MAX_CALLBACK_AGE_S <= ts <= now + MAX_CLOCK_SKEW_S

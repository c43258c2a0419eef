"""WooCommerce webhook signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from urllib.parse import urlsplit

# wp_specialchars_decode($secret, ENT_QUOTES), as WordPress writes it: first the zero-padded
# numeric forms it knows are made canonical, then one strtr() pass over this table. Nothing
# else is decoded: not named entities such as &copy; or &apos;, not &#x3c;, not &AMP;.
_CANONICAL = (
    (re.compile(r"&#0*39;"), "&#039;"),
    (re.compile(r"&#x0*27;", re.IGNORECASE), "&#x27;"),
    (re.compile(r"&#0*34;"), "&#034;"),
    (re.compile(r"&#x0*22;", re.IGNORECASE), "&#x22;"),
    (re.compile(r"&#0*60;"), "&#060;"),
    (re.compile(r"&#0*62;"), "&#062;"),
    (re.compile(r"&#0*38;"), "&#038;"),
    (re.compile(r"&#x0*26;", re.IGNORECASE), "&#x26;"),
)
_DECODED = {
    "&#039;": "'",
    "&#x27;": "'",
    "&quot;": '"',
    "&#034;": '"',
    "&#x22;": '"',
    "&lt;": "<",
    "&#060;": "<",
    "&gt;": ">",
    "&#062;": ">",
    "&amp;": "&",
    "&#038;": "&",
    "&#x26;": "&",
}
# strtr() replaces the longest key at each position, left to right, and never rescans output.
_ENTITY = re.compile("|".join(re.escape(k) for k in sorted(_DECODED, key=len, reverse=True)))


def decode_secret(secret: str) -> str:
    """The HMAC key WooCommerce derives from a webhook secret (``"a&amp;b"`` -> ``"a&b"``)."""
    if "&" not in secret:
        return secret
    for pattern, canonical in _CANONICAL:
        secret = pattern.sub(canonical, secret)
    return _ENTITY.sub(lambda m: _DECODED[m.group(0)], secret)


def sign(secret: str, body: bytes) -> str:
    key = decode_secret(secret).encode()
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


# What a stock WordPress sends to (wp_http_validate_url, used by every webhook delivery).
SAFE_PORTS = (80, 443, 8080)


def _is_local_host(host: str) -> bool:
    """Loopback or private as WordPress judges it: 127/8, 10/8, 0/8, 172.16/12, 192.168/16, names
    that are loopback by definition, and IPv6 literals (which it refuses outright)."""
    if host == "localhost" or host.endswith(".localhost") or ":" in host:
        return True
    try:
        ip = ipaddress.IPv4Address(host)
    except ValueError:
        return False  # a name: only the store's own lookup can tell
    return any(ip in ipaddress.IPv4Network(net) for net in _LOCAL_NETS)


_LOCAL_NETS = ("127.0.0.0/8", "10.0.0.0/8", "0.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def delivery_url_problem(url: str) -> str | None:
    """Why a stock WordPress would never deliver a webhook to ``url`` (None: nothing seen).

    Such deliveries are not sent at all; each one counts as a failure, and the webhook is
    disabled at the 7th in a row. Names are not resolved here.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{url!r} is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL"
    if _is_local_host(parts.hostname):
        return (
            f"host {parts.hostname} is loopback or private: a stock WordPress does not deliver "
            "webhooks there; use a public host name"
        )
    if port is not None and port not in SAFE_PORTS:
        return (
            f"port {port}: a stock WordPress delivers webhooks only to ports 80, 443 and 8080; "
            "serve the public URL on one of them"
        )
    return None

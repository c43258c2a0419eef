"""JSON and text helpers that reproduce what PHP and WordPress emit.

WordPress encodes REST responses and webhook bodies with ``wp_json_encode`` and no
flags, so slashes come out as ``\\/`` and every non-ASCII character as ``\\uXXXX``.
Receivers that re-serialise a parsed body get different bytes, which is why a
webhook signature must be checked over the raw body.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=str)

# wp_specialchars_decode( $s, ENT_QUOTES ) as in wp-includes/formatting.php: preg_replace()
# makes the zero-padded numeric forms it knows canonical, then strtr() turns back only these,
# case-sensitively and in one pass. Anything else (&copy;, &apos;, &#x3c;, &AMP;) stays as written.
_SPECIALCHARS_PREG = (
    (r"&#0*39;", 0, "&#039;"),
    (r"&#x0*27;", re.I, "&#x27;"),
    (r"&#0*34;", 0, "&#034;"),
    (r"&#x0*22;", re.I, "&#x22;"),
    (r"&#0*60;", 0, "&#060;"),
    (r"&#0*62;", 0, "&#062;"),
    (r"&#0*38;", 0, "&#038;"),
    (r"&#x0*26;", re.I, "&#x26;"),
)
_SPECIALCHARS = {
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
_SPECIALCHARS_RE = re.compile("|".join(re.escape(k) for k in sorted(_SPECIALCHARS, key=len, reverse=True)))

CENT = Decimal("0.01")


def dumps(data: Any) -> bytes:
    """Encode ``data`` as ``wp_json_encode`` does (escaped slashes, ASCII only)."""
    return _ENCODER.encode(data).replace("/", "\\/").encode("ascii")


def specialchars_decode(text: str) -> str:
    """``wp_specialchars_decode($text, ENT_QUOTES)``: what WooCommerce applies to webhook secrets."""
    if "&" not in text:
        return text
    for pattern, flags, canonical in _SPECIALCHARS_PREG:
        text = re.sub(pattern, canonical, text, flags=flags)
    return _SPECIALCHARS_RE.sub(lambda m: _SPECIALCHARS[m.group(0)], text)


def money(value: Decimal | int | str) -> str:
    """A money amount as WooCommerce prints it: a string with two decimals."""
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def to_decimal(value: Any, default: Decimal | None = None) -> Decimal | None:
    """Parse a price sent by a client (string or number); ``default`` when empty or invalid."""
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return default

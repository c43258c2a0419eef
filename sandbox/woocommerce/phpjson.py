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

# wp_specialchars_decode( $s, ENT_QUOTES ) turns back only these entities (named
# and numeric forms); anything else, such as &eacute;, stays as written.
_SPECIALCHARS = {
    "&amp;": "&",
    "&lt;": "<",
    "&gt;": ">",
    "&quot;": '"',
    "&#039;": "'",
    "&#39;": "'",
    "&#x27;": "'",
    "&#034;": '"',
    "&#34;": '"',
    "&#x22;": '"',
    "&#038;": "&",
    "&#38;": "&",
    "&#x26;": "&",
    "&#060;": "<",
    "&#60;": "<",
    "&#x3c;": "<",
    "&#062;": ">",
    "&#62;": ">",
    "&#x3e;": ">",
}
_SPECIALCHARS_RE = re.compile(
    "|".join(re.escape(k) for k in sorted(_SPECIALCHARS, key=len, reverse=True)), re.I
)

CENT = Decimal("0.01")


def dumps(data: Any) -> bytes:
    """Encode ``data`` as ``wp_json_encode`` does (escaped slashes, ASCII only)."""
    return _ENCODER.encode(data).replace("/", "\\/").encode("ascii")


def specialchars_decode(text: str) -> str:
    """``wp_specialchars_decode($text, ENT_QUOTES)``: what WooCommerce applies to webhook secrets."""
    return _SPECIALCHARS_RE.sub(lambda m: _SPECIALCHARS[m.group(0).lower()], text)


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

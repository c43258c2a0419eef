"""One table from HTTP outcome to Waybill's error classes (the retry decision)."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from core.errors import Permanent, Retryable, Throttled


class AuthError(Permanent):
    """The platform refused our credentials (401/403): the store must be reconnected."""


class NotFound(Permanent):
    """The resource does not exist on the platform (404/410)."""


class Rejected(Permanent):
    """The platform refused the request as invalid (400/409/422 and other 4xx)."""


# What an error message may keep of an outside answer: the HTTP status and the platform's
# error code (an identifier such as ``woocommerce_rest_invalid_id``, ``THROTTLED``,
# ``SHIPMENT.POSTAGE.EXISTS``). Never the message or body text: a store or carrier wrote
# those, at any length, and they end up in timelines, dead letters and logs.
MAX_CODE_LENGTH = 64
_CODE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.:/-]{{0,{MAX_CODE_LENGTH - 1}}}")


def platform_code(value: object) -> str | None:
    """``value`` if it is an error code (short, identifier characters only), else None."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value)
    return text if _CODE.fullmatch(text) else None


RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504}
PERMANENT_BY_STATUS: dict[int, type[Permanent]] = {
    401: AuthError,
    403: AuthError,
    404: NotFound,
    410: NotFound,
}


def retry_after_s(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def error_for_status(status: int, message: str, headers: Any = None) -> Exception | None:
    """The error an HTTP status means, or None for success."""
    if status < 400:
        return None
    if status == 429:
        return Throttled(f"HTTP {status}: {message}", wait_s=retry_after_s(headers))
    if status in RETRYABLE_STATUSES or status >= 500:
        return Retryable(f"HTTP {status}: {message}", wait_s=retry_after_s(headers))
    return PERMANENT_BY_STATUS.get(status, Rejected)(f"HTTP {status}: {message}")


def error_for_exception(exc: Exception, what: str) -> Exception:
    """Transport failures: the request may or may not have arrived, so retry."""
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return Retryable(f"{what}: {type(exc).__name__}")
    return exc

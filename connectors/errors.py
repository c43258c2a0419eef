"""One table from HTTP outcome to Waybill's error classes (the retry decision)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

import requests

from core.errors import Permanent, Retryable


class AuthError(Permanent):
    """The platform refused our credentials (401/403): the store must be reconnected."""


class NotFound(Permanent):
    """The resource does not exist on the platform (404/410)."""


class Rejected(Permanent):
    """The platform refused the request as invalid (400/409/422 and other 4xx)."""


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
    if status in RETRYABLE_STATUSES or status >= 500:
        return Retryable(f"HTTP {status}: {message}", wait_s=retry_after_s(headers))
    return PERMANENT_BY_STATUS.get(status, Rejected)(f"HTTP {status}: {message}")


def raise_for_response(response: requests.Response, what: str) -> None:
    error = error_for_status(response.status_code, f"{what}: {response.text[:300]}", response.headers)
    if error is not None:
        raise error


def error_for_exception(exc: Exception, what: str) -> Exception:
    """Transport failures: the request may or may not have arrived, so retry."""
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return Retryable(f"{what}: {type(exc).__name__}")
    return exc

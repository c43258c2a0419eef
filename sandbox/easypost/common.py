"""Shared pieces of the EasyPost simulator: ids, timestamps, money and API errors."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from werkzeug.wrappers import Response

from sandbox.harness import json_response

Json = dict[str, Any]
CENT = Decimal("0.01")


class ApiError(Exception):
    """An error answered with EasyPost's body: ``{"error": {"code", "message", "errors"}}``."""

    def __init__(self, status: int, code: str, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []

    def response(self) -> Response:
        body = {"error": {"code": self.code, "message": self.message, "errors": self.errors}}
        return json_response(body, self.status)


# One table from HTTP status to EasyPost's code and message, used for injected faults
# and for routes that do not exist.
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BAD_REQUEST", "The request could not be understood."),
    401: ("APIKEY.REQUIRED", "Missing or invalid API key."),
    404: ("NOT_FOUND", "The requested resource could not be found."),
    405: ("METHOD.NOT_ALLOWED", "The requested method is not allowed for this resource."),
    429: ("RATE_LIMITED", "You have exceeded the rate limit. Please slow down your requests."),
    500: ("INTERNAL_SERVER_ERROR", "We're sorry, something went wrong. Please try again later."),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable. Please try again later."),
    504: ("GATEWAY_TIMEOUT", "The request timed out. Please try again later."),
}


def status_error(status: int) -> ApiError:
    code, message = STATUS_ERRORS.get(status, ("INTERNAL_SERVER_ERROR", STATUS_ERRORS[500][1]))
    return ApiError(status, code, message)


def not_found() -> ApiError:
    return status_error(404)


def param_required(field: str) -> ApiError:
    return ApiError(
        422,
        "PARAMETER.REQUIRED",
        "Missing required parameter.",
        [{"field": field, "message": "cannot be blank"}],
    )


class IdMaker:
    """EasyPost-style ids (``shp_`` + 32 hex), from a seeded generator so runs replay."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_{uuid.UUID(int=self._rng.getrandbits(128)).hex}"

    def digits(self, count: int) -> str:
        with self._lock:
            return "".join(str(self._rng.randrange(10)) for _ in range(count))


def iso(ts: float) -> str:
    """Timestamp as most EasyPost objects write it: ``2025-03-07T16:46:20Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_offset(ts: float) -> str:
    """Timestamp as Address objects write it: ``2025-03-07T16:46:20+00:00``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def iso_millis(ts: float) -> str:
    """Timestamp as Event objects write it: ``2025-03-06T19:48:05.456Z``."""
    stamp = datetime.fromtimestamp(ts, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def money(value: Decimal | str | float | int) -> str:
    """Two-decimal string, as rates and insurance amounts are sent."""
    return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))


def fee_amount(value: Decimal | str) -> str:
    """Five-decimal string, as Fee amounts are sent (``"6.07000"``)."""
    return str(Decimal(str(value)).quantize(Decimal("0.00001")))


def paginate(items: list[Json], args: Any, key: str) -> Json:
    """EasyPost list page: newest first, ``before_id``/``after_id`` cursors, ``has_more``."""
    ordered = list(reversed(items))
    before, after = args.get("before_id"), args.get("after_id")
    ids = [item["id"] for item in ordered]
    if before in ids:
        ordered = ordered[ids.index(before) + 1 :]
    elif after in ids:
        ordered = ordered[: ids.index(after)]
    try:
        size = max(1, min(100, int(args.get("page_size", 20))))
    except ValueError as exc:
        raise ApiError(
            422,
            "PARAMETER.INVALID",
            "Invalid parameter.",
            [{"field": "page_size", "message": "must be an integer"}],
        ) from exc
    return {key: ordered[:size], "has_more": len(ordered) > size}

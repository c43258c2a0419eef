"""Ids, cursors and timestamps as Shopify writes them."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from datetime import UTC, datetime
from typing import Any

# Real Shopify ids are 64-bit and exceed 2^53, so clients that parse them as floats
# break; starting above 2^53 makes the sandbox catch that mistake.
FIRST_ID = 2**53 + 10_007


class IdSource:
    """Hands out unique, increasing integer ids (one sequence for every resource type)."""

    def __init__(self, start: int = FIRST_ID) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._counter)


def gid(type_name: str, number: int) -> str:
    return f"gid://shopify/{type_name}/{number}"


def parse_gid(value: Any, type_name: str) -> int | None:
    """The number in ``gid://shopify/<type_name>/<n>``, or None when it is not one."""
    prefix = f"gid://shopify/{type_name}/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    number = value[len(prefix) :].split("?", 1)[0]
    return int(number) if number.isdigit() else None


def encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def decode_cursor(cursor: str) -> tuple[Any, ...] | None:
    try:
        return tuple(json.loads(base64.urlsafe_b64decode(cursor.encode())))
    except (ValueError, TypeError):
        return None


def iso_utc(timestamp: float) -> str:
    """GraphQL ``DateTime``: ``2026-11-28T03:02:00Z``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_offset(timestamp: float) -> str:
    """Webhook payload time: ``2026-11-28T03:02:00+00:00``."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def parse_time(text: str) -> float | None:
    """A timestamp from an ISO 8601 string (``Z`` or offset; a bare date is midnight UTC)."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()

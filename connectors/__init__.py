"""Connectors: one folder per outside system (settings, HTTP client, pure mappers, status tables).

This module holds the few readers every mapper shares: they turn one field of a
platform payload into an exact Python value, or raise ``MappingError`` saying which
field was wrong and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.errors import Permanent
from core.money import Money, parse_amount

MAX_SHOWN = 40


def shown(value: object) -> str:
    """A payload value as an error message may quote it: short, and never an e-mail address.

    Mapping errors reach dead letters and timelines; the payload itself stays in the inbox.
    """
    text = repr(value)
    if "@" in text:
        return f"<{type(value).__name__} of {len(str(value))} characters>"
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 3]}..."


class MappingError(Permanent):
    """A platform payload lacks a field Waybill needs, or carries it in an impossible form.

    Permanent: the same payload will fail the same way on every retry.
    """


def require(payload: Mapping[str, Any], key: str, where: str) -> Any:
    """``payload[key]``, which must be present and not null."""
    value = payload.get(key)
    if value is None:
        raise MappingError(f"{where}: missing required field {key!r}")
    return value


def exact_id(value: object, what: str) -> str:
    """A platform id as an exact decimal string (from a JSON integer or a digit string).

    Floats are refused: ids above 2**53 cannot survive one, and a wrong id is worse
    than none.
    """
    if isinstance(value, bool | float):
        raise MappingError(f"{what}: id {shown(value)} is not an exact integer")
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return str(int(value))
    raise MappingError(f"{what}: id {shown(value)} is not a non-negative integer")


def optional_id(value: object, what: str) -> str | None:
    """``exact_id`` for ids that may be absent (``None``; WooCommerce says ``0``)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        return None
    return exact_id(value, what)


def amount(value: object, what: str) -> Decimal:
    """An exact Decimal from a money string (or integer)."""
    try:
        return parse_amount(value)
    except ValueError as exc:
        raise MappingError(f"{what}: amount {shown(value)} is not a decimal string") from exc


def money(value: object, currency: str, what: str) -> Money:
    return Money(amount(value, what), currency)


def utc_time(value: object, what: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time converted to UTC.

    A time without a zone is refused unless ``naive_is_utc`` (WooCommerce's ``*_gmt``
    fields are UTC written without a suffix).
    """
    if not isinstance(value, str):
        raise MappingError(f"{what}: time {shown(value)} is not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MappingError(f"{what}: {shown(value)} is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise MappingError(f"{what}: time {shown(value)} has no zone")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def text(value: object) -> str | None:
    """A text field, with absent, empty and blank all meaning ``None``."""
    if value is None:
        return None
    result = str(value)
    return result if result.strip() else None


def whole_number(value: object, what: str) -> int:
    """A count (quantity, grams) that must be a JSON integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"{what}: {shown(value)} is not an integer")
    return value

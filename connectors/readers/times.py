"""Platform times as aware UTC datetimes.

:func:`utc_time` is the strict reader of mappers (``MappingError`` naming the field; a
time without a zone refused unless the field is known to be UTC); :func:`naive_utc` reads
a time a platform writes in UTC without a suffix (``*_gmt`` fields), and
:func:`optional_utc_time` the same for a value that may be blank.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.readers.errors import MappingError, shown


def utc_time(value: object, what: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time converted to UTC.

    A time without a zone is refused unless ``naive_is_utc`` (fields that are UTC
    written without a suffix).
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


def naive_utc(stamp: Any) -> datetime:
    """An ISO 8601 time as an aware UTC time; one written without a zone is UTC.

    ``ValueError`` when it does not read as a time."""
    value = datetime.fromisoformat(str(stamp).strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def optional_utc_time(value: Any) -> datetime | None:
    """:func:`naive_utc`, with an absent or blank value read as no time."""
    if not value or not str(value).strip():
        return None
    return naive_utc(value)

"""Connectors: one folder per outside system (settings, HTTP client, pure mappers, status tables).

This module holds the few readers every mapper shares: they turn one field of a
platform payload into an exact Python value, or raise ``MappingError`` saying which
field was wrong and why. Ids, times and money are read in ``connectors/readers/`` (one
module per concern) and re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.readers.errors import MAX_SHOWN, MappingError, shown
from connectors.readers.ids import exact_id, optional_id
from connectors.readers.money import amount, money
from connectors.readers.times import utc_time

__all__ = [
    "MAX_SHOWN",
    "MappingError",
    "amount",
    "exact_id",
    "money",
    "optional_id",
    "require",
    "shown",
    "text",
    "utc_time",
    "whole_number",
]


def require(payload: Mapping[str, Any], key: str, where: str) -> Any:
    """``payload[key]``, which must be present and not null."""
    value = payload.get(key)
    if value is None:
        raise MappingError(f"{where}: missing required field {key!r}")
    return value


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

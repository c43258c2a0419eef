"""Platform ids, read exactly (never through a float: ids above 2**53 would be rounded).

Two meanings, two functions: :func:`exact_id` reads an order's or line's id for a mapper
(a decimal string, refusing anything else with ``MappingError``); :func:`id_number` reads
a catalog id as an int, from an int, a decimal string or a GraphQL global id
(``gid://<app>/<Type>/<number>``), raising ``ValueError``.
"""

from __future__ import annotations

from typing import Any

from connectors.readers.errors import MappingError, shown

GID_PREFIX = "gid://"


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
    """``exact_id`` for ids that may be absent (``None``; some platforms say ``0``)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        return None
    return exact_id(value, what)


def id_text(value: object) -> str | None:
    """An id a body names, as it is written (a JSON integer or a string); None when absent or
    of another type. For ids only compared with held ones, never stored as new."""
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) and str(value) else None


def gid_tail(value: str) -> str:
    """The last segment of a GraphQL global id without its query (``gid://a/T/12?x=1`` is ``12``);
    any other text unchanged."""
    if value.startswith(GID_PREFIX):
        return value.rsplit("/", 1)[-1].split("?", 1)[0]
    return value


def id_number(value: Any) -> int:
    """An id as an exact int: from an int, a decimal string or a ``gid://app/Type/123`` string.

    Booleans, floats and anything else that is not a whole decimal number raise ``ValueError``.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = gid_tail(value.strip())
        if text.isascii() and text.isdigit():
            return int(text)
    raise ValueError(f"not an id: {value!r}")

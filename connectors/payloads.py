"""The shape every signed webhook body must have before a mapper reads it.

A body that fails here fails the same way on every retry: :class:`MalformedPayload` is
``Permanent``. Messages name the field and the JSON type found, never the value (a
value may be someone's personal data).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from connectors import MappingError

MAX_ID = 2**63 - 1  # ids are signed 64-bit on every platform (PostgreSQL bigint)
_GID_TAIL = re.compile(r"^gid://[^/]+/[A-Za-z]+/(?P<number>\d+)(\?.*)?$")


class MalformedPayload(MappingError):
    """A signed body that is not an object, is nested too deep, or has a field of the wrong type."""


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return (
        "array" if isinstance(value, list) else "object" if isinstance(value, dict) else type(value).__name__
    )


def check_shape(
    payload: Any,
    *,
    max_depth: int,
    lists: Collection[str] = (),
    objects: Collection[str] = (),
    opaque: Collection[str] = ("value",),
) -> dict[str, Any]:
    """``payload`` itself when it is a JSON object of the expected shape, else ``MalformedPayload``.

    - the body is an object, nested at most ``max_depth`` levels;
    - every ``id`` and ``*_id`` is null, a string, or a whole number in 0..2^63-1 (a digit
      string or a gid's number likewise); every ``*_ids`` is an array of such ids;
    - a top-level key in ``lists`` holds an array (or null), one in ``objects`` an object (or
      null): what the mappers iterate or read into;
    - under a key in ``opaque`` (free-form data: metadata ``value``) only the depth counts.

    Iterative, so a deep body costs no recursion.
    """
    if not isinstance(payload, dict):
        raise MalformedPayload(f"body is a JSON {json_type(payload)}, not an object")
    stack: list[tuple[Any, int, str, bool]] = [(payload, 1, "", True)]
    while stack:
        node, depth, path, typed = stack.pop()
        if depth > max_depth:
            raise MalformedPayload(f"body is nested deeper than {max_depth} levels")
        if isinstance(node, list):
            stack.extend((v, depth + 1, f"{path}[]", typed) for v in node if isinstance(v, dict | list))
            continue
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if not typed:
                if isinstance(value, dict | list):
                    stack.append((value, depth + 1, where, False))
                continue
            if key == "id" or key.endswith("_id"):
                _check_id(value, where)
            elif key.endswith("_ids") and value is not None:
                if not isinstance(value, list):
                    raise MalformedPayload(
                        f"{where}: an array of ids expected, got a JSON {json_type(value)}"
                    )
                for item in value:
                    _check_id(item, f"{where}[]")
            if depth == 1 and key in lists and value is not None and not isinstance(value, list):
                raise MalformedPayload(f"{where}: an array expected, got a JSON {json_type(value)}")
            if depth == 1 and key in objects and value is not None and not isinstance(value, dict):
                raise MalformedPayload(f"{where}: an object expected, got a JSON {json_type(value)}")
            if isinstance(value, dict | list):
                stack.append((value, depth + 1, where, key not in opaque))
    return payload


def _check_id(value: object, where: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedPayload(f"{where}: an id expected, got a JSON {json_type(value)}")
    if isinstance(value, str):
        match = _GID_TAIL.match(value)
        digits = match["number"] if match else value if value.isascii() and value.isdigit() else None
        if digits is None:
            return  # an opaque id ("shp_...", "evt_..."): the mapper decides
        value = int(digits)
    if not 0 <= value <= MAX_ID:
        raise MalformedPayload(f"{where}: id outside 0..2^63-1")

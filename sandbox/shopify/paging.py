"""Cursor pagination over in-memory lists, with Shopify's argument rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLError

from sandbox.shopify.ids import decode_cursor, encode_cursor

T = TypeVar("T")
MAX_PAGE = 250


def connection(
    items: Sequence[T],
    args: dict[str, Any],
    view: Callable[[T], dict[str, Any]],
    key: Callable[[T], tuple[Any, ...]],
) -> dict[str, Any]:
    """A ``*Connection`` object (edges, nodes, pageInfo) for one page of ``items``."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise GraphQLError(f"The value of the argument `{name}` must be between 0 and {MAX_PAGE}")
    ordered = sorted(items, key=key, reverse=bool(args.get("reverse")))
    keys = [key(item) for item in ordered]
    start, end = 0, len(ordered)
    if args.get("after"):
        start = _position(keys, args["after"], after=True, reverse=bool(args.get("reverse")))
    if args.get("before"):
        end = _position(keys, args["before"], after=False, reverse=bool(args.get("reverse")))
    window = list(range(start, max(start, end)))
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[-last:] if last else []
    nodes = [view(ordered[i]) for i in window]
    cursors = [encode_cursor(keys[i]) for i in window]
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "pageInfo": {
            "hasNextPage": bool(window) and window[-1] < end - 1,
            "hasPreviousPage": bool(window) and window[0] > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _position(keys: list[tuple[Any, ...]], cursor: str, after: bool, reverse: bool) -> int:
    """Index of the first item after (or the end index before) the cursor's key."""
    decoded = decode_cursor(cursor)
    if decoded is None:
        raise GraphQLError("Invalid cursor for current pagination sort.")
    for index, item_key in enumerate(keys):
        beyond = item_key < decoded if reverse else item_key > decoded
        if after and beyond:
            return index
        if not after and (beyond or item_key == decoded):
            return index
    return len(keys)

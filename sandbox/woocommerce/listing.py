"""Collection queries: WordPress' parameter validation, filters, ordering and pagination headers."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from sandbox.woocommerce.errors import invalid_param
from sandbox.woocommerce.store import Record, Store

MAX_PER_PAGE = 100
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}(?::?\d{2})?)?$")
# orderby value -> sort key on a record.
ORDER_KEYS: dict[str, Callable[[Record], Any]] = {
    "date": lambda r: r["created"],
    "id": lambda r: r["id"],
    "modified": lambda r: r["modified"],
    "title": lambda r: r.get("name", ""),
    "slug": lambda r: r.get("slug", ""),
}


@dataclass
class Query:
    """A validated collection request."""

    page: int
    per_page: int
    order: str
    orderby: str
    filters: list[Callable[[Record], bool]]


def _int_param(args: MultiDict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(name, f"{name} is not of type integer.", "rest_invalid_type") from None
    if value < low or (high is not None and value > high):
        bounds = (
            f"between {low} (inclusive) and {high} (inclusive)" if high else f"greater than or equal to {low}"
        )
        raise invalid_param(name, f"{name} must be {bounds}", "rest_out_of_bounds")
    return value


def _enum_param(args: MultiDict[str, str], name: str, default: str, allowed: Iterable[str]) -> str:
    value = args.get(name) or default
    allowed = list(allowed)
    if value not in allowed:
        raise invalid_param(name, f"{name} is not one of {', '.join(allowed)}.", "rest_not_in_enum")
    return value


def parse_date(store: Store, raw: str, name: str, gmt: bool) -> float:
    """An ISO 8601 date as WordPress reads it: no zone means site time, unless ``dates_are_gmt``."""
    match = _DATE.match(raw.strip())
    if match is None:
        raise invalid_param(name, "Invalid date.", "rest_invalid_date")
    naive = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}").replace(tzinfo=UTC)
    zone = match.group(4)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        naive -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    elif not zone and not gmt:
        naive -= timedelta(seconds=store.utc_offset_s)
    return naive.timestamp()


def _date_filters(store: Store, args: MultiDict[str, str]) -> list[Callable[[Record], bool]]:
    gmt = args.get("dates_are_gmt", "").lower() in ("1", "true")
    bounds = (
        ("after", "created", 1),
        ("before", "created", -1),
        ("modified_after", "modified", 1),
        ("modified_before", "modified", -1),
    )
    filters: list[Callable[[Record], bool]] = []
    for name, field, direction in bounds:
        if args.get(name):
            limit = parse_date(store, args[name], name, gmt)
            filters.append(_date_bound(field, limit, direction))
    return filters


def _date_bound(field: str, limit: float, direction: int) -> Callable[[Record], bool]:
    """A strict bound, as WP_Date_Query's ``after``/``before`` are exclusive."""
    if direction > 0:
        return lambda r: bool(r[field] > limit)
    return lambda r: bool(r[field] < limit)


def parse_query(
    store: Store, args: MultiDict[str, str], orderby: Iterable[str] = ("date", "id", "modified")
) -> Query:
    """Validate the common collection parameters (raises ``rest_invalid_param``)."""
    page = _int_param(args, "page", 1, 1, None)
    per_page = _int_param(args, "per_page", 10, 1, MAX_PER_PAGE)
    order = _enum_param(args, "order", "desc", ("asc", "desc"))
    sort = _enum_param(args, "orderby", "date", orderby)
    filters = _date_filters(store, args)
    if args.get("include"):
        wanted = {int(x) for x in re.split(r"[,\s]+", args["include"]) if x.isdigit()}
        filters.append(lambda r: r["id"] in wanted)
    return Query(page, per_page, order, sort, filters)


def paginate(query: Query, records: Iterable[Record]) -> tuple[list[Record], int, int]:
    """Filter, sort and slice; returns (page items, total, total pages)."""
    chosen = [r for r in records if all(f(r) for f in query.filters)]
    key = ORDER_KEYS[query.orderby]
    chosen.sort(key=lambda r: (key(r), r["id"]), reverse=query.order == "desc")
    total = len(chosen)
    pages = math.ceil(total / query.per_page) if total else 0
    start = (query.page - 1) * query.per_page
    return chosen[start : start + query.per_page], total, pages


def page_headers(
    base_url: str, args: MultiDict[str, str], query: Query, total: int, pages: int
) -> dict[str, str]:
    """``X-WP-Total``, ``X-WP-TotalPages`` and the ``Link`` header with prev/next pages."""
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    kept = [(k, v) for k, v in args.items(multi=True) if not k.startswith("oauth_") and k != "page"]
    links = []
    if query.page > 1:
        links.append(
            f'<{base_url}?{urlencode([*kept, ("page", min(query.page - 1, max(pages, 1)))])}>; rel="prev"'
        )
    if pages > query.page:
        links.append(f'<{base_url}?{urlencode([*kept, ("page", query.page + 1)])}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return headers

"""What REST handlers share: the request context, body parsing, collections and batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from werkzeug.wrappers import Request

from sandbox.woocommerce.auth import ApiKey
from sandbox.woocommerce.errors import WooError, batch_too_large
from sandbox.woocommerce.listing import page_headers, paginate, parse_query
from sandbox.woocommerce.store import Record, Store
from sandbox.woocommerce.webhooks import WebhookHub

# (body, HTTP status, extra headers)
Reply = tuple[Any, int, dict[str, str]]
Serializer = Callable[[Record], dict[str, Any]]


@dataclass
class Ctx:
    """One authenticated REST call."""

    request: Request
    store: Store
    key: ApiKey | None
    batch_limit: int
    emit: Callable[[str, int], None]
    hub: WebhookHub

    def params(self) -> dict[str, Any]:
        """WP_REST_Request::get_params: JSON body over form body over query string (last repeat wins)."""
        merged: dict[str, Any] = {
            k: v for k, v in self.request.args.items(multi=True) if not k.startswith("oauth_")
        }
        merged.update(self.request.form.items(multi=True))
        body = self.request.get_json(silent=True) if self.request.mimetype == "application/json" else None
        if isinstance(body, dict):
            merged.update(body)
        return merged

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.params().get(name, default)
        return value is True or str(value).lower() in ("1", "true", "yes")


def collection(
    ctx: Ctx,
    path: str,
    records: Iterable[Record],
    to_json: Serializer,
    orderby: Iterable[str] = ("date", "id", "modified"),
) -> Reply:
    """List records with WordPress pagination (``per_page`` <= 100, ``X-WP-Total``/``X-WP-TotalPages``)."""
    query = parse_query(ctx.store, ctx.request.args, orderby)
    page, total, pages = paginate(query, records)
    base = f"{ctx.store.home_url.rstrip('/')}/wp-json/wc/v3/{path}"
    return [to_json(r) for r in page], 200, page_headers(base, ctx.request.args, query, total, pages)


def _failure(item_id: int, err: WooError) -> dict[str, Any]:
    return {"id": item_id, "error": err.body()}


def batch(
    ctx: Ctx,
    create: Callable[[dict[str, Any]], dict[str, Any]],
    update: Callable[[int, dict[str, Any]], dict[str, Any]],
    delete: Callable[[int], dict[str, Any]],
) -> Reply:
    """``WC_REST_Controller::batch_items``: at most ``batch_limit`` create+update+delete items."""
    params = ctx.params()
    parts = {name: params.get(name) or [] for name in ("create", "update", "delete")}
    if sum(len(v) for v in parts.values() if isinstance(v, list)) > ctx.batch_limit:
        raise batch_too_large(ctx.batch_limit)
    reply: dict[str, list[dict[str, Any]]] = {}
    if "create" in params:
        reply["create"] = [_guard(0, partial(create, item)) for item in parts["create"]]
    if "update" in params:
        reply["update"] = [_guard(_id(item), partial(update, _id(item), item)) for item in parts["update"]]
    if "delete" in params:
        reply["delete"] = [_guard(_id(item), partial(delete, _id(item))) for item in parts["delete"]]
    return reply, 200, {}


def _id(item: Any) -> int:
    raw = item.get("id", 0) if isinstance(item, dict) else item
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def _guard(item_id: int, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return action()
    except WooError as err:
        return _failure(item_id, err)

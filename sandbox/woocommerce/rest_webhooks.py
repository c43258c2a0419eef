"""REST handlers for ``webhooks`` (CRUD; statuses active, paused, disabled)."""

from __future__ import annotations

from typing import Any

from sandbox.woocommerce.api import Ctx, Reply, collection
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.webhooks import WebhookHub


def _hub(ctx: Ctx) -> WebhookHub:
    return ctx.hub


def list_webhooks(ctx: Ctx) -> Reply:
    hub = _hub(ctx)
    status = ctx.request.args.get("status", "all")
    records = [r for r in hub.hooks.values() if status in ("all", r["status"])]
    return collection(ctx, "webhooks", records, hub.to_json, ("date", "id", "title"))


def create_webhook(ctx: Ctx) -> Reply:
    hub = _hub(ctx)
    params = ctx.params()
    if params.get("id"):
        raise WooError("woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook.", 400)
    record = hub.create(params, user_id=ctx.key.user_id if ctx.key else 1)
    location = f"{ctx.store.home_url.rstrip('/')}/wp-json/wc/v3/webhooks/{record['id']}"
    return hub.to_json(record, edit=True), 201, {"Location": location}


def get_webhook(ctx: Ctx, webhook_id: int) -> Reply:
    hub = _hub(ctx)
    return hub.to_json(hub.get(webhook_id)), 200, {}


def update_webhook(ctx: Ctx, webhook_id: int) -> Reply:
    hub = _hub(ctx)
    record = hub.get(webhook_id)
    hub.update(record, ctx.params())
    return hub.to_json(record, edit=True), 200, {}


def delete_webhook(ctx: Ctx, webhook_id: int) -> Reply:
    hub = _hub(ctx)
    if not ctx.flag("force"):
        raise WooError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
    record = hub.get(webhook_id, status=404, message="Invalid ID.")
    body = hub.to_json(record, edit=True)
    del hub.hooks[webhook_id]
    return body, 200, {}


ROUTES: list[tuple[str, tuple[str, ...], str, str, Any]] = [
    ("webhooks", ("GET",), "webhooks.list", "list", list_webhooks),
    ("webhooks", ("POST",), "webhooks.create", "create", create_webhook),
    ("webhooks/<int:webhook_id>", ("GET",), "webhooks.get", "read", get_webhook),
    ("webhooks/<int:webhook_id>", ("POST", "PUT", "PATCH"), "webhooks.update", "edit", update_webhook),
    ("webhooks/<int:webhook_id>", ("DELETE",), "webhooks.delete", "delete", delete_webhook),
]

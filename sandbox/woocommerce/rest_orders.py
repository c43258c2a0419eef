"""REST handlers for ``orders`` (with batch), ``orders/<id>/refunds`` and ``orders/<id>/notes``."""

from __future__ import annotations

from typing import Any

from sandbox.woocommerce import orders
from sandbox.woocommerce.api import Ctx, Reply, batch, collection
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.order_shapes import note_json, order_json, refund_json
from sandbox.woocommerce.refunds import create_refund
from sandbox.woocommerce.store import Record


def list_orders(ctx: Ctx) -> Reply:
    wanted = {s.strip() for s in ctx.request.args.get("status", "any").split(",") if s.strip()}
    records = [
        o
        for o in ctx.store.orders.values()
        if (o["status"] != "trash" if "any" in wanted else o["status"] in wanted)
    ]
    return collection(
        ctx, "orders", records, lambda r: order_json(ctx.store, r), ("date", "id", "modified", "title")
    )


def _create_order(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("id"):
        raise WooError("woocommerce_rest_shop_order_exists", "Cannot create existing shop_order.", 400)
    if "status" in data:
        orders.validate_status(data["status"], ctx.store)
    return order_json(ctx.store, orders.new_order(ctx.store, data))


def _update_order(ctx: Ctx, order_id: int, data: dict[str, Any]) -> dict[str, Any]:
    record = ctx.store.order(order_id)
    orders.update_order(ctx.store, record, data)
    return order_json(ctx.store, record)


def _delete_order(ctx: Ctx, order_id: int, force: bool) -> dict[str, Any]:
    record = ctx.store.order(order_id)
    body = order_json(ctx.store, record)
    if force:
        # Permanent deletion does not run the trash hooks, so no order.deleted webhook.
        del ctx.store.orders[order_id]
        return body
    if record["status"] == "trash":
        raise WooError("woocommerce_rest_already_trashed", "The shop_order has already been deleted.", 410)
    record["trashed_from"], record["status"] = record["status"], "trash"
    ctx.store.touch(record)
    ctx.emit("order.deleted", order_id)
    body["status"] = "trash"
    return body


def create_order(ctx: Ctx) -> Reply:
    return _create_order(ctx, ctx.params()), 201, {}


def get_order(ctx: Ctx, order_id: int) -> Reply:
    return order_json(ctx.store, ctx.store.order(order_id)), 200, {}


def update_order(ctx: Ctx, order_id: int) -> Reply:
    return _update_order(ctx, order_id, ctx.params()), 200, {}


def delete_order(ctx: Ctx, order_id: int) -> Reply:
    return _delete_order(ctx, order_id, ctx.flag("force")), 200, {}


def batch_orders(ctx: Ctx) -> Reply:
    return batch(
        ctx,
        lambda item: _create_order(ctx, item),
        lambda oid, item: _update_order(ctx, oid, item),
        lambda oid: _delete_order(ctx, oid, True),
    )


# -- refunds
def _refund_order(ctx: Ctx, order_id: int) -> Record:
    record = ctx.store.orders.get(order_id)
    if record is None:
        raise WooError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
    return record


def list_refunds(ctx: Ctx, order_id: int) -> Reply:
    order = _refund_order(ctx, order_id)
    records = [ctx.store.refunds[r] for r in order["refund_ids"]]
    return collection(
        ctx,
        f"orders/{order_id}/refunds",
        [{**r, "modified": r["created"]} for r in records],
        lambda r: refund_json(ctx.store, r),
    )


def post_refund(ctx: Ctx, order_id: int) -> Reply:
    return (
        refund_json(ctx.store, create_refund(ctx.store, _refund_order(ctx, order_id), ctx.params())),
        201,
        {},
    )


def get_refund(ctx: Ctx, order_id: int, refund_id: int) -> Reply:
    order = _refund_order(ctx, order_id)
    if refund_id not in order["refund_ids"]:
        raise WooError("woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.", 404)
    return refund_json(ctx.store, ctx.store.refunds[refund_id]), 200, {}


# -- notes
def _note_order(ctx: Ctx, order_id: int) -> Record:
    record = ctx.store.orders.get(order_id)
    if record is None:
        raise WooError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
    return record


def list_notes(ctx: Ctx, order_id: int) -> Reply:
    _note_order(ctx, order_id)
    kind = ctx.request.args.get("type", "any")
    notes = [n for n in ctx.store.notes.values() if n["order_id"] == order_id]
    if kind in ("customer", "internal"):
        notes = [n for n in notes if n["customer_note"] == (kind == "customer")]
    notes.sort(key=lambda n: (n["created"], n["id"]), reverse=True)
    return [note_json(ctx.store, n) for n in notes], 200, {}


def create_note(ctx: Ctx, order_id: int) -> Reply:
    order = _note_order(ctx, order_id)
    params = ctx.params()
    if not params.get("note"):
        raise WooError("rest_missing_callback_param", "Missing parameter(s): note", 400, params=["note"])
    author = "admin" if ctx.flag("added_by_user") else "system"
    note = orders.add_note(ctx.store, order, str(params["note"]), ctx.flag("customer_note"), author)
    return note_json(ctx.store, note), 201, {}


def get_note(ctx: Ctx, order_id: int, note_id: int) -> Reply:
    _note_order(ctx, order_id)
    note = ctx.store.notes.get(note_id)
    if note is None or note["order_id"] != order_id:
        raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
    return note_json(ctx.store, note), 200, {}


def delete_note(ctx: Ctx, order_id: int, note_id: int) -> Reply:
    body, _, _ = get_note(ctx, order_id, note_id)
    if not ctx.flag("force"):
        raise WooError("woocommerce_rest_trash_not_supported", "Notes do not support trashing.", 501)
    del ctx.store.notes[note_id]
    return body, 200, {}


ROUTES: list[tuple[str, tuple[str, ...], str, str, Any]] = [
    ("orders", ("GET",), "orders.list", "list", list_orders),
    ("orders", ("POST",), "orders.create", "create", create_order),
    ("orders/batch", ("POST", "PUT", "PATCH"), "orders.batch", "batch", batch_orders),
    ("orders/<int:order_id>", ("GET",), "orders.get", "read", get_order),
    ("orders/<int:order_id>", ("POST", "PUT", "PATCH"), "orders.update", "edit", update_order),
    ("orders/<int:order_id>", ("DELETE",), "orders.delete", "delete", delete_order),
    ("orders/<int:order_id>/refunds", ("GET",), "refunds.list", "list", list_refunds),
    ("orders/<int:order_id>/refunds", ("POST",), "refunds.create", "create", post_refund),
    ("orders/<int:order_id>/refunds/<int:refund_id>", ("GET",), "refunds.get", "read", get_refund),
    ("orders/<int:order_id>/notes", ("GET",), "notes.list", "list", list_notes),
    ("orders/<int:order_id>/notes", ("POST",), "notes.create", "create", create_note),
    ("orders/<int:order_id>/notes/<int:note_id>", ("GET",), "notes.get", "read", get_note),
    ("orders/<int:order_id>/notes/<int:note_id>", ("DELETE",), "notes.delete", "delete", delete_note),
]

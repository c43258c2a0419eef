"""REST handlers for ``products``, ``products/<id>/variations`` and their batch endpoints."""

from __future__ import annotations

from typing import Any

from sandbox.woocommerce import catalog
from sandbox.woocommerce.api import Ctx, Reply, batch, collection
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.store import Record

PRODUCT_ORDERBY = ("date", "id", "modified", "title", "slug")


def _filters(ctx: Ctx, records: list[Record]) -> list[Record]:
    args = ctx.request.args
    if args.get("sku"):
        skus = {s.strip() for s in args["sku"].split(",")}
        records = [r for r in records if r["sku"] in skus]
    status = args.get("status", "any")
    if status == "any":
        records = [r for r in records if r["status"] != "trash"]
    else:
        records = [r for r in records if r["status"] == status]
    if args.get("type"):
        records = [r for r in records if r["type"] == args["type"]]
    return records


# -- products
def list_products(ctx: Ctx) -> Reply:
    records = [p for p in ctx.store.products.values() if p["type"] != "variation"]
    return collection(
        ctx, "products", _filters(ctx, records), lambda r: catalog.product_json(ctx.store, r), PRODUCT_ORDERBY
    )


def _create_product(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    if data.get("id"):
        raise WooError("woocommerce_rest_product_exists", "Cannot create existing product.", 400)
    record = catalog.new_product(ctx.store, data)
    ctx.emit("product.created", record["id"])
    return catalog.product_json(ctx.store, record)


def _update_product(ctx: Ctx, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
    record = ctx.store.product(product_id)
    catalog.apply_product(ctx.store, record, data)
    ctx.store.touch(record)
    ctx.emit("product.updated", record["id"])
    return catalog.product_json(ctx.store, record)


def _delete_record(ctx: Ctx, record: Record, force: bool, noun: str) -> dict[str, Any]:
    body = (
        catalog.product_json(ctx.store, record)
        if noun == "product"
        else catalog.variation_json(ctx.store, record)
    )
    if force:
        for child in record["variations"]:
            ctx.store.products.pop(child, None)
        ctx.store.products.pop(record["id"], None)
        parent = ctx.store.products.get(record["parent_id"])
        if parent is not None and record["id"] in parent["variations"]:
            parent["variations"].remove(record["id"])
        return body
    if record["status"] == "trash":
        raise WooError("woocommerce_rest_already_trashed", f"The {noun} has already been deleted.", 410)
    record["status"] = "trash"
    ctx.store.touch(record)
    ctx.emit("product.deleted", record["id"])
    body["status"] = "trash"
    return body


def create_product(ctx: Ctx) -> Reply:
    return _create_product(ctx, ctx.params()), 201, {}


def get_product(ctx: Ctx, product_id: int) -> Reply:
    return catalog.product_json(ctx.store, ctx.store.product(product_id)), 200, {}


def update_product(ctx: Ctx, product_id: int) -> Reply:
    return _update_product(ctx, product_id, ctx.params()), 200, {}


def delete_product(ctx: Ctx, product_id: int) -> Reply:
    return _delete_record(ctx, ctx.store.product(product_id), ctx.flag("force"), "product"), 200, {}


def batch_products(ctx: Ctx) -> Reply:
    return batch(
        ctx,
        lambda item: _create_product(ctx, item),
        lambda pid, item: _update_product(ctx, pid, item),
        lambda pid: _delete_record(ctx, ctx.store.product(pid), True, "product"),
    )


# -- variations
def list_variations(ctx: Ctx, product_id: int) -> Reply:
    parent = ctx.store.product(product_id)
    records = [ctx.store.products[v] for v in parent["variations"] if v in ctx.store.products]
    return collection(
        ctx,
        f"products/{product_id}/variations",
        _filters(ctx, records),
        lambda r: catalog.variation_json(ctx.store, r),
    )


def _create_variation(ctx: Ctx, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
    parent = ctx.store.product(product_id)
    record = catalog.new_product(ctx.store, data, parent=parent)
    ctx.emit("product.created", record["id"])
    return catalog.variation_json(ctx.store, record)


def _update_variation(ctx: Ctx, product_id: int, variation_id: int, data: dict[str, Any]) -> dict[str, Any]:
    record = ctx.store.variation(product_id, variation_id)
    catalog.apply_product(ctx.store, record, data)
    ctx.store.touch(record)
    ctx.emit("product.updated", record["id"])
    return catalog.variation_json(ctx.store, record)


def create_variation(ctx: Ctx, product_id: int) -> Reply:
    return _create_variation(ctx, product_id, ctx.params()), 201, {}


def get_variation(ctx: Ctx, product_id: int, variation_id: int) -> Reply:
    return catalog.variation_json(ctx.store, ctx.store.variation(product_id, variation_id)), 200, {}


def update_variation(ctx: Ctx, product_id: int, variation_id: int) -> Reply:
    return _update_variation(ctx, product_id, variation_id, ctx.params()), 200, {}


def delete_variation(ctx: Ctx, product_id: int, variation_id: int) -> Reply:
    record = ctx.store.variation(product_id, variation_id)
    return _delete_record(ctx, record, ctx.flag("force"), "product_variation"), 200, {}


def batch_variations(ctx: Ctx, product_id: int) -> Reply:
    ctx.store.product(product_id)
    return batch(
        ctx,
        lambda item: _create_variation(ctx, product_id, item),
        lambda vid, item: _update_variation(ctx, product_id, vid, item),
        lambda vid: _delete_record(ctx, ctx.store.variation(product_id, vid), True, "product_variation"),
    )


# (path under wc/v3, methods, operation name, permission action, handler)
ROUTES: list[tuple[str, tuple[str, ...], str, str, Any]] = [
    ("products", ("GET",), "products.list", "list", list_products),
    ("products", ("POST",), "products.create", "create", create_product),
    ("products/batch", ("POST", "PUT", "PATCH"), "products.batch", "batch", batch_products),
    ("products/<int:product_id>", ("GET",), "products.get", "read", get_product),
    ("products/<int:product_id>", ("POST", "PUT", "PATCH"), "products.update", "edit", update_product),
    ("products/<int:product_id>", ("DELETE",), "products.delete", "delete", delete_product),
    ("products/<int:product_id>/variations", ("GET",), "variations.list", "list", list_variations),
    ("products/<int:product_id>/variations", ("POST",), "variations.create", "create", create_variation),
    (
        "products/<int:product_id>/variations/batch",
        ("POST", "PUT", "PATCH"),
        "variations.batch",
        "batch",
        batch_variations,
    ),
    (
        "products/<int:product_id>/variations/<int:variation_id>",
        ("GET",),
        "variations.get",
        "read",
        get_variation,
    ),
    (
        "products/<int:product_id>/variations/<int:variation_id>",
        ("POST", "PUT", "PATCH"),
        "variations.update",
        "edit",
        update_variation,
    ),
    (
        "products/<int:product_id>/variations/<int:variation_id>",
        ("DELETE",),
        "variations.delete",
        "delete",
        delete_variation,
    ),
]

"""Orders: creation from a REST body or a checkout, status transitions with their stock moves, totals."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from sandbox.woocommerce import catalog
from sandbox.woocommerce.errors import WooError, invalid_param
from sandbox.woocommerce.phpjson import to_decimal
from sandbox.woocommerce.store import Record, Store

STATUS_LABELS = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
}
# wc_maybe_reduce_stock_levels / wc_maybe_increase_stock_levels are hooked to these statuses.
REDUCES_STOCK = frozenset({"processing", "completed", "on-hold"})
RESTORES_STOCK = frozenset({"cancelled", "pending"})
PAID_STATUSES = frozenset({"processing", "completed"})
# WC_Order::payment_complete only acts on an order in one of these statuses.
PAYABLE_STATUSES = frozenset({"on-hold", "pending", "failed", "cancelled"})
# Line item meta wc_reduce_stock_levels writes: the units it took off the product.
REDUCED_STOCK_KEY = "_reduced_stock"
BILLING_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
    "email",
    "phone",
)
SHIPPING_FIELDS = (*BILLING_FIELDS[:9], "phone")  # a shipping phone since WooCommerce 5.6


def _address(fields: tuple[str, ...], data: Any, current: Record | None = None) -> Record:
    base = dict(current) if current else dict.fromkeys(fields, "")
    if isinstance(data, dict):
        base.update({k: str(v) for k, v in data.items() if k in fields})
    return base


def _line_item(store: Store, data: dict[str, Any]) -> Record:
    product = None
    if data.get("variation_id"):
        product = store.products.get(int(data["variation_id"]))
    elif data.get("product_id"):
        product = store.products.get(int(data["product_id"]))
    elif data.get("sku"):
        product = store.find_by_sku(str(data["sku"]))
    if product is None:
        raise WooError("woocommerce_rest_invalid_product_id", "Invalid product ID.", 400)
    quantity = int(data.get("quantity", 1))
    unit = to_decimal(data.get("price")) or catalog.price(store, product) or Decimal(0)
    total = to_decimal(data.get("total"), unit * quantity)
    is_variation = product["type"] == "variation"
    item: Record = {
        "id": store.next_item_id(),
        "name": data.get("name") or product["name"],
        "product_id": product["parent_id"] if is_variation else product["id"],
        "variation_id": product["id"] if is_variation else 0,
        "quantity": quantity,
        "subtotal": to_decimal(data.get("subtotal"), total),
        "total": total,
        "sku": product["sku"],
        "meta_data": [],
    }
    if is_variation:
        _add_variation_attributes(store, item, product)
    return item


def _add_variation_attributes(store: Store, item: Record, variation: Record) -> None:
    """A variation's chosen attributes become item meta, as WooCommerce adds them at checkout:
    a global attribute (id > 0) as ``pa_<slug>`` = the term's slug, a custom one as ``<slug>`` =
    the option; the REST API shows the attribute's label and the option as display key and value."""
    meta, shown = [], {}
    for attribute in variation["attributes"]:
        name, option = str(attribute.get("name", "")), str(attribute.get("option", ""))
        if not name or not option:
            continue
        glob = bool(attribute.get("id"))
        key = ("pa_" if glob else "") + catalog.slugify(name)
        meta.append({"key": key, "value": catalog.slugify(option) if glob else option})
        shown[key] = (name, option)
    store.apply_meta(item, meta)
    item["meta_display"] = shown


def _shipping_line(store: Store, data: dict[str, Any]) -> Record:
    return {
        "id": store.next_item_id(),
        "method_title": str(data.get("method_title", "")),
        "method_id": str(data.get("method_id", "")),
        "instance_id": str(data.get("instance_id") or ""),
        "total": to_decimal(data.get("total"), Decimal(0)),
        "meta_data": [],
    }


def new_order(store: Store, data: dict[str, Any], created_via: str = "rest-api") -> Record:
    """Create an order (status transitions included) and announce it as ``order.created``."""
    now = store.now()
    record: Record = {
        "id": store.next_post_id(),
        "order_key": "wc_order_" + secrets.token_hex(7)[:13],
        "created_via": created_via,
        "status": "pending",
        "currency": data.get("currency") or store.currency,
        "created": now,
        "modified": now,
        "paid": None,
        "completed": None,
        "billing": _address(BILLING_FIELDS, data.get("billing")),
        "shipping": _address(SHIPPING_FIELDS, data.get("shipping")),
        "payment_method": str(data.get("payment_method", "")),
        "payment_method_title": str(data.get("payment_method_title", "")),
        "transaction_id": str(data.get("transaction_id", "")),
        "customer_id": int(data.get("customer_id", 0)),
        "customer_note": str(data.get("customer_note", "")),
        "line_items": [_line_item(store, item) for item in data.get("line_items") or []],
        "shipping_lines": [_shipping_line(store, line) for line in data.get("shipping_lines") or []],
        "meta_data": [],
        "refund_ids": [],
        "stock_reduced": False,
        "trashed_from": None,
    }
    store.apply_meta(record, data.get("meta_data"))
    store.orders[record["id"]] = record
    store.on_event("order.created", record["id"])
    status = data.get("status", "pending")
    if status != "pending":
        set_status(store, record, status)
    if data.get("set_paid"):
        pay_order(store, record, str(data.get("transaction_id") or ""))
    return record


def order_statuses(store: Store) -> dict[str, str]:
    """``wc_get_order_statuses()`` without the ``wc-`` prefix: WooCommerce's, then the plugins' ones."""
    return {**STATUS_LABELS, **store.custom_statuses}


def wp_list(items: list[str]) -> str:
    """WordPress's ``%l`` (``wp_sprintf_l``): ``a, b, and c``; ``a and b`` for two."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def validate_status(status: Any, store: Store) -> str:
    """The REST schema's enum check on ``status`` (400 ``rest_invalid_param`` / ``rest_not_in_enum``)."""
    known = list(order_statuses(store))
    if status not in known:
        raise invalid_param("status", f"status is not one of {wp_list(known)}.", "rest_not_in_enum")
    return str(status)


def register_status(store: Store, slug: str, label: str) -> str:
    """What a plugin does with ``register_post_status('wc-<slug>')`` and the ``wc_order_statuses`` filter."""
    name = slug[3:] if slug.startswith("wc-") else slug
    if not name or len(name) > 17 or not all(c.islower() or c.isdigit() or c == "-" for c in name):
        raise ValueError(
            f"order status {slug!r}: lower-case letters, digits and hyphens, at most 17 characters "
            "(a post status holds 20, wc- included)"
        )
    if name in STATUS_LABELS or name in ("trash", "auto-draft", "draft"):
        raise ValueError(f"order status {name!r} is WooCommerce's own")
    if not label.strip():
        raise ValueError("an order status needs a label")
    store.custom_statuses[name] = label.strip()
    return name


def set_status(store: Store, record: Record, status: str) -> None:
    """Move an order to ``status`` with WooCommerce's side effects: dates, stock, a system note."""
    old = record["status"]
    if status == old:
        return
    record["status"] = status
    now = store.now()
    if status in PAID_STATUSES and record["paid"] is None:
        record["paid"] = now
    if status == "completed":
        record["completed"] = now
    labels = order_statuses(store)
    add_note(store, record, f"Order status changed from {labels.get(old, old)} to {labels[status]}.")
    # The status hooks run after the status is saved, as woocommerce_order_status_<status> does.
    if status in REDUCES_STOCK:
        maybe_reduce_stock(store, record)
    elif status in RESTORES_STOCK:
        maybe_restore_stock(store, record)
    elif status == "refunded":
        from sandbox.woocommerce.refunds import order_fully_refunded  # refunds imports this module

        order_fully_refunded(store, record)
    store.touch(record)


def pay_order(store: Store, record: Record, transaction_id: str = "") -> bool:
    """``WC_Order::payment_complete``: paid now, processing, stock reduced; ``False`` if not payable."""
    if record["status"] not in PAYABLE_STATUSES:
        return False
    if transaction_id:
        record["transaction_id"] = transaction_id
    if record["paid"] is None:
        record["paid"] = store.now()
    set_status(store, record, "processing")
    maybe_reduce_stock(store, record)  # the woocommerce_payment_complete hook
    return True


def maybe_reduce_stock(store: Store, record: Record) -> None:
    """``wc_maybe_reduce_stock_levels``: once per order (the order's ``_order_stock_reduced`` flag)."""
    if record["stock_reduced"]:
        return
    for item in record["line_items"]:
        product = _stocked_product(store, item)
        if product is None or _reduced(item):
            continue  # wc_reduce_stock_levels takes each line once
        catalog.adjust_stock(store, product, -item["quantity"])
        product["total_sales"] += item["quantity"]
        item["meta_data"].append(
            {"id": store.next_meta_id(), "key": REDUCED_STOCK_KEY, "value": str(item["quantity"])}
        )
    record["stock_reduced"] = True


def maybe_restore_stock(store: Store, record: Record) -> None:
    """``wc_maybe_increase_stock_levels``: give back what each line's ``_reduced_stock`` says, remove it."""
    if not record["stock_reduced"]:
        return
    for item in record["line_items"]:
        product = _stocked_product(store, item)
        units = _reduced(item)
        if product is None or not units:
            continue
        catalog.adjust_stock(store, product, units)
        product["total_sales"] = max(0, product["total_sales"] - units)
        item["meta_data"] = [m for m in item["meta_data"] if m["key"] != REDUCED_STOCK_KEY]
    record["stock_reduced"] = False


def _stocked_product(store: Store, item: Record) -> Record | None:
    product = store.products.get(item["variation_id"] or item["product_id"])
    if product is None or not product["manage_stock"] or product["stock_quantity"] is None:
        return None
    return product


def _reduced(item: Record) -> int:
    """The units ``_reduced_stock`` says were taken for this line (0: none)."""
    entry = next((m for m in item["meta_data"] if m["key"] == REDUCED_STOCK_KEY), None)
    return int(entry["value"]) if entry is not None else 0


reduced_units = _reduced


def set_item_meta(store: Store, item: Record, key: str, value: str) -> None:
    """Set (or add) one line item meta value, as ``WC_Order_Item::update_meta_data`` does."""
    entry = next((m for m in item["meta_data"] if m["key"] == key), None)
    if entry is None:
        item["meta_data"].append({"id": store.next_meta_id(), "key": key, "value": value})
    else:
        entry["value"] = value


def update_order(store: Store, record: Record, data: dict[str, Any]) -> None:
    """Apply a REST update body (or a merchant's edit) and announce ``order.updated``."""
    if "billing" in data:
        record["billing"] = _address(BILLING_FIELDS, data["billing"], record["billing"])
    if "shipping" in data:
        record["shipping"] = _address(SHIPPING_FIELDS, data["shipping"], record["shipping"])
    for name in ("customer_note", "transaction_id", "payment_method", "payment_method_title"):
        if name in data:
            record[name] = str(data[name])
    store.apply_meta(record, data.get("meta_data"))
    if "status" in data:
        set_status(store, record, validate_status(data["status"], store))
    if data.get("set_paid"):
        pay_order(store, record)
    store.touch(record)
    store.on_event("order.updated", record["id"])


def add_note(
    store: Store, order: Record, note: str, customer_note: bool = False, author: str = "system"
) -> Record:
    """An order note (a WordPress comment); a customer note is also e-mailed to the buyer."""
    record = {
        "id": store.next_note_id(),
        "order_id": order["id"],
        "author": author,
        "created": store.now(),
        "note": note,
        "customer_note": bool(customer_note),
    }
    store.notes[record["id"]] = record
    return record


def totals(store: Store, record: Record) -> dict[str, Decimal]:
    items = sum((i["total"] for i in record["line_items"]), Decimal(0))
    shipping = sum((s["total"] for s in record["shipping_lines"]), Decimal(0))
    refunded = sum((store.refunds[r]["amount"] for r in record["refund_ids"]), Decimal(0))
    return {"items": items, "shipping": shipping, "total": items + shipping, "refunded": refunded}

"""The REST documents of orders, refunds and order notes (``wc/v3`` shapes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.woocommerce.orders import totals
from sandbox.woocommerce.phpjson import money
from sandbox.woocommerce.store import Record, Store


def _number(value: Decimal) -> int | float:
    # Line item "price" is PHP's total / quantity: an int when it divides evenly, else a float.
    return int(value) if value == value.to_integral_value() else float(value)


# wc_get_order_statuses() that WC_Order::is_editable() and needs_payment() accept.
EDITABLE_STATUSES = frozenset({"pending", "on-hold", "auto-draft", "checkout-draft"})
PAYABLE_STATUSES = frozenset({"pending", "failed"})


def _item_meta_json(item: Record) -> list[dict[str, Any]]:
    """Item meta as the REST API shows it: each entry with its ``display_key`` and ``display_value``."""
    shown = item.get("meta_display") or {}
    return [
        {
            **m,
            "display_key": shown.get(m["key"], (m["key"],))[0],
            "display_value": shown.get(m["key"], (m["key"], m["value"]))[1],
        }
        for m in item["meta_data"]
    ]


def line_item_json(store: Store, item: Record) -> dict[str, Any]:
    quantity = item["quantity"]
    product = store.products.get(item["variation_id"] or item["product_id"])
    parent = store.products.get(item["product_id"]) if item["variation_id"] else None
    images = (product or {}).get("images") or (parent or {}).get("images") or []
    image_id = images[0].get("id", 0) if images else 0
    return {
        "id": item["id"],
        "name": item["name"],
        "product_id": item["product_id"],
        "variation_id": item["variation_id"],
        "quantity": quantity,
        "tax_class": "",
        "subtotal": money(item["subtotal"]),
        "subtotal_tax": "0.00",
        "total": money(item["total"]),
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": _item_meta_json(item),
        "sku": item["sku"],
        "global_unique_id": (product or {}).get("global_unique_id", ""),
        "price": _number(item["total"] / abs(quantity)) if quantity else 0,
        "image": {"id": image_id, "src": images[0].get("src", "") if image_id else ""},
        # A variation's product title; null for a simple product (WooCommerce's own choice).
        "parent_name": (parent or {}).get("name") if item["variation_id"] else None,
    }


def _shipping_line_json(line: Record) -> dict[str, Any]:
    return {
        "id": line["id"],
        "method_title": line["method_title"],
        "method_id": line["method_id"],
        "instance_id": str(line.get("instance_id", "")),
        "total": money(line["total"]),
        "total_tax": "0.00",
        "taxes": [],
        "tax_status": str(line.get("tax_status", "taxable")),
        "meta_data": [dict(m) for m in line["meta_data"]],
    }


def _status_fields(store: Store, record: Record, total: Decimal) -> dict[str, Any]:
    """``is_editable``, ``needs_payment``, ``needs_processing`` and ``payment_url`` (WC_Order)."""
    home = store.home_url.rstrip("/")
    return {
        "is_editable": record["status"] in EDITABLE_STATUSES,
        "needs_payment": record["status"] in PAYABLE_STATUSES and total > 0,
        # Every simulated product ships (none is virtual and downloadable).
        "needs_processing": bool(record["line_items"]),
        "payment_url": (
            f"{home}/checkout/order-pay/{record['id']}/?pay_for_order=true&key={record['order_key']}"
        ),
    }


def order_json(store: Store, record: Record) -> dict[str, Any]:
    """The ``wc/v3/orders/<id>`` document."""
    sums = totals(store, record)
    links = store.links(f"orders/{record['id']}", "orders")
    if record["customer_id"]:
        links["customer"] = [
            {"href": f"{store.home_url.rstrip('/')}/wp-json/wc/v3/customers/{record['customer_id']}"}
        ]
    return {
        "id": record["id"],
        "parent_id": 0,
        "number": str(record["id"]),
        "order_key": record["order_key"],
        "created_via": record["created_via"],
        "version": "10.0.0",
        "status": record["status"],
        "currency": record["currency"],
        **store.dates("date_created", record["created"]),
        **store.dates("date_modified", record["modified"]),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": money(sums["shipping"]),
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": money(sums["total"]),
        "total_tax": "0.00",
        "prices_include_tax": False,
        "customer_id": record["customer_id"],
        "customer_ip_address": "",
        "customer_user_agent": "",
        "customer_note": record["customer_note"],
        "billing": dict(record["billing"]),
        "shipping": dict(record["shipping"]),
        "payment_method": record["payment_method"],
        "payment_method_title": record["payment_method_title"],
        "transaction_id": record["transaction_id"],
        **store.dates("date_paid", record["paid"]),
        **store.dates("date_completed", record["completed"]),
        "cart_hash": "",
        "meta_data": [dict(m) for m in record["meta_data"]],
        "line_items": [line_item_json(store, i) for i in record["line_items"]],
        "tax_lines": [],
        "shipping_lines": [_shipping_line_json(s) for s in record["shipping_lines"]],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [
            {"id": r, "reason": store.refunds[r]["reason"], "total": "-" + money(store.refunds[r]["amount"])}
            for r in reversed(record["refund_ids"])
        ],
        "currency_symbol": "$" if record["currency"] == "USD" else record["currency"],
        **_status_fields(store, record, sums["total"]),
        "_links": links,
    }


def refund_json(store: Store, refund: Record) -> dict[str, Any]:
    order_id = refund["order_id"]
    return {
        "id": refund["id"],
        **store.dates("date_created", refund["created"]),
        "amount": money(refund["amount"]),
        "reason": refund["reason"],
        "refunded_by": refund["refunded_by"],
        "refunded_payment": refund["refunded_payment"],
        "meta_data": [dict(m) for m in refund["meta_data"]],
        "line_items": [line_item_json(store, i) for i in refund["line_items"]],
        "_links": store.links(
            f"orders/{order_id}/refunds/{refund['id']}", f"orders/{order_id}/refunds", f"orders/{order_id}"
        ),
    }


def note_json(store: Store, note: Record) -> dict[str, Any]:
    order_id = note["order_id"]
    return {
        "id": note["id"],
        "author": note["author"],
        **store.dates("date_created", note["created"]),
        "note": note["note"],
        "customer_note": note["customer_note"],
        "_links": store.links(
            f"orders/{order_id}/notes/{note['id']}", f"orders/{order_id}/notes", f"orders/{order_id}"
        ),
    }

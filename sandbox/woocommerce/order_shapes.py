"""The REST documents of orders, refunds and order notes (``wc/v3`` shapes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.woocommerce.orders import totals
from sandbox.woocommerce.phpjson import money
from sandbox.woocommerce.store import Record, Store


def _number(value: Decimal) -> float:
    # Line item "price" is a PHP float in the REST output, not a money string.
    return float(value)


def line_item_json(item: Record) -> dict[str, Any]:
    quantity = item["quantity"]
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
        "meta_data": [dict(m) for m in item["meta_data"]],
        "sku": item["sku"],
        "price": _number(item["total"] / abs(quantity)) if quantity else 0.0,
    }


def _shipping_line_json(line: Record) -> dict[str, Any]:
    return {
        "id": line["id"],
        "method_title": line["method_title"],
        "method_id": line["method_id"],
        "total": money(line["total"]),
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": [dict(m) for m in line["meta_data"]],
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
        "version": "9.4.0",
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
        "line_items": [line_item_json(i) for i in record["line_items"]],
        "tax_lines": [],
        "shipping_lines": [_shipping_line_json(s) for s in record["shipping_lines"]],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [
            {"id": r, "refund": store.refunds[r]["reason"], "total": "-" + money(store.refunds[r]["amount"])}
            for r in reversed(record["refund_ids"])
        ],
        "currency_symbol": "$" if record["currency"] == "USD" else record["currency"],
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
        "line_items": [line_item_json(i) for i in refund["line_items"]],
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

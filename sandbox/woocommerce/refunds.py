"""Order refunds (``wc_create_refund``): amount checks, gateway refunds, restocking, full-refund status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.woocommerce import catalog
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.orders import (
    REDUCED_STOCK_KEY,
    add_note,
    reduced_units,
    set_item_meta,
    set_status,
    totals,
)
from sandbox.woocommerce.phpjson import to_decimal
from sandbox.woocommerce.store import Record, Store

# Gateways that implement process_refund, so api_refund=true can move money back.
REFUNDABLE_GATEWAYS = frozenset(
    {"stripe", "woocommerce_payments", "ppcp-gateway", "paypal", "square_credit_card"}
)


RESTOCKED_KEY = "_restock_refunded_items"
FULLY_REFUNDED = "Order fully refunded."
FULLY_REFUNDED_NOTE = (
    "Order status set to refunded. To return funds to the customer you will need to issue a refund "
    "through your payment gateway."
)


def _cannot_create(message: str) -> WooError:
    return WooError("woocommerce_rest_cannot_create_order_refund", message, 500)


def _refund_items(store: Store, order: Record, requested: Any) -> list[Record]:
    by_id = {item["id"]: item for item in order["line_items"]}
    items: list[Record] = []
    for entry in requested if isinstance(requested, list) else []:
        original = by_id.get(int(entry.get("id", 0))) if isinstance(entry, dict) else None
        if original is None:
            continue
        quantity = int(entry.get("quantity", 0))
        unit = original["total"] / original["quantity"] if original["quantity"] else Decimal(0)
        total = to_decimal(entry.get("refund_total"), unit * quantity) or Decimal(0)
        items.append(
            {
                **original,
                "id": store.next_item_id(),
                "quantity": -quantity,
                "subtotal": -total,
                "total": -total,
                "meta_data": [
                    {"id": store.next_item_id(), "key": "_refunded_item_id", "value": str(original["id"])}
                ],
            }
        )
    return items


def restock_refunded_items(store: Store, order: Record, refunded: list[Record]) -> None:
    """``wc_restock_refunded_items``: a refunded line goes back to stock only when its stock was
    taken (``_reduced_stock``) and its product manages stock; ``_reduced_stock`` goes down,
    ``_restock_refunded_items`` up, and a note says "Item #<product> stock increased from A to B."."""
    by_id = {item["id"]: item for item in order["line_items"]}
    for refund_item in refunded:
        original_id = next(
            (m["value"] for m in refund_item["meta_data"] if m["key"] == "_refunded_item_id"), None
        )
        item = by_id.get(int(original_id)) if original_id is not None else None
        quantity = -refund_item["quantity"]
        if item is None or quantity <= 0 or not reduced_units(item):
            continue
        product = store.products.get(item["variation_id"] or item["product_id"])
        if product is None or not product["manage_stock"] or product["stock_quantity"] is None:
            continue
        old = product["stock_quantity"]
        catalog.adjust_stock(store, product, quantity)
        set_item_meta(store, item, REDUCED_STOCK_KEY, str(reduced_units(item) - quantity))
        restocked = next((int(m["value"]) for m in item["meta_data"] if m["key"] == RESTOCKED_KEY), 0)
        set_item_meta(store, item, RESTOCKED_KEY, str(restocked + quantity))
        add_note(
            store, order, f"Item #{product['id']} stock increased from {old} to {product['stock_quantity']}."
        )


def order_fully_refunded(store: Store, order: Record) -> None:
    """``wc_order_fully_refunded`` (on ``woocommerce_order_status_refunded``): an order set to
    refunded with money left gets a refund of the rest, moving no money, and a note."""
    sums = totals(store, order)
    left = sums["total"] - sums["refunded"]
    if left <= 0:
        return
    create_refund(
        store,
        order,
        {
            "amount": str(left),
            "reason": FULLY_REFUNDED,
            "line_items": [],
            "api_refund": False,
            "api_restock": False,
        },
    )
    add_note(store, order, FULLY_REFUNDED_NOTE)


def create_refund(store: Store, order: Record, data: dict[str, Any]) -> Record:
    """Refund part or all of ``order``; raises the errors the refunds endpoint answers with."""
    amount = to_decimal(data.get("amount"), Decimal(0)) or Decimal(0)
    if amount <= 0:
        raise WooError(
            "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.", 400
        )
    sums = totals(store, order)
    if amount > sums["total"] - sums["refunded"]:
        raise _cannot_create("Invalid refund amount.")
    api_refund = bool(data.get("api_refund", True))
    if api_refund and order["payment_method"] not in REFUNDABLE_GATEWAYS:
        raise _cannot_create("The payment gateway for this order does not support automatic refunds.")
    refund: Record = {
        "id": store.next_post_id(),
        "order_id": order["id"],
        "created": store.now(),
        "amount": amount,
        "reason": str(data.get("reason", "")),
        "refunded_by": 1,
        "refunded_payment": api_refund,
        "meta_data": [],
        "line_items": _refund_items(store, order, data.get("line_items")),
    }
    store.apply_meta(refund, data.get("meta_data"))
    store.refunds[refund["id"]] = refund
    order["refund_ids"].append(refund["id"])
    if data.get("api_restock", True):
        restock_refunded_items(store, order, refund["line_items"])
    if sums["total"] - sums["refunded"] - amount <= 0:
        set_status(store, order, "refunded")
    store.touch(order)
    store.on_event("order.updated", order["id"])
    return refund

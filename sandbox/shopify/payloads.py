"""Webhook bodies in the REST shape Shopify sends (see the reference samples).

Ids are exact JSON integers (never rounded) next to their ``admin_graphql_api_id``.
Every key of Shopify's sample payloads is present; values the sandbox does not
model are the neutral ones a real shop sends for them (null, false, empty list).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.shopify.ids import gid, iso_offset
from sandbox.shopify.store import LineItem, Order, Refund, ShopData

ZERO = Decimal("0.00")


def money_set(amount: Decimal, currency: str) -> dict[str, Any]:
    one = {"amount": str(amount), "currency_code": currency}
    return {"shop_money": one, "presentment_money": dict(one)}


def address(data: dict[str, str | None], country_name: str = "United States") -> dict[str, Any]:
    name = data.get("name") or ""
    first, _, last = name.partition(" ")
    return {
        "first_name": first,
        "address1": data.get("address1"),
        "phone": data.get("phone"),
        "city": data.get("city"),
        "zip": data.get("zip"),
        "province": data.get("provinceCode"),
        "country": country_name,
        "last_name": last,
        "address2": data.get("address2"),
        "company": data.get("company"),
        "latitude": None,
        "longitude": None,
        "name": name,
        "country_code": data.get("countryCode"),
        "province_code": data.get("provinceCode"),
    }


def line_item(line: LineItem, currency: str, fulfilled: int = 0) -> dict[str, Any]:
    return {
        "id": line.id,
        "admin_graphql_api_id": gid("LineItem", line.id),
        "attributed_staffs": [],
        "current_quantity": line.quantity - line.refunded,
        "fulfillable_quantity": max(0, line.quantity - line.refunded - fulfilled),
        "fulfillment_service": "manual",
        "fulfillment_status": "fulfilled" if fulfilled >= line.quantity else None,
        "gift_card": False,
        "grams": line.grams,
        "name": line.name,
        "price": str(line.price),
        "price_set": money_set(line.price, currency),
        "product_exists": line.product_id is not None,
        "product_id": line.product_id,
        "properties": [],
        "quantity": line.quantity,
        "requires_shipping": line.requires_shipping,
        "sales_line_item_group_id": None,
        "sku": line.sku,
        "taxable": True,
        "title": line.title,
        "total_discount": "0.00",
        "total_discount_set": money_set(ZERO, currency),
        "variant_id": line.variant_id,
        "variant_inventory_management": "shopify" if line.variant_id else None,
        "variant_title": line.variant_label,
        "vendor": None,
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    }


def _shipping_line(order: Order) -> dict[str, Any]:
    c, price = order.currency, order.shipping_price
    return {
        "id": order.id + 1,
        "carrier_identifier": None,
        "code": order.shipping_method,
        "current_discounted_price_set": money_set(price, c),
        "discounted_price": str(price),
        "discounted_price_set": money_set(price, c),
        "is_removed": False,
        "phone": None,
        "price": str(price),
        "price_set": money_set(price, c),
        "requested_fulfillment_service_id": None,
        "source": "shopify",
        "title": order.shipping_method,
        "tax_lines": [],
        "discount_allocations": [],
    }


def _customer(order: Order, shop: ShopData) -> dict[str, Any]:
    customer_id = order.customer_id
    addr = address(order.shipping_address)
    default = {
        "id": order.id + 3,
        "customer_id": customer_id,
        **addr,
        "country_name": addr["country"],
        "default": True,
    }
    for key in ("latitude", "longitude"):
        default.pop(key)
    return {
        "id": customer_id,
        "created_at": iso_offset(order.created_at),
        "updated_at": iso_offset(order.updated_at),
        "first_name": addr["first_name"],
        "last_name": addr["last_name"],
        "state": "disabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "email": order.email,
        "phone": None,
        "currency": order.currency,
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer_id),
        "default_address": default,
    }


def _fulfilled(shop: ShopData, order: Order) -> dict[int, int]:
    done: dict[int, int] = {}
    for fid in order.fulfillment_ids:
        for line in shop.fulfillments[fid].lines:
            done[line.line_item_id] = done.get(line.line_item_id, 0) + line.quantity
    return done


def _money_fields(order: Order, refunded: Decimal) -> dict[str, Any]:
    c, subtotal, total = order.currency, order.subtotal, order.total
    current = total - refunded
    return {
        "current_shipping_price_set": money_set(order.shipping_price, c),
        "current_subtotal_price": str(subtotal),
        "current_subtotal_price_set": money_set(subtotal, c),
        "current_total_additional_fees_set": None,
        "current_total_discounts": "0.00",
        "current_total_discounts_set": money_set(ZERO, c),
        "current_total_duties_set": None,
        "current_total_price": str(current),
        "current_total_price_set": money_set(current, c),
        "current_total_tax": "0.00",
        "current_total_tax_set": money_set(ZERO, c),
        "subtotal_price": str(subtotal),
        "subtotal_price_set": money_set(subtotal, c),
        "total_cash_rounding_payment_adjustment_set": money_set(ZERO, c),
        "total_cash_rounding_refund_adjustment_set": money_set(ZERO, c),
        "total_discounts": "0.00",
        "total_discounts_set": money_set(ZERO, c),
        "total_line_items_price": str(subtotal),
        "total_line_items_price_set": money_set(subtotal, c),
        "total_outstanding": "0.00",
        "total_price": str(total),
        "total_price_set": money_set(total, c),
        "total_shipping_price_set": money_set(order.shipping_price, c),
        "total_tax": "0.00",
        "total_tax_set": money_set(ZERO, c),
        "total_tip_received": "0.00",
    }


def order(shop: ShopData, order: Order) -> dict[str, Any]:
    """orders/create, orders/updated, orders/cancelled body."""
    refunded = sum((shop.refunds[r].amount for r in order.refund_ids), ZERO)
    fulfilled = _fulfilled(shop, order)
    status = {"PAID": "paid", "PARTIALLY_REFUNDED": "partially_refunded", "REFUNDED": "refunded"}
    fully = fulfilled and all(fulfilled.get(li.id, 0) >= li.quantity for li in order.line_items)
    body: dict[str, Any] = {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "app_id": None,
        "browser_ip": None,
        "buyer_accepts_marketing": False,
        "cancel_reason": order.cancel_reason,
        "cancelled_at": iso_offset(order.cancelled_at) if order.cancelled_at else None,
        "cart_token": None,
        "checkout_token": None,
        "client_details": None,
        "closed_at": None,
        "confirmation_number": None,
        "confirmed": True,
        "contact_email": order.email,
        "created_at": iso_offset(order.created_at),
        "currency": order.currency,
        "customer_locale": "en",
        "device_id": None,
        "discount_codes": [],
        "duties_included": False,
        "email": order.email,
        "estimated_taxes": False,
        "financial_status": status.get(order.financial_status, order.financial_status.lower()),
        "fulfillment_status": ("fulfilled" if fully else "partial") if fulfilled else None,
        "landing_site": None,
        "landing_site_ref": None,
        "location_id": None,
        "merchant_business_entity_id": f"MTU{shop.id}",
        "merchant_of_record_app_id": None,
        "name": order.name,
        "note": order.note,
        "note_attributes": [],
        "number": order.number - 1000,
        "order_number": order.number,
        "order_status_url": f"https://{shop.domain}/{shop.id}/orders/{order.id:x}/authenticate?key=sandbox",
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "payment_gateway_names": ["bogus"],
        "phone": None,
        "po_number": None,
        "presentment_currency": order.currency,
        "processed_at": iso_offset(order.created_at),
        "reference": None,
        "referring_site": None,
        "source_identifier": None,
        "source_name": "web",
        "source_url": None,
        "tags": ", ".join(order.tags),
        "tax_exempt": False,
        "tax_lines": [],
        "taxes_included": False,
        "test": order.test,
        "token": f"{order.id:x}",
        "total_weight": sum(li.grams * li.quantity for li in order.line_items),
        "updated_at": iso_offset(order.updated_at),
        "user_id": None,
        "billing_address": address(order.shipping_address),
        "customer": _customer(order, shop),
        "discount_applications": [],
        "fulfillments": [],
        "payment_terms": None,
        "returns": [],
        "line_items": [line_item(li, order.currency, fulfilled.get(li.id, 0)) for li in order.line_items],
        "refunds": [],
        "shipping_address": address(order.shipping_address),
        "shipping_lines": [_shipping_line(order)],
        "line_item_groups": [],
    }
    body.update(_money_fields(order, refunded))
    return body


def refund(shop: ShopData, refund: Refund) -> dict[str, Any]:
    """refunds/create body."""
    order = shop.orders[refund.order_id]
    lines = {li.id: li for li in order.line_items}
    c = order.currency
    refund_lines = []
    for rl in refund.lines:
        li = lines[rl.line_item_id]
        subtotal = li.price * rl.quantity
        nested = line_item(li, c)
        for key in ("attributed_staffs", "current_quantity", "sales_line_item_group_id"):
            nested.pop(key)
        refund_lines.append(
            {
                "id": rl.id,
                "quantity": rl.quantity,
                "line_item_id": li.id,
                "location_id": rl.location_id,
                "restock_type": rl.restock_type.lower(),
                "subtotal": float(subtotal),
                "total_tax": 0,
                "subtotal_set": money_set(subtotal, c),
                "total_tax_set": money_set(ZERO, c),
                "line_item": nested,
            }
        )
    return {
        "id": refund.id,
        "order_id": order.id,
        "created_at": iso_offset(refund.created_at),
        "note": refund.note,
        "user_id": None,
        "processed_at": iso_offset(refund.created_at),
        "duties": [],
        "total_duties_set": money_set(ZERO, c),
        "return": {"id": refund.return_id, "admin_graphql_api_id": gid("Return", refund.return_id)}
        if refund.return_id
        else None,
        "restock": any(rl.restock_type != "NO_RESTOCK" for rl in refund.lines),
        "refund_shipping_lines": [],
        "admin_graphql_api_id": gid("Refund", refund.id),
        "order_adjustments": [],
        "refund_line_items": refund_lines,
        "transactions": [_transaction(order, refund)],
    }


def _transaction(order: Order, refund: Refund) -> dict[str, Any]:
    unsettled = {"amount": "0.0", "currency": order.currency}
    return {
        "id": refund.id + 1,
        "order_id": order.id,
        "kind": "refund",
        "gateway": "bogus",
        "status": "success",
        "message": "Refunded",
        "created_at": iso_offset(refund.created_at),
        "test": order.test,
        "authorization": None,
        "location_id": None,
        "user_id": None,
        "parent_id": None,
        "processed_at": iso_offset(refund.created_at),
        "device_id": None,
        "error_code": None,
        "source_name": "web",
        "receipt": {},
        "amount": str(refund.amount),
        "currency": order.currency,
        "payment_id": f"{order.name}.1",
        "total_unsettled_set": {"presentment_money": unsettled, "shop_money": dict(unsettled)},
        "manual_payment_gateway": False,
        "amount_rounding": None,
        "admin_graphql_api_id": gid("OrderTransaction", refund.id + 1),
    }

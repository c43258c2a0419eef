"""Pure mapper from WooCommerce REST v3 orders to the canonical ``core.orders.Order``.

The same document arrives from ``GET /wp-json/wc/v3/orders`` and in the body of the
``order.created`` / ``order.updated`` webhooks.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors import (
    MappingError,
    amount,
    exact_id,
    money,
    optional_id,
    require,
    text,
    utc_time,
    whole_number,
)
from connectors.woocommerce.statuses import financial_status, status_meaning
from core.addresses import Address
from core.money import Money
from core.orders import FinancialStatus, LineItem, Order, ShippingMethod

PLATFORM = "woocommerce"


def _address(data: Mapping[str, Any] | None) -> Address | None:
    """``billing`` / ``shipping``; a digital order's all-empty shipping block is ``None``."""
    if not data:
        return None
    full_name = " ".join(p for p in (text(data.get("first_name")), text(data.get("last_name"))) if p)
    address = Address(
        name=text(full_name),
        company=text(data.get("company")),
        line1=text(data.get("address_1")),
        line2=text(data.get("address_2")),
        city=text(data.get("city")),
        province_code=text(data.get("state")),
        postal_code=text(data.get("postcode")),
        country_code=text(data.get("country")),
        phone=text(data.get("phone")),
    )
    return None if address.is_empty() else address


def _unit_price(line: Mapping[str, Any], quantity: int, currency: str, where: str) -> Money:
    """The unit price before discounts: ``subtotal / quantity``, at the subtotal's scale.

    The line's own ``price`` is a PHP float of the total *after* discounts, so it is
    neither exact nor comparable with Shopify's unit price.
    """
    subtotal = amount(require(line, "subtotal", where), f"{where}.subtotal")
    if quantity == 0:
        return Money(subtotal, currency)
    return Money((subtotal / quantity).quantize(subtotal), currency)


def _line(line: Mapping[str, Any], currency: str) -> LineItem:
    where = f"WooCommerce line item {line.get('id')!r}"
    quantity = whole_number(require(line, "quantity", where), f"{where}.quantity")
    return LineItem(
        line_id=exact_id(require(line, "id", where), where),
        sku=text(line.get("sku")),
        product_id=optional_id(line.get("product_id"), f"{where}.product_id"),
        variant_id=optional_id(line.get("variation_id"), f"{where}.variation_id"),
        # WordPress stores product names HTML-escaped ("&ndash;"); labels and slips want the text.
        title=html.unescape(str(require(line, "name", where))),
        quantity=quantity,
        unit_price=_unit_price(line, quantity, currency, where),
        # Order line items carry no weight; the product does.
        grams=None,
        # Nor do they say whether the product is virtual: assume it ships.
        requires_shipping=True,
    )


def _line_totals(lines: list[Mapping[str, Any]], currency: str, where: str) -> Money:
    """The line items after discounts, before shipping and tax (WooCommerce sends no such field)."""
    totals = (amount(require(line, "total", where), f"{where}.line_items.total") for line in lines)
    return Money(sum(totals, Decimal("0.00")), currency)


def _shipping_method(payload: Mapping[str, Any], currency: str) -> ShippingMethod | None:
    lines = payload.get("shipping_lines") or []
    if not lines:
        return None
    first = lines[0]
    return ShippingMethod(
        code=text(first.get("method_id")),
        title=str(first.get("method_title") or ""),
        price=money(require(first, "total", "WooCommerce shipping line"), currency, "shipping_lines.total"),
    )


def _financial(payload: Mapping[str, Any]) -> FinancialStatus:
    # date_paid decides paid (see statuses.financial_status), stored as local and GMT.
    date_paid_set = bool(payload.get("date_paid_gmt") or payload.get("date_paid"))
    base = financial_status(payload.get("status"), date_paid_set)
    # WooCommerce keeps a paid order's status on a partial refund; only its refunds list tells.
    if base is FinancialStatus.PAID and payload.get("refunds"):
        return FinancialStatus.PARTIALLY_REFUNDED
    return base


def _money(payload: Mapping[str, Any], key: str, currency: str, where: str) -> Money:
    return money(require(payload, key, where), currency, f"{where}.{key}")


def order_from_rest(payload: Mapping[str, Any]) -> Order:
    """The canonical order in a REST v3 order document or an ``order.*`` webhook body."""
    where = f"WooCommerce order {payload.get('id')!r}"
    order_id = exact_id(require(payload, "id", where), where)
    currency = str(require(payload, "currency", where))
    line_items = payload.get("line_items")
    if not isinstance(line_items, list):
        raise MappingError(f"{where}: missing required field 'line_items'")
    meaning = status_meaning(payload.get("status"))
    created_at = utc_time(
        require(payload, "date_created_gmt", where), f"{where}.date_created_gmt", naive_is_utc=True
    )
    modified = payload.get("date_modified_gmt")
    updated_at = (
        utc_time(modified, f"{where}.date_modified_gmt", naive_is_utc=True) if modified else created_at
    )
    billing = payload.get("billing") or {}
    return Order(
        platform=PLATFORM,
        order_id=order_id,
        gid=None,
        number=f"#{payload.get('number') or order_id}",
        currency=currency,
        email=text(billing.get("email")),
        customer_id=optional_id(payload.get("customer_id"), f"{where}.customer_id"),
        browser_ip=text(payload.get("customer_ip_address")),
        billing_address=_address(billing),
        shipping_address=_address(payload.get("shipping")),
        line_items=tuple(_line(line, currency) for line in line_items),
        subtotal=_line_totals(line_items, currency, where),
        total=_money(payload, "total", currency, where),
        total_tax=_money(payload, "total_tax", currency, where),
        total_shipping=_money(payload, "shipping_total", currency, where),
        total_discounts=_money(payload, "discount_total", currency, where),
        shipping_method=_shipping_method(payload, currency),
        financial_status=_financial(payload),
        fulfillment_status=meaning.fulfillment,
        # WooCommerce records no cancellation time; the status changed at the last modification.
        cancelled_at=updated_at if meaning.cancelled else None,
        cancel_reason=None,
        tags=(),
        note=text(payload.get("customer_note")),
        created_at=created_at,
        updated_at=updated_at,
    )

"""Pure mappers from Shopify orders to the canonical ``core.orders.Order``.

Two shapes arrive: the REST-shaped JSON of the ``orders/create``, ``orders/updated`` and
``orders/cancelled`` webhooks, and the GraphQL ``Order`` node that reconciliation
fetches with the documents in ``connectors/shopify/graphql/``. Both map to the same
canonical order, so an order recovered by reconciliation equals the one a webhook
would have delivered for every field the GraphQL documents fetch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors import MappingError, exact_id, money, require, shown, text, utc_time, whole_number
from connectors.shopify import statuses
from core.addresses import Address
from core.money import Money
from core.orders import LineItem, Order, ShippingMethod

PLATFORM = "shopify"
_GID = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<number>\d+)(\?.*)?$")

# GraphQL ``WeightUnit`` -> grams per unit (LineItem.weight, when a document asks for it).
GRAMS_PER_UNIT = {
    "GRAMS": Decimal(1),
    "KILOGRAMS": Decimal(1000),
    "OUNCES": Decimal("28.349523125"),
    "POUNDS": Decimal("453.59237"),
}


def gid_number(value: object, kind: str, what: str) -> str:
    """The numeric id in ``gid://shopify/<kind>/<n>``, exact, as a string."""
    match = _GID.match(value) if isinstance(value, str) else None
    if match is None or match["kind"] != kind:
        raise MappingError(f"{what}: {shown(value)} is not a gid://shopify/{kind}/ id")
    return str(int(match["number"]))


def rest_id(payload: Mapping[str, Any], kind: str, what: str) -> str:
    """A REST object's id, from ``admin_graphql_api_id`` when present.

    The gid is a string and so always exact; the JSON ``id`` is exact only if nothing
    between Shopify and here parsed it as a float.
    """
    gid = payload.get("admin_graphql_api_id")
    if gid is not None:
        return gid_number(gid, kind, what)
    return exact_id(require(payload, "id", what), what)


def _optional_rest_id(payload: Mapping[str, Any] | None, kind: str, what: str) -> str | None:
    if not payload or (payload.get("admin_graphql_api_id") is None and payload.get("id") is None):
        return None
    return rest_id(payload, kind, what)


def _rest_money(payload: Mapping[str, Any], key: str, currency: str, what: str) -> Money:
    """``<key>_set.shop_money`` (the shop's currency), else the plain ``<key>`` string."""
    money_set = payload.get(f"{key}_set") or {}
    shop_money = money_set.get("shop_money") if isinstance(money_set, Mapping) else None
    if shop_money:
        return money(require(shop_money, "amount", f"{what}.{key}_set"), currency, f"{what}.{key}_set")
    return money(require(payload, key, what), currency, f"{what}.{key}")


def _rest_address(data: Mapping[str, Any] | None) -> Address | None:
    if not data:
        return None
    full_name = " ".join(p for p in (text(data.get("first_name")), text(data.get("last_name"))) if p)
    address = Address(
        name=text(data.get("name")) or text(full_name),
        company=text(data.get("company")),
        line1=text(data.get("address1")),
        line2=text(data.get("address2")),
        city=text(data.get("city")),
        province_code=text(data.get("province_code")),
        postal_code=text(data.get("zip")),
        country_code=text(data.get("country_code")),
        phone=text(data.get("phone")),
    )
    return None if address.is_empty() else address


def _rest_line(line: Mapping[str, Any], currency: str) -> LineItem:
    where = f"Shopify line item {line.get('admin_graphql_api_id') or line.get('id')!r}"
    grams = line.get("grams")
    return LineItem(
        line_id=rest_id(line, "LineItem", where),
        sku=text(line.get("sku")),
        product_id=exact_id(line["product_id"], where) if line.get("product_id") is not None else None,
        variant_id=exact_id(line["variant_id"], where) if line.get("variant_id") is not None else None,
        title=str(line.get("name") or require(line, "title", where)),
        quantity=whole_number(require(line, "quantity", where), f"{where}.quantity"),
        unit_price=_rest_money(line, "price", currency, where),
        grams=whole_number(grams, f"{where}.grams") if grams is not None else None,
        requires_shipping=bool(line.get("requires_shipping", True)),
    )


def _rest_shipping(payload: Mapping[str, Any], currency: str) -> tuple[ShippingMethod | None, Money]:
    """The buyer's shipping method (first line not removed by an edit) and the shipping total."""
    lines = [line for line in payload.get("shipping_lines") or [] if not line.get("is_removed")]
    methods = [
        ShippingMethod(
            code=text(line.get("code")),
            title=str(line.get("title") or ""),
            price=_rest_money(line, "price", currency, "Shopify shipping line"),
        )
        for line in lines
    ]
    if payload.get("total_shipping_price_set"):
        total = _rest_money(payload, "total_shipping_price", currency, "Shopify order")
    else:
        total = Money(sum((m.price.amount for m in methods), Decimal("0.00")), currency)
    return (methods[0] if methods else None), total


def _tags(value: object) -> tuple[str, ...]:
    """REST gives ``"tag1, tag2"``, GraphQL a list."""
    parts = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(str(tag).strip() for tag in parts if str(tag).strip())


def order_from_webhook(payload: Mapping[str, Any]) -> Order:
    """The canonical order in an ``orders/create|updated|cancelled`` webhook body (REST JSON)."""
    where = f"Shopify order {payload.get('admin_graphql_api_id') or payload.get('id')!r}"
    order_id = rest_id(payload, "Order", where)
    currency = str(require(payload, "currency", where))
    method, total_shipping = _rest_shipping(payload, currency)
    created_at = utc_time(require(payload, "created_at", where), f"{where}.created_at")
    cancelled_at = payload.get("cancelled_at")
    return Order(
        platform=PLATFORM,
        order_id=order_id,
        gid=f"gid://shopify/Order/{order_id}",
        number=str(require(payload, "name", where)),
        currency=currency,
        email=text(payload.get("email")) or text(payload.get("contact_email")),
        customer_id=_optional_rest_id(payload.get("customer"), "Customer", f"{where}.customer"),
        browser_ip=text(payload.get("browser_ip")),
        billing_address=_rest_address(payload.get("billing_address")),
        shipping_address=_rest_address(payload.get("shipping_address")),
        line_items=tuple(_rest_line(line, currency) for line in payload.get("line_items") or []),
        subtotal=_rest_money(payload, "subtotal_price", currency, where),
        total=_rest_money(payload, "total_price", currency, where),
        total_tax=_rest_money(payload, "total_tax", currency, where),
        total_shipping=total_shipping,
        total_discounts=_rest_money(payload, "total_discounts", currency, where),
        shipping_method=method,
        financial_status=statuses.financial_status(payload.get("financial_status")),
        fulfillment_status=statuses.fulfillment_status(payload.get("fulfillment_status")),
        cancelled_at=utc_time(cancelled_at, f"{where}.cancelled_at") if cancelled_at else None,
        cancel_reason=text(payload.get("cancel_reason")),
        tags=_tags(payload.get("tags")),
        note=text(payload.get("note")),
        created_at=created_at,
        updated_at=utc_time(payload.get("updated_at") or payload["created_at"], f"{where}.updated_at"),
    )


def _bag(node: Mapping[str, Any], key: str, currency: str, what: str) -> Money:
    """A ``MoneyBag`` field (``{shopMoney {amount currencyCode}}``) in the shop's currency."""
    shop_money = require(require(node, key, what), "shopMoney", f"{what}.{key}")
    return money(require(shop_money, "amount", f"{what}.{key}"), currency, f"{what}.{key}")


def _optional_bag(node: Mapping[str, Any], key: str, currency: str, what: str) -> Money | None:
    return _bag(node, key, currency, what) if node.get(key) else None


def _graphql_address(data: Mapping[str, Any] | None) -> Address | None:
    if not data:
        return None
    address = Address(
        name=text(data.get("name")),
        company=text(data.get("company")),
        line1=text(data.get("address1")),
        line2=text(data.get("address2")),
        city=text(data.get("city")),
        province_code=text(data.get("provinceCode")),
        postal_code=text(data.get("zip")),
        country_code=text(data.get("countryCodeV2") or data.get("countryCode")),
        phone=text(data.get("phone")),
    )
    return None if address.is_empty() else address


def _nodes(connection: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The items of a connection, whether the document asked for ``nodes`` or ``edges``."""
    if not connection:
        return []
    if "nodes" in connection:
        return list(connection["nodes"])
    return [edge["node"] for edge in connection.get("edges") or []]


def _graphql_grams(weight: Mapping[str, Any] | None) -> int | None:
    if not weight or weight.get("value") is None or weight.get("unit") not in GRAMS_PER_UNIT:
        return None
    # Weight is a GraphQL Float; its shortest repr is the decimal Shopify sent.
    return int((Decimal(repr(weight["value"])) * GRAMS_PER_UNIT[weight["unit"]]).to_integral_value())


def _graphql_line(line: Mapping[str, Any], currency: str) -> LineItem:
    where = f"Shopify line item {line.get('id')!r}"
    variant = line.get("variant") or {}
    product = line.get("product") or variant.get("product") or {}
    return LineItem(
        line_id=gid_number(require(line, "id", where), "LineItem", where),
        sku=text(line.get("sku")),
        product_id=gid_number(product["id"], "Product", where) if product.get("id") else None,
        variant_id=gid_number(variant["id"], "ProductVariant", where) if variant.get("id") else None,
        title=str(line.get("name") or require(line, "title", where)),
        quantity=whole_number(require(line, "quantity", where), f"{where}.quantity"),
        unit_price=_bag(line, "originalUnitPriceSet", currency, where),
        grams=_graphql_grams(line.get("weight")),
        requires_shipping=bool(line.get("requiresShipping", True)),
    )


def _graphql_shipping_method(node: Mapping[str, Any], currency: str) -> ShippingMethod | None:
    line = node.get("shippingLine")
    if not line:
        return None
    return ShippingMethod(
        code=text(line.get("code")),
        title=str(line.get("title") or ""),
        price=_bag(line, "originalPriceSet", currency, "Shopify shippingLine"),
    )


def _graphql_totals(
    node: Mapping[str, Any], lines: tuple[LineItem, ...], currency: str, where: str
) -> dict[str, Money]:
    """Order totals; those the document did not fetch fall back as documented on the mapper."""
    zero = Money.zero(currency)
    discounts = _optional_bag(node, "totalDiscountsSet", currency, where) or zero
    line_sum = sum((line.unit_price.amount * line.quantity for line in lines), Decimal("0.00"))
    return {
        "subtotal": _optional_bag(node, "subtotalPriceSet", currency, where)
        or Money(line_sum - discounts.amount, currency),
        "total": _bag(node, "totalPriceSet", currency, where),
        "total_tax": _optional_bag(node, "totalTaxSet", currency, where) or zero,
        "total_shipping": _optional_bag(node, "totalShippingPriceSet", currency, where) or zero,
        "total_discounts": discounts,
    }


def order_from_graphql(node: Mapping[str, Any]) -> Order:
    """The canonical order in a GraphQL ``Order`` node (``OrderFields`` of the documents).

    Fields the documents do not select map from what is there: billing address,
    shipping method, customer and browser IP become ``None``; tax, shipping and
    discounts zero; the subtotal the line items' sum less discounts; grams ``None``.
    Each is read when a document selects it (``billingAddress``, ``shippingLine``,
    ``customer``, ``clientIp``, ``subtotalPriceSet``, ``totalTaxSet``,
    ``totalShippingPriceSet``, ``totalDiscountsSet``, line ``product``/``weight``).
    """
    where = f"Shopify GraphQL order {node.get('id')!r}"
    gid = node.get("id")
    if gid is not None:
        order_id = gid_number(gid, "Order", where)
    else:
        order_id = exact_id(require(node, "legacyResourceId", where), where)
    total_set = require(node, "totalPriceSet", where)
    currency = str(
        node.get("currencyCode") or require(require(total_set, "shopMoney", where), "currencyCode", where)
    )
    lines = tuple(_graphql_line(line, currency) for line in _nodes(node.get("lineItems")))
    customer = node.get("customer") or {}
    cancelled_at, reason = node.get("cancelledAt"), text(node.get("cancelReason"))
    return Order(
        platform=PLATFORM,
        order_id=order_id,
        gid=f"gid://shopify/Order/{order_id}",
        number=str(require(node, "name", where)),
        currency=currency,
        email=text(node.get("email")),
        customer_id=gid_number(customer["id"], "Customer", where) if customer.get("id") else None,
        browser_ip=text(node.get("clientIp")),
        billing_address=_graphql_address(node.get("billingAddress")),
        shipping_address=_graphql_address(node.get("shippingAddress")),
        line_items=lines,
        **_graphql_totals(node, lines, currency, where),
        shipping_method=_graphql_shipping_method(node, currency),
        financial_status=statuses.financial_status(node.get("displayFinancialStatus")),
        fulfillment_status=statuses.fulfillment_status(node.get("displayFulfillmentStatus")),
        cancelled_at=utc_time(cancelled_at, f"{where}.cancelledAt") if cancelled_at else None,
        # GraphQL's enum (CUSTOMER) in REST's word (customer), so both shapes agree.
        cancel_reason=reason.lower() if reason else None,
        tags=_tags(node.get("tags")),
        note=text(node.get("note")),
        created_at=utc_time(require(node, "createdAt", where), f"{where}.createdAt"),
        updated_at=utc_time(node.get("updatedAt") or node["createdAt"], f"{where}.updatedAt"),
    )

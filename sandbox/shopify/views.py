"""GraphQL views of the stored data: plain dicts, with callables for fields that take arguments.

graphql-core's default resolver reads dict keys and calls callables with
``(info, **args)``, so these views are all the resolvers the read side needs.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sandbox.shopify.ids import gid, iso_utc, parse_time
from sandbox.shopify.paging import connection
from sandbox.shopify.store import (
    Fulfillment,
    FulfillmentOrder,
    InventoryItem,
    LineItem,
    Location,
    Order,
    Product,
    Refund,
    Return,
    ShopData,
    Subscription,
    Variant,
)

ZERO = Decimal("0.00")
PLAN_NAMES = {"standard": "Basic", "advanced": "Advanced", "plus": "Shopify Plus", "enterprise": "Enterprise"}


def money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": str(amount), "currencyCode": currency}}


def by_id(item: Any) -> tuple[int]:
    return (item.id,)


def shop_view(shop: ShopData) -> dict[str, Any]:
    return {
        "id": gid("Shop", shop.id),
        "name": shop.name,
        "email": shop.email,
        "myshopifyDomain": shop.domain,
        "currencyCode": shop.currency,
        "ianaTimezone": shop.timezone,
        "plan": {
            "publicDisplayName": PLAN_NAMES.get(shop.plan, shop.plan),
            "shopifyPlus": shop.plan in ("plus", "enterprise"),
            "partnerDevelopment": False,
        },
    }


def location_view(location: Location, shop: ShopData | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": gid("Location", location.id),
        "legacyResourceId": str(location.id),
        "name": location.name,
        "isActive": location.active,
        "fulfillsOnlineOrders": location.fulfills_online_orders,
        "address": dict(location.address),
    }
    if shop is not None:
        view["inventoryLevels"] = lambda info, **args: location_levels(shop, location.id, args)
    return view


def location_levels(shop: ShopData, location_id: int, args: dict[str, Any]) -> dict[str, Any]:
    """``Location.inventoryLevels``: the levels stocked at the location, filtered by ``query``
    (``updated_at``, ``created_at`` as times, ``inventory_item_id``; unknown terms are ignored,
    as Shopify ignores them), paged by inventory item."""
    from sandbox.shopify.queries import COMPARE, search_terms  # it imports this module

    keys = [key for key in shop.levels if key[1] == location_id]
    for field, op, value in search_terms(args.get("query")):
        if field == "inventory_item_id" and value.isdigit():
            keys = [k for k in keys if COMPARE[op](k[0], int(value))]
        elif field in ("updated_at", "created_at"):
            when = parse_time(value)
            if when is None:
                continue
            keys = [k for k in keys if COMPARE[op](int(shop.levels[k].updated_at), when)]
    return connection(keys, args, lambda k: level_view(shop, *k), lambda k: (k[0],))


def product_view(product: Product) -> dict[str, Any]:
    return {
        "id": gid("Product", product.id),
        "legacyResourceId": str(product.id),
        "title": product.title,
        "handle": product.handle,
        "status": product.status,
        "updatedAt": iso_utc(product.updated_at),
    }


def variant_view(shop: ShopData, variant: Variant) -> dict[str, Any]:
    return {
        "id": gid("ProductVariant", variant.id),
        "legacyResourceId": str(variant.id),
        "sku": variant.sku,
        "title": variant.title,
        "price": str(variant.price),
        "updatedAt": iso_utc(variant.updated_at),
        "product": lambda info, **a: product_view(shop.products[variant.product_id]),
        "inventoryItem": lambda info, **a: item_view(shop, shop.items[variant.inventory_item_id]),
    }


def level_view(shop: ShopData, item_id: int, location_id: int) -> dict[str, Any]:
    level = shop.levels[(item_id, location_id)]
    # The sandbox keeps no reserved, damaged, safety or quality-control units: on hand is what
    # is for sale plus what open orders committed.
    quantities = {
        "available": level.available,
        "committed": level.on_hand - level.available,
        "on_hand": level.on_hand,
    }

    def pick(info: Any, names: list[str], **_: Any) -> list[dict[str, Any]]:
        return [
            {"name": n, "quantity": quantities.get(n, 0), "updatedAt": iso_utc(level.updated_at)}
            for n in names
        ]

    return {
        "id": gid("InventoryLevel", location_id) + f"?inventory_item_id={item_id}",
        "updatedAt": iso_utc(level.updated_at),
        "location": location_view(shop.locations[location_id]),
        "item": lambda info, **a: item_view(shop, shop.items[item_id]),
        "quantities": pick,
    }


def item_view(shop: ShopData, item: InventoryItem) -> dict[str, Any]:
    def levels(info: Any, **args: Any) -> dict[str, Any]:
        keys = [key for key in shop.levels if key[0] == item.id]
        return connection(keys, args, lambda k: level_view(shop, *k), lambda k: (k[1],))

    return {
        "id": gid("InventoryItem", item.id),
        "legacyResourceId": str(item.id),
        "sku": item.sku,
        "tracked": item.tracked,
        "measurement": {
            "id": gid("InventoryItemMeasurement", item.id),
            "weight": {"unit": item.weight_unit, "value": float(item.weight_value)},
        },
        "inventoryLevels": levels,
    }


def mailing_address_view(address: dict[str, Any]) -> dict[str, Any]:
    """A ``MailingAddress`` from the stored address (the webhook's ``*_address`` holds the same)."""
    view = {k: v for k, v in address.items() if k != "countryCode"}
    return {**view, "countryCodeV2": address.get("countryCode")}


def line_item_view(shop: ShopData, order: Order, line: LineItem) -> dict[str, Any]:
    variant = shop.variants.get(line.variant_id) if line.variant_id else None
    return {
        "id": gid("LineItem", line.id),
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity,
        "currentQuantity": line.quantity - line.refunded,
        "requiresShipping": line.requires_shipping,
        "product": {"id": gid("Product", line.product_id)} if line.product_id is not None else None,
        "variant": {"id": gid("ProductVariant", variant.id)} if variant else None,
        # The webhook's ``grams``, in the unit it is kept in.
        "weight": {"unit": "GRAMS", "value": float(line.grams)},
        "originalUnitPriceSet": money(line.price, order.currency),
    }


def fulfillment_order_view(shop: ShopData, fo: FulfillmentOrder) -> dict[str, Any]:
    order = shop.orders[fo.order_id]
    lines = {li.id: li for li in order.line_items}

    def line_items(info: Any, **args: Any) -> dict[str, Any]:
        def view(line: Any) -> dict[str, Any]:
            return {
                "id": gid("FulfillmentOrderLineItem", line.id),
                "totalQuantity": line.total,
                "remainingQuantity": line.remaining,
                "lineItem": line_item_view(shop, order, lines[line.line_item_id]),
            }

        return connection(fo.lines, args, view, by_id)

    location = shop.locations[fo.location_id]
    return {
        "id": gid("FulfillmentOrder", fo.id),
        "status": fo.status,
        "requestStatus": fo.request_status,
        "assignedLocation": {"name": location.name, "location": location_view(location)},
        "lineItems": line_items,
    }


def order_view(shop: ShopData, order: Order) -> dict[str, Any]:
    def fulfillment_orders(info: Any, **args: Any) -> dict[str, Any]:
        items = [shop.fulfillment_orders[i] for i in order.fulfillment_order_ids]
        return connection(items, args, lambda fo: fulfillment_order_view(shop, fo), by_id)

    def line_items(info: Any, **args: Any) -> dict[str, Any]:
        return connection(order.line_items, args, lambda li: line_item_view(shop, order, li), by_id)

    def fulfillments(info: Any, first: int | None = None, **_: Any) -> list[dict[str, Any]]:
        # A plain list on Shopify, not a connection (``first`` caps it).
        found = [shop.fulfillments[i] for i in order.fulfillment_ids]
        return [fulfillment_view(shop, f) for f in found][:first]

    def returns(info: Any, **args: Any) -> dict[str, Any]:
        found = [shop.returns[i] for i in order.return_ids]
        return connection(found, args, lambda r: return_view(shop, r), by_id)

    def refunds(info: Any, first: int | None = None, **_: Any) -> list[dict[str, Any]]:
        # A plain list, like fulfillments.
        return [refund_view(shop, shop.refunds[i]) for i in order.refund_ids][:first]

    def transactions(info: Any, first: int | None = None, **_: Any) -> list[dict[str, Any]]:
        return order_transactions(shop, order)[:first]

    return {
        "id": gid("Order", order.id),
        "legacyResourceId": str(order.id),
        "name": order.name,
        "email": order.email,
        "createdAt": iso_utc(order.created_at),
        "updatedAt": iso_utc(order.updated_at),
        "processedAt": iso_utc(order.created_at),
        "cancelledAt": iso_utc(order.cancelled_at) if order.cancelled_at else None,
        "cancelReason": order.cancel_reason.upper() if order.cancel_reason else None,  # enum: CUSTOMER
        "closed": order.closed,
        "test": order.test,
        "tags": list(order.tags),
        "note": order.note,
        "displayFinancialStatus": order.financial_status,
        "displayFulfillmentStatus": fulfillment_status(shop, order),
        "currencyCode": order.currency,
        # The sandbox's checkouts record no browser (the webhook's browser_ip is null too).
        "clientIp": None,
        "customer": {"id": gid("Customer", order.customer_id)},
        "totalPriceSet": money(order.total, order.currency),
        "subtotalPriceSet": money(order.subtotal, order.currency),
        "totalTaxSet": money(ZERO, order.currency),
        "totalShippingPriceSet": money(order.shipping_price, order.currency),
        "totalDiscountsSet": money(ZERO, order.currency),
        "shippingLine": {
            "code": order.shipping_method,
            "title": order.shipping_method,
            "originalPriceSet": money(order.shipping_price, order.currency),
        },
        "billingAddress": mailing_address_view(order.shipping_address),
        "shippingAddress": mailing_address_view(order.shipping_address),
        "lineItems": line_items,
        "fulfillmentOrders": fulfillment_orders,
        "fulfillments": fulfillments,
        "returns": returns,
        "refunds": refunds,
        "transactions": transactions,
    }


# The sandbox's checkouts pay through Shopify's test gateway.
GATEWAY = "bogus"


def sale_transaction_id(order: Order) -> str:
    """The order's payment (one SALE per order in the sandbox)."""
    return gid("OrderTransaction", order.id)


def order_transactions(shop: ShopData, order: Order) -> list[dict[str, Any]]:
    """The order's SALE, then a REFUND for each refund that moved money (as refunds/create shows)."""
    sale = {"id": sale_transaction_id(order), "kind": "SALE", "status": "SUCCESS", "gateway": GATEWAY}
    refunds = [
        {"id": gid("OrderTransaction", r.id + 1), "kind": "REFUND", "status": "SUCCESS", "gateway": GATEWAY}
        for r in (shop.refunds[i] for i in order.refund_ids)
        if r.amount > 0
    ]
    return [sale, *refunds]


def fulfillment_status(shop: ShopData, order: Order) -> str:
    """UNFULFILLED / PARTIALLY_FULFILLED / FULFILLED from the fulfillment orders' remaining work."""
    orders = [shop.fulfillment_orders[i] for i in order.fulfillment_order_ids]
    remaining = sum(line.remaining for fo in orders for line in fo.lines)
    total = sum(line.total for fo in orders for line in fo.lines)
    if remaining == total:
        return "UNFULFILLED"
    return "FULFILLED" if remaining == 0 else "PARTIALLY_FULFILLED"


def fulfillment_view(shop: ShopData, fulfillment: Fulfillment) -> dict[str, Any]:
    order = shop.orders[fulfillment.order_id]
    lines = {li.id: li for li in order.line_items}

    def line_items(info: Any, **args: Any) -> dict[str, Any]:
        def view(line: Any) -> dict[str, Any]:
            return {
                "id": gid("FulfillmentLineItem", line.id),
                "quantity": line.quantity,
                "lineItem": line_item_view(shop, order, lines[line.line_item_id]),
            }

        return connection(fulfillment.lines, args, view, by_id)

    def tracking(info: Any, first: int | None = None, **_: Any) -> list[dict[str, Any]]:
        return [dict(t) for t in fulfillment.tracking][:first]

    def events(info: Any, **args: Any) -> dict[str, Any]:
        key = EVENT_SORT.get(args.get("sortKey") or "HAPPENED_AT", EVENT_SORT["HAPPENED_AT"])
        return connection(fulfillment.events, args, fulfillment_event_view, key)

    return {
        "id": gid("Fulfillment", fulfillment.id),
        "status": fulfillment.status,
        "createdAt": iso_utc(fulfillment.created_at),
        "trackingInfo": tracking,
        "fulfillmentLineItems": line_items,
        "events": events,
    }


# FulfillmentEventSortKeys: HAPPENED_AT (the default), ID.
EVENT_SORT: dict[str, Callable[[dict[str, Any]], tuple[Any, ...]]] = {
    "HAPPENED_AT": lambda e: (e["happened_at"], e["id"]),
    "ID": lambda e: (e["id"],),
}


def fulfillment_event_view(event: dict[str, Any]) -> dict[str, Any]:
    """A FulfillmentEvent as the (trimmed) schema shows it."""
    return {
        "id": gid("FulfillmentEvent", event["id"]),
        "status": event["status"],
        "happenedAt": event["happenedAt"],
    }


def return_view(shop: ShopData, ret: Return) -> dict[str, Any]:
    order = shop.orders[ret.order_id]
    lines = {li.id: li for li in order.line_items}

    def return_line_items(info: Any, **args: Any) -> dict[str, Any]:
        def view(line: Any) -> dict[str, Any]:
            found = shop.fulfillment_line(line.fulfillment_line_id)
            fulfilled = None
            if found is not None:
                fulfilled = {
                    "id": gid("FulfillmentLineItem", found[1].id),
                    "quantity": found[1].quantity,
                    "lineItem": line_item_view(shop, order, lines[found[1].line_item_id]),
                }
            return {
                "__typename": "ReturnLineItem",
                "id": gid("ReturnLineItem", line.id),
                "quantity": line.quantity,
                "processedQuantity": line.processed,
                "returnReason": line.reason,
                "returnReasonNote": line.reason_note,
                "customerNote": line.customer_note,
                "fulfillmentLineItem": fulfilled,
            }

        return connection(ret.lines, args, view, by_id)

    def refunds(info: Any, **args: Any) -> dict[str, Any]:
        made = [r for r in (shop.refunds[i] for i in order.refund_ids) if r.return_id == ret.id]
        return connection(made, args, lambda r: refund_view(shop, r), by_id)

    decline = ret.decline
    return {
        "id": gid("Return", ret.id),
        "name": ret.name,
        "status": ret.status,
        "order": {"id": gid("Order", ret.order_id)},
        # Stored as the webhook body spells it (lower case); GraphQL answers the enum value.
        "decline": {"reason": str(decline["reason"]).upper(), "note": decline.get("note")}
        if decline
        else None,
        "closedAt": iso_utc(ret.closed_at) if ret.closed_at is not None else None,
        "returnLineItems": return_line_items,
        "refunds": refunds,
    }


def refund_view(shop: ShopData, refund: Refund) -> dict[str, Any]:
    order = shop.orders[refund.order_id]
    lines = {li.id: li for li in order.line_items}

    def refund_lines(info: Any, **args: Any) -> dict[str, Any]:
        def view(line: Any) -> dict[str, Any]:
            return {
                "quantity": line.quantity,
                "restockType": line.restock_type,
                "lineItem": line_item_view(shop, order, lines[line.line_item_id]),
            }

        return connection(refund.lines, args, view, by_id)

    return {
        "id": gid("Refund", refund.id),
        "createdAt": iso_utc(refund.created_at),
        "note": refund.note,
        "totalRefundedSet": money(refund.amount, order.currency),
        "refundLineItems": refund_lines,
        "return": (lambda info, **_: return_view(shop, shop.returns[refund.return_id]))
        if refund.return_id is not None
        else None,
    }


def subscription_view(sub: Subscription) -> dict[str, Any]:
    return {
        "id": gid("WebhookSubscription", sub.id),
        "topic": sub.topic,
        "uri": sub.uri,
        "format": sub.format,
        "createdAt": iso_utc(sub.created_at),
        "updatedAt": iso_utc(sub.updated_at),
    }

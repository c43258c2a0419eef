"""Root query fields: the read side of the Admin API that Waybill uses."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from sandbox.shopify import views
from sandbox.shopify.ids import parse_gid, parse_time
from sandbox.shopify.paging import connection
from sandbox.shopify.store import Order, ShopData

# `updated_at:>'2026-01-01T00:00:00Z'`, `created_at:<=2026-01-01`, `sku:ABC-1`, `id:123`
_TERM = re.compile(r"(?P<field>\w+):(?P<op>>=|<=|>|<)?(?P<value>'[^']*'|\"[^\"]*\"|\S+)")
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "": operator.eq,
}
_ORDER_TIMES: dict[str, Callable[[Order], float]] = {
    "updated_at": lambda o: o.updated_at,
    "created_at": lambda o: o.created_at,
    "processed_at": lambda o: o.created_at,
}
_ORDER_SORT: dict[str, Callable[[Order], tuple[Any, ...]]] = {
    "ID": lambda o: (o.id,),
    "UPDATED_AT": lambda o: (o.updated_at, o.id),
    "CREATED_AT": lambda o: (o.created_at, o.id),
    "PROCESSED_AT": lambda o: (o.created_at, o.id),
    "ORDER_NUMBER": lambda o: (o.number, o.id),
}


def search_terms(query: str | None) -> list[tuple[str, str, str]]:
    """``(field, comparator, value)`` for each ``field:value`` term of a search query."""
    return [(m["field"], m["op"] or "", m["value"].strip("'\"")) for m in _TERM.finditer(query or "")]


def order_matches(order: Order, terms: list[tuple[str, str, str]]) -> bool:
    # Shopify ignores search terms it does not know; so does the sandbox.
    for field, op, value in terms:
        if field in _ORDER_TIMES:
            when = parse_time(value)
            if when is None or not COMPARE[op](_ORDER_TIMES[field](order), when):
                return False
        elif (field == "id" and value.isdigit() and not COMPARE[op](order.id, int(value))) or (
            field == "name" and order.name.lstrip("#") != value.lstrip("#")
        ):
            return False
    return True


def query_root(shop: ShopData) -> dict[str, Any]:
    """The root value for queries on ``shop``."""

    def orders(info: Any, **args: Any) -> dict[str, Any]:
        terms = search_terms(args.get("query"))
        found = [o for o in shop.orders.values() if order_matches(o, terms)]
        key = _ORDER_SORT.get(args.get("sortKey") or "ID", _ORDER_SORT["ID"])
        return connection(found, args, lambda o: views.order_view(shop, o), key)

    def order(info: Any, id: str) -> dict[str, Any] | None:
        found = shop.orders.get(parse_gid(id, "Order") or -1)
        return views.order_view(shop, found) if found else None

    def locations(info: Any, **args: Any) -> dict[str, Any]:
        found = [loc for loc in shop.locations.values() if loc.active or args.get("includeInactive")]
        return connection(found, args, lambda loc: views.location_view(loc, shop), views.by_id)

    def location(info: Any, id: str | None = None) -> dict[str, Any] | None:
        number = parse_gid(id, "Location") if id else min(shop.locations, default=None)
        found = shop.locations.get(number or -1)
        return views.location_view(found, shop) if found else None

    def product_variants(info: Any, **args: Any) -> dict[str, Any]:
        terms = dict((f, v) for f, _, v in search_terms(args.get("query")))
        found = [v for v in shop.variants.values() if terms.get("sku", v.sku) == v.sku]
        return connection(found, args, lambda v: views.variant_view(shop, v), views.by_id)

    def inventory_items(info: Any, **args: Any) -> dict[str, Any]:
        terms = dict((f, v) for f, _, v in search_terms(args.get("query")))
        found = [i for i in shop.items.values() if terms.get("sku", i.sku) == i.sku]
        return connection(found, args, lambda i: views.item_view(shop, i), views.by_id)

    def inventory_item(info: Any, id: str) -> dict[str, Any] | None:
        found = shop.items.get(parse_gid(id, "InventoryItem") or -1)
        return views.item_view(shop, found) if found else None

    def fulfillment(info: Any, id: str) -> dict[str, Any] | None:
        found = shop.fulfillments.get(parse_gid(id, "Fulfillment") or -1)
        return views.fulfillment_view(shop, found) if found else None

    def return_(info: Any, id: str) -> dict[str, Any] | None:
        found = shop.returns.get(parse_gid(id, "Return") or -1)
        return views.return_view(shop, found) if found else None

    def webhook_subscriptions(info: Any, **args: Any) -> dict[str, Any]:
        found = list(shop.subscriptions.values())
        if args.get("topics"):
            found = [s for s in found if s.topic in args["topics"]]
        return connection(found, args, views.subscription_view, views.by_id)

    return {
        "shop": views.shop_view(shop),
        "orders": orders,
        "order": order,
        "locations": locations,
        "location": location,
        "productVariants": product_variants,
        "inventoryItems": inventory_items,
        "inventoryItem": inventory_item,
        "return": return_,
        "fulfillment": fulfillment,
        "webhookSubscriptions": webhook_subscriptions,
    }

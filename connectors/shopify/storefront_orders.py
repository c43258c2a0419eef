"""The orders verbs of the shopify storefront (see connectors/storefront/orders.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors.errors import Rejected, platform_code
from connectors.readers.ids import gid_tail, id_text
from connectors.readers.times import utc_time
from connectors.shopify import returns
from connectors.shopify.client import ShopifyClient, client_for
from connectors.shopify.fulfillment import order_gid
from connectors.shopify.orders import order_from_graphql, order_from_webhook
from connectors.storefront.access import StoreAccess
from connectors.storefront.orders import EventKind, PolledOrder, PrivacyRequest, StoreReturn
from core.orders import Order

# Webhook topic (as the X-Shopify-Topic header names it) -> what it means to Waybill.
TOPIC_KINDS: dict[str, EventKind] = {
    "orders/create": EventKind.order_changed,
    "orders/updated": EventKind.order_changed,
    "orders/cancelled": EventKind.order_changed,
    "inventory_levels/update": EventKind.stock_level_changed,
    "app/uninstalled": EventKind.app_uninstalled,
    "customers/data_request": EventKind.customer_data_request,
    "customers/redact": EventKind.customer_redact,
    "shop/redact": EventKind.shop_redact,
    "returns/request": EventKind.return_changed,
    "returns/approve": EventKind.return_changed,
    "returns/decline": EventKind.return_changed,
    "returns/cancel": EventKind.return_changed,
    "returns/close": EventKind.return_changed,
}
# The subscriptions Waybill keeps on every shop (GraphQL ``WebhookSubscriptionTopic`` values).
# The privacy topics are the app's mandatory compliance webhooks, set in the app's settings.
SUBSCRIPTION_TOPICS = (
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_CANCELLED",
    "REFUNDS_CREATE",
    "INVENTORY_LEVELS_UPDATE",
    "PRODUCTS_UPDATE",
    "RETURNS_REQUEST",
    "RETURNS_APPROVE",
    "RETURNS_DECLINE",
    "RETURNS_CANCEL",
    "RETURNS_CLOSE",
    "APP_UNINSTALLED",
)
# Which list of order ids a privacy request carries.
_PRIVACY_ORDER_IDS = {
    EventKind.customer_data_request: "orders_requested",
    EventKind.customer_redact: "orders_to_redact",
}
# An order in orders_updated_since.graphql costs about 91 points (12 line items with
# variants, prices and weights, addresses, totals); 10 a page costs 912, under
# Shopify's 1,000-point cap. An order that came back with 12 lines may have been cut: it
# is reported with no body (never fed: a partial order must not replace a complete one).
ORDERS_PAGE = 10
LINES_PER_ORDER = 12
WEBHOOK_PAGE = 100


class ShopifyOrdersVerbs:
    access: StoreAccess

    @staticmethod
    def kind_of(topic: str) -> EventKind | None:
        return TOPIC_KINDS.get(topic)

    @staticmethod
    def parse_order(kind: EventKind, body: Mapping[str, Any]) -> Order:
        # Webhooks push the REST shape; the orders Waybill reads itself come from GraphQL.
        return order_from_graphql(body) if kind is EventKind.order_polled else order_from_webhook(body)

    @staticmethod
    def deleted_order_id(body: Mapping[str, Any]) -> str | None:
        return id_text(body.get("id"))

    @staticmethod
    def privacy_request(kind: EventKind, body: Mapping[str, Any]) -> PrivacyRequest:
        customer = body.get("customer") or {}
        customer = customer if isinstance(customer, Mapping) else {}
        email = customer.get("email") or None
        ids_key = _PRIVACY_ORDER_IDS.get(kind)
        request = body.get("data_request") or {}
        request_id = request.get("id") if isinstance(request, Mapping) else None
        name = " ".join(str(customer.get(k) or "") for k in ("first_name", "last_name")).strip()
        phone = customer.get("phone")
        return PrivacyRequest(
            email=email.lower() if isinstance(email, str) else None,
            order_ids=frozenset(str(i) for i in (body.get(ids_key) or [] if ids_key else [])),
            request_id=str(request_id) if request_id is not None else None,
            name=name,
            phone=phone if isinstance(phone, str) else None,
            customer=customer,
        )

    @staticmethod
    def read_return(body: Mapping[str, Any]) -> StoreReturn | None:
        return returns.from_body(body)

    @staticmethod
    def returns_in_order(body: Mapping[str, Any]) -> tuple[StoreReturn, ...]:
        # Returns are native: each comes as its own returns/* event.
        return ()

    @staticmethod
    def orders_named(body: Mapping[str, Any]) -> frozenset[str]:
        if str(body.get("admin_graphql_api_id") or "").startswith("gid://shopify/Return/"):
            # A return's body: its own id is the return's; the order is nested or ``order_id``.
            nested = body.get("order")
            order: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}
            found = [order.get("admin_graphql_api_id") or order.get("id"), body.get("order_id")]
        else:
            found = [body.get("admin_graphql_api_id") or body.get("id"), body.get("order_id")]
        return frozenset(gid_tail(text) for text in map(id_text, found) if text)

    def fetch_return(self, order_id: str, return_ref: str) -> StoreReturn | None:
        node = returns.fetch(client_for(self.access), return_ref)
        if node is None:
            return None
        found = returns.from_node(node)
        return found if found.order_id == gid_tail(order_id) else None

    def orders_since(self, since: datetime) -> Iterator[PolledOrder]:
        client = client_for(self.access)
        query = f"updated_at:>'{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
        after: str | None = None
        while True:
            page = client.execute(
                "orders_updated_since", {"query": query, "first": ORDERS_PAGE, "after": after}
            )["orders"]
            for node in page["nodes"]:
                yield _polled(node)
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    def order_now(self, order_id: str) -> PolledOrder | None:
        node = client_for(self.access).execute("order", {"id": order_gid(order_id)}).get("order")
        return _polled(node) if isinstance(node, Mapping) else None

    def ensure_webhooks(self) -> list[str]:
        client = client_for(self.access)
        uri = f"{self.access.public_url}/webhooks/shopify"
        have = _subscribed(client, uri)
        missing = [t for t in SUBSCRIPTION_TOPICS if t not in have]
        for topic in missing:
            result = client.execute(
                "webhook_subscription_create",
                {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}},
            )["webhookSubscriptionCreate"]
            if result["userErrors"]:
                raise Rejected(
                    f"webhook subscription {topic} refused: {_user_error(result['userErrors'][0])}"
                )
        return missing


def _polled(node: Mapping[str, Any]) -> PolledOrder:
    """A read order node; one with as many lines as a read takes may have been cut: no body."""
    lines = (node.get("lineItems") or {}).get("nodes") or []
    body = json.dumps(node).encode() if len(lines) < LINES_PER_ORDER else None
    return PolledOrder(gid_tail(node["id"]), utc_time(node["updatedAt"], "order.updatedAt"), body)


def _subscribed(client: ShopifyClient, uri: str) -> set[str]:
    """The topics already delivered to ``uri``, read page by page."""
    have: set[str] = set()
    after: str | None = None
    while True:
        data = client.execute("webhook_subscriptions", {"first": WEBHOOK_PAGE, "after": after})
        page = data["webhookSubscriptions"]
        have |= {n["topic"] for n in page["nodes"] if n["uri"] == uri}
        if not page["pageInfo"]["hasNextPage"]:
            return have
        after = page["pageInfo"]["endCursor"]


def _user_error(error: Mapping[str, Any]) -> str:
    """Which field a user error names and its code (never its message: the platform wrote it)."""
    field = error.get("field")
    where = ".".join(str(f) for f in field) if isinstance(field, list) else "request"
    return f"{where}: {platform_code(error.get('code')) or 'no error code'}"

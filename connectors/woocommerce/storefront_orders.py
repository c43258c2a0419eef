"""The orders verbs of the woocommerce storefront (see connectors/storefront/orders.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors.errors import NotFound
from connectors.readers.ids import id_text
from connectors.readers.times import utc_time
from connectors.storefront.access import StoreAccess
from connectors.storefront.orders import EventKind, PolledOrder, PrivacyRequest, StoreReturn
from connectors.woocommerce import returns
from connectors.woocommerce.client import client_for
from connectors.woocommerce.orders import order_from_rest
from core.orders import Order

# Webhook topic (as the X-WC-Webhook-Topic header names it) -> what it means to Waybill.
TOPIC_KINDS: dict[str, EventKind] = {
    "order.created": EventKind.order_changed,
    "order.updated": EventKind.order_changed,
    "order.deleted": EventKind.order_deleted,
    "product.updated": EventKind.product_changed,
}
# The webhooks Waybill keeps on every store.
SUBSCRIPTION_TOPICS = ("order.created", "order.updated", "order.deleted", "product.updated")


class WooOrdersVerbs:
    access: StoreAccess

    @staticmethod
    def kind_of(topic: str) -> EventKind | None:
        return TOPIC_KINDS.get(topic)

    @staticmethod
    def parse_order(kind: EventKind, body: Mapping[str, Any]) -> Order:
        # Pushed or read, an order is the REST v3 order document.
        return order_from_rest(body)

    @staticmethod
    def deleted_order_id(body: Mapping[str, Any]) -> str | None:
        return id_text(body.get("id"))

    @staticmethod
    def privacy_request(kind: EventKind, body: Mapping[str, Any]) -> PrivacyRequest:
        # WooCommerce sends no privacy requests (the merchant's WordPress handles them).
        return PrivacyRequest()

    @staticmethod
    def read_return(body: Mapping[str, Any]) -> StoreReturn | None:
        # No return events: a return shows on the order (``returns_in_order``).
        return None

    @staticmethod
    def returns_in_order(body: Mapping[str, Any]) -> tuple[StoreReturn, ...]:
        return returns.in_order(body)

    @staticmethod
    def orders_named(body: Mapping[str, Any]) -> frozenset[str]:
        found = [body.get("id"), body.get("order_id")]
        return frozenset(text for text in map(id_text, found) if text)

    def orders_since(self, since: datetime) -> Iterator[PolledOrder]:
        params = {
            "modified_after": since.strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
        }
        for order in client_for(self.access).iterate("orders", params):
            yield _polled(order)

    def order_now(self, order_id: str) -> PolledOrder | None:
        try:
            order = client_for(self.access).get(f"orders/{order_id}")
        except NotFound:  # deleted for good (a trashed order is still read, status ``trash``)
            return None
        return _polled(order) if isinstance(order, dict) else None

    def fetch_return(self, order_id: str, return_ref: str) -> StoreReturn | None:
        return returns.fetch(client_for(self.access), order_id, return_ref)

    def ensure_webhooks(self) -> list[str]:
        client = client_for(self.access)
        url = f"{self.access.public_url}/webhooks/woocommerce/{self.access.store_id}"
        ours = {w["topic"]: w for w in client.iterate("webhooks") if w.get("delivery_url") == url}
        repaired = []
        for topic in SUBSCRIPTION_TOPICS:
            hook = ours.get(topic)
            if hook is None:
                client.post("webhooks", _webhook(topic, url, self.access.webhook_secret or ""))
                repaired.append(topic)
            elif hook.get("status") != "active":
                client.put(f"webhooks/{hook['id']}", {"status": "active"})
                repaired.append(f"{topic} (re-enabled)")
        return repaired


def _polled(order: dict[str, Any]) -> PolledOrder:
    modified = utc_time(order["date_modified_gmt"], "order.date_modified_gmt", naive_is_utc=True)
    return PolledOrder(str(order["id"]), modified, json.dumps(order).encode())


def _webhook(topic: str, url: str, secret: str) -> dict[str, str]:
    return {
        "name": f"Waybill {topic}",
        "topic": topic,
        "delivery_url": url,
        "secret": secret,
        "status": "active",
    }

"""Webhooks out: fan an event out to subscriptions, sign it, retry failures, drop dead subscriptions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sandbox.harness import Delivery, WebhookDispatcher
from sandbox.shopify.ids import IdSource
from sandbox.shopify.store import ShopData, Subscription

# Topic names in headers and subscriptions (WebhookSubscriptionTopic), for the topics the sandbox raises.
TOPICS: dict[str, str] = {
    "orders/create": "ORDERS_CREATE",
    "orders/updated": "ORDERS_UPDATED",
    "orders/cancelled": "ORDERS_CANCELLED",
    "refunds/create": "REFUNDS_CREATE",
    "inventory_levels/update": "INVENTORY_LEVELS_UPDATE",
    "products/update": "PRODUCTS_UPDATE",
    "returns/request": "RETURNS_REQUEST",
    "returns/approve": "RETURNS_APPROVE",
    "returns/decline": "RETURNS_DECLINE",
    "returns/close": "RETURNS_CLOSE",
    "returns/cancel": "RETURNS_CANCEL",
    "app/uninstalled": "APP_UNINSTALLED",
}
# Mandatory privacy topics: configured in the app, not subscribable through the API.
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")

# Shopify retries a failed delivery 8 times over about 4 hours, then removes the subscription.
DEFAULT_RETRY_SCHEDULE_S: tuple[float, ...] = (10, 30, 60, 300, 900, 1800, 3600, 7200)


def sign(secret: str, body: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256 of the raw body with the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WebhookSender:
    """Builds and sends the events of every shop of one app."""

    def __init__(
        self,
        dispatcher: WebhookDispatcher,
        api_secret: str,
        api_version: str,
        ids: Callable[[], IdSource],
        on_removed: Callable[[ShopData, Subscription], None],
        retry_schedule_s: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE_S,
    ) -> None:
        self.dispatcher = dispatcher
        self.api_secret = api_secret
        self.api_version = api_version
        self.retry_schedule_s = retry_schedule_s
        self._ids = ids
        self._on_removed = on_removed
        self.compliance_uri: str | None = None

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._ids().next()))

    def emit(self, shop: ShopData, topic: str, payload: dict[str, Any], now: float) -> int:
        """Queue one event for every matching subscription; returns how many deliveries were queued."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        event_id = self._uuid()
        triggered = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        targets: list[tuple[str, Subscription | None]] = []
        if topic in COMPLIANCE_TOPICS:
            targets = [(self.compliance_uri, None)] if self.compliance_uri else []
        else:
            targets = [(s.uri, s) for s in shop.subscriptions.values() if s.topic == TOPICS[topic]]
        for uri, sub in targets:
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign(self.api_secret, body),
                "X-Shopify-Shop-Domain": shop.domain,
                "X-Shopify-API-Version": self.api_version,
                # One webhook id per (event, subscription); its retries keep it, as does the event id.
                "X-Shopify-Webhook-Id": self._uuid(),
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered,
            }
            self._send(shop, sub, uri, topic, headers, body, attempt=0)
        return len(targets)

    def _send(
        self,
        shop: ShopData,
        sub: Subscription | None,
        uri: str,
        topic: str,
        headers: dict[str, str],
        body: bytes,
        attempt: int,
    ) -> None:
        """Submit attempt ``attempt`` (0 = first delivery, then retries on the schedule)."""

        def build() -> tuple[dict[str, str], bytes]:
            return dict(headers), body

        def on_result(delivery: Delivery) -> None:
            if delivery.status is not None and 200 <= delivery.status < 300:
                return
            if attempt < len(self.retry_schedule_s):
                self._send(shop, sub, uri, topic, headers, body, attempt + 1)
            elif sub is not None:
                self._on_removed(shop, sub)

        if attempt == 0:
            self.dispatcher.submit(uri, topic, build, on_result)
        else:
            self.dispatcher.submit_after(self.retry_schedule_s[attempt - 1], uri, topic, build, on_result)

"""Outgoing webhooks as WooCommerce sends them (``WC_Webhook``).

A change queues at most one pending delivery per (webhook, resource); the payload is
built when the delivery runs, from the state at that moment. A failed delivery is
never retried: it only raises ``failure_count``, and a failure arriving when the count
is already above the limit (5) disables the webhook. Reactivating it does not reset
the count, so the next failure disables it again; a success resets it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import itertools
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sandbox.harness import Delivery, WebhookDispatcher
from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.phpjson import dumps, specialchars_decode
from sandbox.woocommerce.store import Record, Store
from sandbox.woocommerce.wphttp import NOT_EXECUTED, validate_url

USER_AGENT = "WooCommerce/10.0.0 Hookshot (WordPress/6.8.1)"
STATUSES = ("active", "paused", "disabled")
RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
TOPIC_HOOKS: dict[str, list[str]] = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": [
        "woocommerce_update_order",
        "woocommerce_order_refunded",
        "woocommerce_delete_order_refund",
    ],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": [
        "woocommerce_process_product_meta",
        "woocommerce_new_product",
        "woocommerce_new_product_variation",
    ],
    "product.updated": [
        "woocommerce_process_product_meta",
        "woocommerce_update_product",
        "woocommerce_update_product_variation",
    ],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}
PayloadBuilder = Callable[[str, int], Any]


def is_valid_topic(topic: Any) -> bool:
    """``wc_is_webhook_valid_topic``: ``action.<hook>`` or a known resource.event pair."""
    if not isinstance(topic, str) or "." not in topic:
        return False
    resource, _, event = topic.lower().partition(".")
    return resource == "action" or (resource in RESOURCES and event in EVENTS)


def sign(secret: str, body: bytes) -> str:
    """``X-WC-Webhook-Signature``: base64 HMAC-SHA256 of the body, secret special-chars-decoded."""
    return base64.b64encode(
        hmac.new(specialchars_decode(secret).encode(), body, hashlib.sha256).digest()
    ).decode()


class WebhookHub:
    """The store's webhooks: CRUD, queuing on events, delivery and failure accounting."""

    def __init__(
        self, store: Store, dispatcher: WebhookDispatcher, payload: PayloadBuilder, lock: threading.RLock
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.payload = payload
        self.lock = lock
        self.max_failures = 5
        self.hooks: dict[int, Record] = {}
        self._ids = itertools.count(1)
        self._pending: set[tuple[int, int]] = set()
        self._salt = secrets.token_hex(16)
        # Test and demo switch (see sandbox.woocommerce.wphttp): send to loopback at any port.
        self.unsafe_urls_allowed: Callable[[], bool] = lambda: False

    def get(self, webhook_id: int, status: int = 400, message: str = "ID is invalid.") -> Record:
        record = self.hooks.get(webhook_id)
        if record is None:
            raise WooError("woocommerce_rest_shop_webhook_invalid_id", message, status)
        return record

    def create(self, data: dict[str, Any], user_id: int = 1) -> Record:
        """Create (REST semantics: validated topic and URL, random secret if none) and ping."""
        if not is_valid_topic(data.get("topic")):
            raise WooError(
                "woocommerce_rest_shop_webhook_invalid_topic",
                "Webhook topic is required and must be valid.",
                400,
            )
        url = str(data.get("delivery_url") or "")
        if not url.startswith(("http://", "https://")):
            message = "Webhook delivery URL must be a valid URL starting with http:// or https://."
            raise WooError("woocommerce_rest_shop_webhook_invalid_delivery_url", message, 400)
        now = self.store.now()
        name = data.get("name") or "Webhook created on " + datetime.fromtimestamp(now, UTC).strftime(
            "%b %d, %Y @ %I:%M %p"
        )
        record: Record = {
            "id": next(self._ids),
            "name": str(name),
            "status": data.get("status") if data.get("status") in STATUSES else "active",
            "topic": str(data["topic"]).lower(),
            "delivery_url": url,
            "secret": str(data.get("secret") or secrets.token_urlsafe(37)[:50]),
            "user_id": user_id,
            "failure_count": 0,
            "created": now,
            "modified": now,
        }
        self.hooks[record["id"]] = record
        self._ping(record)
        return record

    def update(self, record: Record, data: dict[str, Any]) -> None:
        if data.get("topic"):
            if not is_valid_topic(data["topic"]):
                raise WooError(
                    "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid.", 400
                )
            record["topic"] = str(data["topic"]).lower()
        if data.get("delivery_url"):
            record["delivery_url"] = str(data["delivery_url"])
        if data.get("secret"):
            record["secret"] = str(data["secret"])
        if data.get("status"):
            if data["status"] not in STATUSES:
                raise WooError(
                    "woocommerce_rest_shop_webhook_invalid_status", "Webhook status must be valid.", 400
                )
            record["status"] = data["status"]
        if data.get("name"):
            record["name"] = str(data["name"])
        record["modified"] = self.store.now()

    def to_json(self, record: Record, edit: bool = False) -> dict[str, Any]:
        resource, _, event = record["topic"].partition(".")
        body: dict[str, Any] = {
            "id": record["id"],
            "name": record["name"],
            "status": record["status"],
            "topic": record["topic"],
            "resource": resource,
            "event": event,
            "hooks": list(TOPIC_HOOKS.get(record["topic"], [event] if resource == "action" else [])),
            "delivery_url": record["delivery_url"],
            **self.store.dates("date_created", record["created"]),
            **self.store.dates("date_modified", record["modified"]),
            "_links": self.store.links(f"webhooks/{record['id']}", "webhooks"),
        }
        if edit:
            body["secret"] = record["secret"]
        return body

    # -- delivery
    def on_event(self, topic: str, resource_id: int) -> None:
        """A WooCommerce hook fired: queue one delivery per active webhook unless one is already pending."""
        for record in list(self.hooks.values()):
            key = (record["id"], resource_id)
            if record["status"] != "active" or record["topic"] != topic or key in self._pending:
                continue
            self._pending.add(key)
            self.dispatcher.submit(
                record["delivery_url"],
                topic,
                functools.partial(self._build, key),
                functools.partial(self._on_result, record["id"]),
                self._refuse,
            )

    def _build(self, key: tuple[int, int]) -> tuple[dict[str, str], bytes]:
        webhook_id, resource_id = key
        with self.lock:
            self._pending.discard(key)
            record = self.hooks.get(webhook_id)
            if record is None:
                return {}, b""
            resource, _, event = record["topic"].partition(".")
            data = {"id": resource_id} if event == "deleted" else self.payload(resource, resource_id)
            body = dumps(data)
            now = self.store.now()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-WC-Webhook-Source": self.store.home_url.rstrip("/") + "/",
                "X-WC-Webhook-Topic": record["topic"],
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": sign(record["secret"], body),
                "X-WC-Webhook-ID": str(webhook_id),
                # wp_hash($id . time()): two deliveries of one webhook within a second share it.
                "X-WC-Webhook-Delivery-ID": hmac.new(
                    self._salt.encode(), f"{webhook_id}{int(now)}".encode(), hashlib.md5
                ).hexdigest(),
            }
            return headers, body

    def _on_result(self, webhook_id: int, delivery: Delivery) -> None:
        with self.lock:
            record = self.hooks.get(webhook_id)
            if record is None:
                return
            if delivery.status is not None and 200 <= delivery.status < 303:
                record["failure_count"] = 0
            elif record["failure_count"] > self.max_failures:
                record["status"] = "disabled"
            else:
                record["failure_count"] += 1

    def _refuse(self, url: str) -> str | None:
        """``wp_safe_remote_request``'s check: the reason a stock WordPress would not send to ``url``."""
        open_ = self.unsafe_urls_allowed()
        if validate_url(url, self.store.home_url, host_is_external=open_, any_port=open_):
            return None
        return NOT_EXECUTED

    def _ping(self, record: Record) -> None:
        body = f"webhook_id={record['id']}".encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT}
        # A refused ping is only reported to whoever created the webhook; it counts no failure.
        self.dispatcher.submit(record["delivery_url"], "ping", lambda: (headers, body), refuse=self._refuse)

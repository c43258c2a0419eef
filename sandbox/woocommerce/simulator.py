"""The WooCommerce store simulator: REST API v3 under ``/wp-json/wc/v3/``, key exchange, webhooks.

One instance is one store. Its home URL is the URL it is served at (bind it with
``bind(url)``, or let the first request's host decide). Over plain HTTP only OAuth
1.0a works, as on a real store; pass ``https=True`` (or send ``X-Forwarded-Proto:
https``) to behave as a store behind TLS that also accepts Basic auth.
"""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.harness import Clock, Faults, Simulator
from sandbox.woocommerce import (
    catalog,
    keyexchange,
    rest_catalog,
    rest_orders,
    rest_settings,
    rest_webhooks,
)
from sandbox.woocommerce.api import Ctx
from sandbox.woocommerce.auth import KeyStore
from sandbox.woocommerce.errors import (
    WooError,
    error_response,
    generic_error,
    json_response,
    permission_error,
)
from sandbox.woocommerce.merchant import MerchantActions
from sandbox.woocommerce.order_shapes import order_json
from sandbox.woocommerce.store import Store
from sandbox.woocommerce.webhooks import WebhookHub

REST_PREFIX = "/wp-json/wc/v3/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WooCommerceSimulator(MerchantActions, Simulator):
    """A WooCommerce store; see :mod:`sandbox.woocommerce.merchant` for the test-facing actions."""

    name = "woocommerce"

    def __init__(
        self,
        clock: Clock | None = None,
        faults: Faults | None = None,
        *,
        https: bool = False,
        home_url: str | None = None,
        utc_offset_hours: float = 0.0,
        currency: str = "USD",
        batch_limit: int = 100,
        allow_http_callback: bool = False,
        allow_unsafe_delivery_urls: bool = False,
    ) -> None:
        self.https = https
        self.utc_offset_hours = utc_offset_hours
        self.currency = currency
        self.batch_limit = batch_limit
        # Test and demo switches; a real store has neither (both default to the real behaviour).
        self.allow_http_callback = allow_http_callback
        self.allow_unsafe_delivery_urls = allow_unsafe_delivery_urls
        self.approve_key_requests = True
        self.callback_timeout_s = 10.0
        self._bound_url = home_url
        super().__init__(clock=clock, faults=faults)
        for routes in (rest_catalog.ROUTES, rest_orders.ROUTES, rest_webhooks.ROUTES, rest_settings.ROUTES):
            for path, methods, op, action, handler in routes:
                self._add_rest_route(path, methods, op, action, handler)
        self.route(
            "/wc-auth/v1/authorize", lambda req: keyexchange.authorize(self, req), ["GET", "POST"], "wc_auth"
        )
        # Public (permission_callback __return_true), as WooCommerce's OrderStatusRestController.
        self.route(REST_PREFIX + "orders/statuses", self._order_statuses, ["GET"], "orders.statuses")
        self.route(
            "/_sandbox/woocommerce/order_statuses", self._control_statuses, ["GET", "POST"], "_statuses"
        )

    # -- state
    def reset_state(self) -> None:
        self.state = {}
        self.store = Store(self.clock, self.utc_offset_hours, self.currency)
        if self._bound_url:
            self.store.home_url = self._bound_url
        self.keys = KeyStore()
        self.hub = WebhookHub(self.store, self.webhooks, self._payload, self._lock)
        self.hub.unsafe_urls_allowed = lambda: self.allow_unsafe_delivery_urls
        self.store.on_event = self.hub.on_event

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def bind(self, url: str) -> None:
        """Use ``url`` as the store's home URL (links, webhook source, OAuth base string)."""
        self._bound_url = url.rstrip("/")
        self.store.home_url = self._bound_url

    def snapshot(self) -> Any:
        with self._lock:
            data = self.store.snapshot()
            data["webhooks"] = {
                str(w["id"]): {
                    "topic": w["topic"],
                    "status": w["status"],
                    "failure_count": w["failure_count"],
                }
                for w in self.hub.hooks.values()
            }
            data["keys"] = len(self.keys.keys)
            return data

    # -- order statuses
    def _order_statuses(self, request: Request) -> Response:
        self.count("orders.statuses")
        statuses = self.order_statuses()
        return json_response([{"slug": slug, "name": name} for slug, name in statuses.items()])

    def _control_statuses(self, request: Request) -> Response:
        """``POST {"slug": "delivered", "label": "Delivered"}`` registers one; both verbs list them all."""
        if request.method == "POST":
            data = request.get_json(silent=True) or {}
            try:
                self.register_order_status(str(data.get("slug") or ""), str(data.get("label") or ""))
            except ValueError as exc:
                return json_response({"code": "invalid_status", "message": str(exc)}, 400)
        return json_response(self.order_statuses())

    # -- errors
    def error_response(self, status: int, message: str) -> Response:
        return error_response(generic_error(status, message))

    # -- REST plumbing
    def _add_rest_route(
        self, path: str, methods: tuple[str, ...], op: str, action: str, handler: Any
    ) -> None:
        def endpoint(request: Request, **values: Any) -> Response:
            return self._serve_rest(request, op, action, handler, values)

        self.route(REST_PREFIX + path, endpoint, methods, endpoint=f"{op}:{'/'.join(methods)}")

    def _is_ssl(self, request: Request) -> bool:
        return self.https or request.headers.get("X-Forwarded-Proto", "").lower() == "https"

    def _serve_rest(
        self, request: Request, op: str, action: str, handler: Any, values: dict[str, Any]
    ) -> Response:
        self.count(op)
        with self._lock:
            if not self._bound_url:
                scheme = "https" if self._is_ssl(request) else "http"
                self.store.home_url = f"{scheme}://{request.host}"
            try:
                key = self.keys.authenticate(
                    request, self._is_ssl(request), self.store.home_url, self.clock.now()
                )
                if key is None:
                    raise permission_error(action)
                ctx = Ctx(request, self.store, key, self.batch_limit, self.store.on_event, self.hub)
                body, status, headers = handler(ctx, **values)
            except WooError as err:
                return error_response(err)
        if request.method in WRITE_METHODS and self.lose_response(op):
            return self.lost_response()
        return json_response(body, status, headers)

    # -- webhook payloads, built at delivery time
    def _payload(self, resource: str, resource_id: int) -> Any:
        if resource == "order":
            record = self.store.orders.get(resource_id)
            if record is None:
                return WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404).body()
            return order_json(self.store, record)
        record = self.store.products.get(resource_id)
        if resource != "product" or record is None:
            return WooError(f"woocommerce_rest_{resource}_invalid_id", "Invalid ID.", 404).body()
        return catalog.product_json(self.store, record)

"""Test-facing actions: what a shopper or the merchant does in WP admin, outside the REST API."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sandbox.harness import Delivery, WebhookDispatcher
from sandbox.woocommerce import catalog, orders, rest_settings
from sandbox.woocommerce.auth import KeyStore
from sandbox.woocommerce.order_shapes import order_json
from sandbox.woocommerce.refunds import create_refund
from sandbox.woocommerce.store import Store
from sandbox.woocommerce.webhooks import WebhookHub

# (sku or product id, quantity)
CartLine = tuple[str | int, int]


class MerchantActions:
    """Mixed into the simulator; every action takes the store lock and fires the hooks WooCommerce fires."""

    store: Store
    keys: KeyStore
    hub: WebhookHub
    webhooks: WebhookDispatcher
    _lock: threading.RLock

    def create_key(self, permissions: str = "read_write", user_id: int = 1) -> tuple[str, str]:
        """A REST API key (``ck_`` + 40 hex, ``cs_`` + 40 hex) with ``read``, ``write`` or ``read_write``."""
        with self._lock:
            key = self.keys.create(permissions, user_id=user_id, description="sandbox key")
            return key.consumer_key, key.consumer_secret

    def add_product(
        self, name: str, sku: str = "", price: str = "10.00", stock: int | None = None, **fields: Any
    ) -> int:
        """Publish a product (``type="variable"`` to give it variations); ``stock`` turns on managed stock."""
        data = {"name": name, "sku": sku, "regular_price": price, **fields}
        if stock is not None:
            data.update(manage_stock=True, stock_quantity=stock)
        with self._lock:
            record = catalog.new_product(self.store, data)
            self.store.on_event("product.created", record["id"])
            return int(record["id"])

    def add_variation(
        self, product_id: int, sku: str, price: str = "10.00", stock: int | None = None, **fields: Any
    ) -> int:
        data = {"sku": sku, "regular_price": price, **fields}
        if stock is not None:
            data.update(manage_stock=True, stock_quantity=stock)
        with self._lock:
            record = catalog.new_product(self.store, data, parent=self.store.product(product_id))
            self.store.on_event("product.created", record["id"])
            return int(record["id"])

    def place_order(
        self,
        items: Iterable[CartLine],
        billing: dict[str, str] | None = None,
        shipping: dict[str, str] | None = None,
        shipping_total: str = "0.00",
        status: str = "processing",
        payment_method: str = "stripe",
        **fields: Any,
    ) -> int:
        """A checkout: created pending (``order.created``), then paid (stock reduced, ``order.updated``).

        Both in the same second; ``status="pending"`` stops after the first step, and
        :meth:`pay_order` is the payment arriving later.
        """
        lines = [
            {"sku" if isinstance(ref, str) else "product_id": ref, "quantity": qty} for ref, qty in items
        ]
        data = {
            "line_items": lines,
            "billing": billing or {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
            "shipping": shipping or {"first_name": "Ada", "last_name": "Lovelace", "country": "US"},
            "shipping_lines": [
                {"method_id": "flat_rate", "method_title": "Flat rate", "total": shipping_total}
            ],
            "payment_method": payment_method,
            "payment_method_title": payment_method.replace("_", " ").title(),
            **fields,
        }
        with self._lock:
            record = orders.new_order(self.store, data, created_via="checkout")
            if status != "pending":
                orders.set_status(self.store, record, orders.validate_status(status, self.store))
                self.store.on_event("order.updated", record["id"])
            return int(record["id"])

    def pay_order(self, order_id: int, transaction_id: str = "") -> bool:
        """The buyer's payment completes (the gateway calls ``payment_complete``): ``order.updated``.

        The order becomes processing with ``date_paid`` now, and its stock is reduced now,
        as WooCommerce reduces it at payment. ``False`` (nothing happens) unless the order
        is pending, on hold, failed or cancelled.
        """
        with self._lock:
            record = self.store.order(order_id)
            if not orders.pay_order(self.store, record, transaction_id):
                return False
            self.store.on_event("order.updated", order_id)
            return True

    def refund_order(
        self,
        order_id: int,
        amount: str,
        lines: Iterable[tuple[int, int, str]] = (),
        reason: str = "",
        restock: bool = True,
        api_refund: bool = False,
    ) -> int:
        """The merchant refunds in WP admin (``wc_create_refund``): ``lines`` are (order line item id,
        quantity, refund total); "Restock refunded items" is ticked by default there, and a manual
        refund moves no money. ``order.updated`` follows; the refund's id is returned."""
        data = {
            "amount": amount,
            "reason": reason,
            "line_items": [{"id": i, "quantity": q, "refund_total": t} for i, q, t in lines],
            "api_refund": api_refund,
            "api_restock": restock,
        }
        with self._lock:
            return int(create_refund(self.store, self.store.order(order_id), data)["id"])

    def edit_order(self, order_id: int, **changes: Any) -> None:
        """The merchant saves the order in WP admin (status, addresses, meta...): ``order.updated``."""
        with self._lock:
            orders.update_order(self.store, self.store.order(order_id), changes)

    def register_order_status(self, slug: str, label: str) -> str:
        """A plugin registers an order status (``wc-delivered`` or ``delivered``, label ``Delivered``).

        REST order updates accept it afterwards and ``GET orders/statuses`` lists it; until
        then it is refused as WooCommerce refuses any unknown status. Returns the slug
        without ``wc-``; a ``ValueError`` says what is wrong with a bad slug or label.
        """
        with self._lock:
            return orders.register_status(self.store, slug, label)

    def order_statuses(self) -> dict[str, str]:
        """Every order status the store knows (slug without ``wc-`` -> label)."""
        with self._lock:
            return orders.order_statuses(self.store)

    def edit_product(self, product_id: int, **changes: Any) -> None:
        """The merchant saves a product or variation in WP admin: ``product.updated``."""
        with self._lock:
            record = self.store.products[product_id]
            catalog.apply_product(self.store, record, changes)
            self.store.touch(record)
            self.store.on_event("product.updated", product_id)

    def set_units(self, weight: str | None = None, dimensions: str | None = None) -> None:
        """The merchant picks the weight unit (kg, g, lbs, oz) and dimension unit (m, cm, mm, in, yd)."""
        with self._lock:
            if weight is not None:
                rest_settings.set_setting(self.store, "products", "woocommerce_weight_unit", weight)
            if dimensions is not None:
                rest_settings.set_setting(self.store, "products", "woocommerce_dimension_unit", dimensions)

    def delete_order(self, order_id: int) -> None:
        """The merchant moves the order to the trash: ``order.deleted`` (payload ``{"id": ...}``)."""
        with self._lock:
            record = self.store.order(order_id)
            record["trashed_from"], record["status"] = record["status"], "trash"
            self.store.touch(record)
            self.store.on_event("order.deleted", order_id)

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as ``GET orders/<id>`` shows it."""
        with self._lock:
            return order_json(self.store, self.store.order(order_id))

    def product(self, product_id: int) -> dict[str, Any]:
        with self._lock:
            return catalog.product_json(self.store, self.store.products[product_id])

    def webhook(self, webhook_id: int) -> dict[str, Any]:
        """The stored webhook, including what REST does not show (``secret``, ``failure_count``)."""
        with self._lock:
            return dict(self.hub.hooks[webhook_id])

    def blackout_webhooks(self, delete_every: int = 2) -> dict[str, int]:
        """What a long outage of the receiving end leaves: every webhook disabled, as WooCommerce
        does at the 7th consecutive failed delivery (``failure_count`` past the limit), and every
        ``delete_every``-th one deleted, as a merchant clearing the failing ones out (0: none).
        Returns how many were disabled and deleted."""
        with self._lock:
            ids = sorted(self.hub.hooks)
            deleted = [wid for n, wid in enumerate(ids) if delete_every and n % delete_every == 0]
            for wid in deleted:
                del self.hub.hooks[wid]
            for record in self.hub.hooks.values():
                record["status"] = "disabled"
                record["failure_count"] = self.hub.max_failures + 1
            self.hub._pending.clear()
        return {"disabled": len(ids) - len(deleted), "deleted": len(deleted)}

    def deliver_webhooks(self) -> list[Delivery]:
        """Run every queued delivery now (when the background sender is not started)."""
        return self.webhooks.flush()

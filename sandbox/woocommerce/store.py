"""The state of one WooCommerce store: posts (products, variations, orders, refunds), notes, ids and dates."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sandbox.harness import Clock
from sandbox.woocommerce.errors import WooError

Record = dict[str, Any]
# (topic, resource id): what a WooCommerce action hook would hand to the webhooks.
EventSink = Callable[[str, int], None]


class Store:
    """Plain records keyed by id; the REST layer and the test-facing API both act on them.

    Products, variations, orders and refunds are WordPress posts, so they share one id
    sequence, as on a real store; order items, meta rows and notes have their own.
    """

    def __init__(self, clock: Clock, utc_offset_hours: float = 0.0, currency: str = "USD") -> None:
        self.clock = clock
        self.utc_offset_s = utc_offset_hours * 3600
        self.currency = currency
        self.home_url = "http://127.0.0.1"
        self.products: dict[int, Record] = {}
        self.orders: dict[int, Record] = {}
        self.refunds: dict[int, Record] = {}
        self.notes: dict[int, Record] = {}
        # wp_options the REST settings API serves (sandbox/woocommerce/rest_settings.py); unset: default.
        self.settings: dict[str, str] = {}
        # Order statuses plugins registered (slug without "wc-" -> label), after WooCommerce's own.
        self.custom_statuses: dict[str, str] = {}
        self._post_ids = itertools.count(100)
        self._item_ids = itertools.count(1)
        self._meta_ids = itertools.count(1000)
        self._note_ids = itertools.count(1)
        self.on_event: EventSink = lambda topic, resource_id: None

    # -- ids and time
    def next_post_id(self) -> int:
        return next(self._post_ids)

    def next_item_id(self) -> int:
        return next(self._item_ids)

    def next_note_id(self) -> int:
        return next(self._note_ids)

    def next_meta_id(self) -> int:
        return next(self._meta_ids)

    def now(self) -> float:
        # WordPress stores dates to the second; sub-second times would break exclusive date filters.
        return float(int(self.clock.now()))

    def local_date(self, ts: float | None) -> str | None:
        """A timestamp as the site's local time, WordPress style (no zone designator)."""
        if ts is None:
            return None
        return datetime.fromtimestamp(int(ts + self.utc_offset_s), UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def gmt_date(self, ts: float | None) -> str | None:
        if ts is None:
            return None
        return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def dates(self, name: str, ts: float | None) -> dict[str, str | None]:
        """``{name: local, name_gmt: utc}`` as every WooCommerce resource shows its dates."""
        return {name: self.local_date(ts), f"{name}_gmt": self.gmt_date(ts)}

    def links(self, path: str, collection: str, up: str | None = None) -> dict[str, list[dict[str, str]]]:
        base = f"{self.home_url.rstrip('/')}/wp-json/wc/v3/"
        links = {"self": [{"href": base + path}], "collection": [{"href": base + collection}]}
        if up is not None:
            links["up"] = [{"href": base + up}]
        return links

    # -- meta data
    def apply_meta(self, record: Record, entries: Any) -> None:
        """Apply a REST ``meta_data`` list: by ``id`` when given, otherwise by ``key`` (update or add)."""
        if not isinstance(entries, list):
            return
        meta: list[Record] = record.setdefault("meta_data", [])
        for entry in entries:
            if not isinstance(entry, dict) or "key" not in entry:
                continue
            target = next((m for m in meta if entry.get("id") and m["id"] == entry["id"]), None)
            if target is None:
                target = next((m for m in meta if m["key"] == entry["key"]), None)
            if target is None:
                meta.append({"id": self.next_meta_id(), "key": entry["key"], "value": entry.get("value")})
            else:
                target["key"], target["value"] = entry["key"], entry.get("value")

    # -- lookups
    def product(self, product_id: int) -> Record:
        record = self.products.get(product_id)
        if record is None or record["type"] == "variation":
            raise WooError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        return record

    def variation(self, product_id: int, variation_id: int) -> Record:
        record = self.products.get(variation_id)
        if record is None or record["type"] != "variation" or record["parent_id"] != product_id:
            raise WooError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 404)
        return record

    def order(self, order_id: int) -> Record:
        record = self.orders.get(order_id)
        if record is None:
            raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        return record

    def find_by_sku(self, sku: str) -> Record | None:
        return next((p for p in self.products.values() if sku and p["sku"] == sku), None)

    def touch(self, record: Record) -> None:
        record["modified"] = self.now()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able summary for ``/_sandbox/state`` (small on purpose: no full documents)."""
        return {
            "products": {
                str(p["id"]): {"sku": p["sku"], "type": p["type"], "stock_quantity": p["stock_quantity"]}
                for p in self.products.values()
            },
            "orders": {
                str(o["id"]): {"status": o["status"], "refunds": list(o["refund_ids"])}
                for o in self.orders.values()
            },
            "notes": len(self.notes),
            "custom_order_statuses": dict(self.custom_statuses),
        }

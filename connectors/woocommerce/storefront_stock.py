"""The stock verbs of the woocommerce storefront (see connectors/storefront/stock.py).

Levels are the managed ``stock_quantity`` of products and variations. Writes are
``products/batch`` and ``products/<parent>/variations/batch`` calls of up to 100 items;
an item that failed (``error`` in the answer) is refused and the rest still apply.
WooCommerce has no compare-and-set, so the levels are read first (``include=``, 100 a
call): an item whose level is not what the link says the store shows is ``observed``
and not written, as a stale Shopify compare-and-set is.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from connectors.storefront.access import StoreAccess
from connectors.storefront.stock import (
    Catalog,
    Changed,
    Level,
    Listed,
    Slot,
    StockCall,
    StockEvent,
    StockWrite,
    WriteOutcome,
    WriteResult,
    oldest_first,
)
from connectors.woocommerce import catalog as woo_catalog
from connectors.woocommerce import inventory as woo_stock
from connectors.woocommerce.client import WooClient, client_for
from core.inventory import StockTaken
from core.orders import Order

ItemRef = woo_stock.ItemRef


def item_ref(product_id: int, variant_id: int | None) -> ItemRef:
    """(parent product for a variation, else None; own id)."""
    return (product_id, variant_id) if variant_id is not None else (None, product_id)


class WooStockVerbs:
    access: StoreAccess

    @cached_property
    def _stock_client(self) -> WooClient:
        return client_for(self.access)

    def catalog(self, location_hint: Any = None) -> Catalog:
        return Catalog(woo_catalog.fetch_catalog(self._stock_client).entries)

    def read_levels(self, listed: Sequence[Listed]) -> dict[Hashable, Level]:
        refs = {x.key: item_ref(x.product_id, x.variant_id) for x in listed}
        shown = woo_stock.read_levels(self._stock_client, list(refs.values()))
        return {key: Level(*shown[ref]) for key, ref in refs.items() if ref in shown}

    def levels_changed_since(self, since: datetime, listed: Sequence[Listed]) -> list[Changed]:
        return oldest_first(woo_stock.changed_listings(self._stock_client, since, listed))

    def stock_writer(self) -> WooStockWriter:
        return WooStockWriter(self._stock_client)

    @staticmethod
    def stock_event(body: Mapping[str, Any]) -> StockEvent | None:
        """``product.updated``: a product's (or variation's) managed level."""
        if not body.get("manage_stock") or body.get("stock_quantity") is None:
            return None
        stamp = body.get("date_modified_gmt")
        if not stamp:
            return None
        own, parent = int(body["id"]), int(body.get("parent_id") or 0)
        product, variant = (parent, own) if parent else (own, None)
        return StockEvent(
            int(body["stock_quantity"]), woo_stock.gmt(stamp), product_id=product, variant_id=variant
        )

    def stock_taken(self, payload: Mapping[str, Any], order: Order) -> StockTaken:
        return woo_stock.stock_taken(payload, order)


class WooStockWriter:
    """Read before write, then one batch call at a time per parent (a round planned whole,
    since a parent's variations share a call)."""

    page = None
    in_flight = 1
    ahead = 0

    def __init__(self, client: WooClient) -> None:
        self._client = client

    def accepts(self, write: StockWrite) -> bool:
        return True

    def before(self, writes: Iterator[StockWrite]) -> tuple[list[WriteResult], Iterator[StockWrite]]:
        by_item: dict[ItemRef, StockWrite] = {item_ref(w.product_id, w.variant_id): w for w in writes}
        # No compare-and-set: a level that is not what we believe the store shows (a merchant
        # edit, a sale not counted yet) is left to the settle step instead of written over.
        known = [(ref, w) for ref, w in by_item.items() if w.current is not None]
        shown = woo_stock.read_levels(self._client, [ref for ref, _ in known])
        observed: list[WriteResult] = []
        for ref, w in known:
            level = shown.get(ref)
            if level is not None and level[0] != w.current:
                observed.append(WriteResult(w, WriteOutcome.OBSERVED, level[0], level[1]))
                del by_item[ref]
        return observed, iter(list(by_item.values()))

    def prepare(self, writes: Iterator[StockWrite]) -> Iterator[StockCall]:
        by_item = {item_ref(w.product_id, w.variant_id): w for w in writes}
        updates = [woo_stock.WooStockUpdate(w.product_id, w.variant_id, w.target) for w in by_item.values()]
        for batch in woo_stock.plan_woo_batches(updates):
            path = woo_stock.batch_path(batch.parent_id)
            body = woo_stock.batch_body(batch)
            sent = tuple(by_item[(batch.parent_id, int(item["id"]))] for item in body["update"])
            yield StockCall(
                sent, {"path": path, "body": body}, [path, [w.content() for w in sent]], (path, body)
            )

    def send(self, call: StockCall, idempotency_key: str, slot: Slot) -> dict[str, Any]:
        # Setting an absolute level again is harmless: no idempotency key is needed.
        path, body = call.body
        with slot():
            return woo_stock.trim_reply(self._client.post(path, body))

    def results(
        self, call: StockCall, answer: Mapping[str, Any], slot: Slot
    ) -> tuple[list[WriteResult], list[StockWrite]]:
        items = woo_stock.parse_trimmed(answer)
        out: list[WriteResult] = []
        for item, w in zip(call.body[1]["update"], call.writes, strict=True):
            found = items.get(int(item["id"]))
            if found is None:
                out.append(WriteResult(w, WriteOutcome.REFUSED, reason="not in the batch answer"))
            elif found.error is not None:
                out.append(WriteResult(w, WriteOutcome.REFUSED, reason=found.error))
            else:
                qty = found.stock_quantity if found.stock_quantity is not None else w.target
                out.append(WriteResult(w, WriteOutcome.WRITTEN, qty, found.modified_at))
        return out, []

"""The stock verbs of the shopify storefront (see connectors/storefront/stock.py).

Levels are ``available`` quantities of inventory items at a location (the one the
catalog import chose). Writes are ``inventorySetQuantities`` calls of up to
:data:`MAX_QUANTITIES`, compare-and-set on ``changeFromQuantity`` (what the link says
the shop shows) and ``@idempotent`` under the flow's effects-ledger key, so a call
whose answer was lost is replayed by Shopify, not applied twice. A stale
compare-and-set refuses the whole call: the stale items' levels are read back
(``observed``) and the rest is sent again without them.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from connectors.shopify import catalog as shopify_catalog
from connectors.shopify import inventory as shopify_stock
from connectors.shopify.client import ShopifyClient, client_for
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
from core.inventory import StockTaken
from core.orders import Order, parse_time

MAX_QUANTITIES = 250  # quantities in one inventorySetQuantities (ARCHITECTURE.md, principle 5)
PLAN_PAGE = 1_000  # marks planned at a time (4 full calls), the next page while they are out
IN_FLIGHT = 2  # inventorySetQuantities calls at once (each batch's SKUs are its own)
READY = 2  # further batches claimed and built ahead, each sent the moment a call answers


class ShopifyStockVerbs:
    access: StoreAccess

    @cached_property
    def _stock_client(self) -> ShopifyClient:
        return client_for(self.access)

    def catalog(self, location_hint: Any = None) -> Catalog:
        found = shopify_catalog.fetch_catalog(self._stock_client, location_hint)
        return Catalog(found.entries, found.location.id)

    def read_levels(self, listed: Sequence[Listed]) -> dict[Hashable, Level]:
        out: dict[Hashable, Level] = {}
        for x in listed:
            if x.inventory_item_id is None:
                continue
            level = shopify_stock.read_level(self._stock_client, x.inventory_item_id, x.location_id)
            if level is not None:
                out[x.key] = Level(level.quantity, level.updated_at)
        return out

    def levels_changed_since(self, since: datetime, listed: Sequence[Listed]) -> list[Changed]:
        return oldest_first(shopify_stock.changed_listings(self._stock_client, since, listed))

    def stock_writer(self) -> ShopifyStockWriter:
        return ShopifyStockWriter(self._stock_client, self.access.store_id)

    @staticmethod
    def stock_event(body: Mapping[str, Any]) -> StockEvent | None:
        """``inventory_levels/update``: the item's ``available`` at a location."""
        if body.get("available") is None:
            return None
        return StockEvent(
            int(body["available"]),
            parse_time(str(body["updated_at"])),
            inventory_item_id=int(body["inventory_item_id"]),
            location_id=int(body["location_id"]),
        )

    def stock_taken(self, payload: Mapping[str, Any], order: Order) -> StockTaken:
        return shopify_stock.stock_taken(payload, order)


class ShopifyStockWriter:
    """Compare-and-set batches, :data:`IN_FLIGHT` out and :data:`READY` prepared ahead."""

    in_flight = IN_FLIGHT
    ahead = READY

    def __init__(self, client: ShopifyClient, store_id: int) -> None:
        self._client, self._store_id = client, store_id

    @property
    def page(self) -> int:
        return PLAN_PAGE

    def accepts(self, write: StockWrite) -> bool:
        return write.inventory_item_id is not None and write.location_id is not None

    def before(self, writes: Iterator[StockWrite]) -> tuple[list[WriteResult], Iterator[StockWrite]]:
        return [], writes  # the compare-and-set checks each level at the shop

    def prepare(self, writes: Iterator[StockWrite]) -> Iterator[StockCall]:
        while batch := tuple(itertools.islice(writes, MAX_QUANTITIES)):
            quantities = [
                shopify_stock.SetQuantity(w.inventory_item_id or 0, w.location_id or 0, w.target, w.current)
                for w in batch
            ]
            payload = shopify_stock.set_quantities_input(quantities, f"waybill://stock-push/{self._store_id}")
            yield StockCall(batch, {"input": payload}, [w.content() for w in batch], payload)

    def send(self, call: StockCall, idempotency_key: str, slot: Slot) -> dict[str, Any]:
        with slot():
            data = self._client.execute(
                shopify_stock.DOCUMENT, {"input": call.body, "idempotencyKey": idempotency_key}
            )
        return trim_answer(data)

    def results(
        self, call: StockCall, answer: Mapping[str, Any], slot: Slot
    ) -> tuple[list[WriteResult], list[StockWrite]]:
        pending = call.writes
        result = shopify_stock.parse_set_result(answer)
        if result.applied:
            return [
                WriteResult(w, WriteOutcome.WRITTEN, w.target, result.created_at, checked=True)
                for w in pending
            ], []
        out: list[WriteResult] = []
        stale: list[StockWrite] = []
        refused: set[int] = set()
        for error in result.errors:
            if error.index is None or not 0 <= error.index < len(pending):
                continue
            refused.add(error.index)
            if error.stale:
                stale.append(pending[error.index])
            else:
                reason = f"{error.code}: {error.message}"[:300]
                out.append(WriteResult(pending[error.index], WriteOutcome.REFUSED, reason=reason))
        if not refused:  # refused as a whole, naming no quantity
            why = "; ".join(f"{e.code}: {e.message}" for e in result.errors)[:300]
            return [WriteResult(w, WriteOutcome.REFUSED, reason=why) for w in pending], []
        out += [self._read_back(w, slot) for w in stale]
        return out, [w for i, w in enumerate(pending) if i not in refused]

    def _read_back(self, write: StockWrite, slot: Slot) -> WriteResult:
        """A stale compare-and-set: what the shop shows now."""
        with slot():
            level = shopify_stock.read_level(
                self._client, write.inventory_item_id or 0, write.location_id or 0
            )
        if level is None:
            return WriteResult(
                write, WriteOutcome.REFUSED, reason="the item is no longer stocked at the location"
            )
        if level.quantity == write.target:
            # The shop already shows what we publish (e.g. our own earlier write whose answer
            # was lost): nothing to settle.
            return WriteResult(write, WriteOutcome.WRITTEN, level.quantity, level.updated_at)
        return WriteResult(write, WriteOutcome.OBSERVED, level.quantity, level.updated_at)


def trim_answer(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the effects ledger keeps of an answer: the group's time and the userErrors."""
    payload = data.get("inventorySetQuantities") or {}
    group = payload.get("inventoryAdjustmentGroup") or None
    return {
        "inventorySetQuantities": {
            "inventoryAdjustmentGroup": {"id": group.get("id"), "createdAt": group.get("createdAt")}
            if group
            else None,
            "userErrors": payload.get("userErrors") or [],
        }
    }

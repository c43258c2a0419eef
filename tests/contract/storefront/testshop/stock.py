"""The stock verbs of the test shop: a made-up REST API, as small as a stock API can be.

``https://<domain>/api/``:

- ``GET items`` -> ``[{"id", "sku", "title", "managed", "stock", "updated"}]`` (the catalog);
- ``GET items/<id>/stock`` -> ``{"stock", "updated"}`` (404: gone);
- ``GET stock?since=<iso>`` -> ``[{"id", "stock", "updated"}]`` (changed strictly after);
- ``POST stock`` ``{"set": [{"id", "stock", "expect"}], "key"}`` -> ``{"results": [{"id",
  "status": "ok" | "conflict" | "error", "stock", "updated", "error"}]}``: a per-item
  compare-and-set on ``expect``, at most :data:`BATCH` items, idempotent under ``key``;
- a stock event is ``{"item", "stock", "updated"}``; an order payload says
  ``"stock_taken_at"`` (null: the shop holds none of its units).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import requests

from connectors.errors import NotFound, error_for_exception, error_for_status
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
from core.catalog import CatalogEntry
from core.inventory import StockTaken
from core.orders import Order, parse_time

BATCH = 3  # items in one POST stock: small, so that tests see calls split


def api(access: StoreAccess, path: str) -> str:
    return f"https://{access.domain}/api/{path}"


def call(access: StoreAccess, method: str, path: str, **kwargs: Any) -> Any:
    """One request; every failure as a ``core.errors`` type."""
    try:
        response = requests.request(method, api(access, path), timeout=5, **kwargs)
    except requests.RequestException as exc:
        raise error_for_exception(exc, f"testshop {path}") from exc
    error = error_for_status(response.status_code, f"testshop {path}", response.headers)
    if error is not None:
        raise error
    return response.json()


class TestShopStock:
    __test__ = False  # not a pytest class
    access: StoreAccess

    def catalog(self, location_hint: Any = None) -> Catalog:
        return Catalog(
            [
                CatalogEntry(
                    sku=row.get("sku"),
                    product_id=int(row["id"]),
                    variant_id=None,
                    title=str(row.get("title") or ""),
                    tracked=bool(row.get("managed")),
                    available=int(row["stock"]) if row.get("managed") else None,
                    level_at=parse_time(row["updated"]),
                )
                for row in call(self.access, "GET", "items")
            ]
        )

    def read_levels(self, listed: Sequence[Listed]) -> dict[Hashable, Level]:
        out: dict[Hashable, Level] = {}
        for x in listed:
            try:
                row = call(self.access, "GET", f"items/{x.product_id}/stock")
            except NotFound:
                continue
            out[x.key] = Level(int(row["stock"]), parse_time(row["updated"]))
        return out

    def levels_changed_since(self, since: datetime, listed: Sequence[Listed]) -> list[Changed]:
        keys = {x.product_id: x.key for x in listed}
        rows = call(self.access, "GET", "stock", params={"since": since.isoformat()})
        return oldest_first(
            Changed(keys[int(r["id"])], int(r["stock"]), parse_time(r["updated"]))
            for r in rows
            if int(r["id"]) in keys
        )

    def stock_writer(self) -> TestShopStockWriter:
        return TestShopStockWriter(self.access)

    @staticmethod
    def stock_event(body: Mapping[str, Any]) -> StockEvent | None:
        if body.get("stock") is None:
            return None
        return StockEvent(int(body["stock"]), parse_time(body["updated"]), product_id=int(body["item"]))

    def stock_taken(self, payload: Mapping[str, Any], order: Order) -> StockTaken:
        at = payload.get("stock_taken_at")
        return StockTaken(parse_time(at) if at else None)


class TestShopStockWriter:
    __test__ = False
    page = 10
    in_flight = 1
    ahead = 1

    def __init__(self, access: StoreAccess) -> None:
        self._access = access

    def accepts(self, write: StockWrite) -> bool:
        return True

    def before(self, writes: Iterator[StockWrite]) -> tuple[list[WriteResult], Iterator[StockWrite]]:
        return [], writes

    def prepare(self, writes: Iterator[StockWrite]) -> Iterator[StockCall]:
        while batch := tuple(itertools.islice(writes, BATCH)):
            body = [{"id": w.product_id, "stock": w.target, "expect": w.current} for w in batch]
            yield StockCall(batch, {"set": body}, [w.content() for w in batch], body)

    def send(self, call_: StockCall, idempotency_key: str, slot: Slot) -> dict[str, Any]:
        with slot():
            answer = call(self._access, "POST", "stock", json={"set": call_.body, "key": idempotency_key})
        return {"results": answer["results"]}

    def results(
        self, call_: StockCall, answer: Mapping[str, Any], slot: Slot
    ) -> tuple[list[WriteResult], list[StockWrite]]:
        by_id = {int(r["id"]): r for r in answer["results"]}
        out: list[WriteResult] = []
        for w in call_.writes:
            row = by_id.get(w.product_id)
            if row is None or row["status"] == "error":
                reason = str(row.get("error")) if row else "not in the answer"
                out.append(WriteResult(w, WriteOutcome.REFUSED, reason=reason))
                continue
            outcome = WriteOutcome.WRITTEN if row["status"] == "ok" else WriteOutcome.OBSERVED
            checked = outcome is WriteOutcome.WRITTEN and w.current is not None
            out.append(
                WriteResult(w, outcome, int(row["stock"]), parse_time(row["updated"]), checked=checked)
            )
        return out, []

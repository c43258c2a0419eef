"""Shopify stock writes: ``inventorySetQuantities`` requests and what their answers mean.

Pure helpers (no I/O): ``sync/stock_push.py`` sends the requests through the client and the
effects ledger.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.storefront.stock import Changed, Listed
from core.inventory import StockTaken
from core.orders import Order, parse_time

DOCUMENT = "inventory_set_quantities"
LEVEL_DOCUMENT = "inventory_item_levels"
QUANTITY_NAME = "available"
# Shopify's reason for a level set to what the ledger says it is.
REASON = "correction"
STALE = "CHANGE_FROM_QUANTITY_STALE"


def item_gid(item_id: int) -> str:
    return f"gid://shopify/InventoryItem/{item_id}"


def location_gid(location_id: int) -> str:
    return f"gid://shopify/Location/{location_id}"


def gid_id(gid: str) -> int:
    return int(str(gid).rsplit("/", 1)[-1])


@dataclass(frozen=True)
class SetQuantity:
    """One absolute level to set; ``change_from`` is what we believe the shop shows (None: unknown)."""

    inventory_item_id: int
    location_id: int
    quantity: int
    change_from: int | None


def set_quantities_input(quantities: Sequence[SetQuantity], reference_uri: str) -> dict[str, Any]:
    """The ``input`` of ``inventorySetQuantities`` (compare-and-set on every quantity)."""
    return {
        "name": QUANTITY_NAME,
        "reason": REASON,
        "referenceDocumentUri": reference_uri,
        "quantities": [
            {
                "inventoryItemId": item_gid(q.inventory_item_id),
                "locationId": location_gid(q.location_id),
                "quantity": q.quantity,
                "changeFromQuantity": q.change_from,
            }
            for q in quantities
        ],
    }


@dataclass(frozen=True)
class QuantityError:
    """A userError: ``index`` is the quantity it names (None when it names none)."""

    index: int | None
    code: str
    message: str

    @property
    def stale(self) -> bool:
        return self.code == STALE


@dataclass(frozen=True)
class SetResult:
    """An answer: applied (``created_at`` is the adjustment group's time) or refused whole (``errors``)."""

    created_at: datetime | None
    errors: tuple[QuantityError, ...]

    @property
    def applied(self) -> bool:
        return not self.errors and self.created_at is not None


def _index(field: Any) -> int | None:
    # ["input", "quantities", 3, "changeFromQuantity"]
    if isinstance(field, list) and len(field) >= 3 and field[1] == "quantities":
        try:
            return int(field[2])
        except (TypeError, ValueError):
            return None
    return None


def parse_set_result(data: Mapping[str, Any]) -> SetResult:
    """Read ``data`` of an ``inventorySetQuantities`` answer (Shopify refuses the whole call on any error)."""
    payload = data.get("inventorySetQuantities") or {}
    errors = tuple(
        QuantityError(_index(e.get("field")), str(e.get("code") or ""), str(e.get("message") or ""))
        for e in payload.get("userErrors") or []
    )
    group = payload.get("inventoryAdjustmentGroup") or {}
    created = group.get("createdAt")
    return SetResult(parse_time(str(created)) if created and not errors else None, errors)


@dataclass(frozen=True)
class ShopLevel:
    """The ``available`` quantity at one location and the level's ``updatedAt``."""

    quantity: int
    updated_at: datetime


def parse_item_level(data: Mapping[str, Any], location_id: int | None) -> ShopLevel | None:
    """The level at ``location_id`` (None: the first location) from an ``InventoryItemLevels``
    answer (None if not stocked there)."""
    item = data.get("inventoryItem") or {}
    for node in (item.get("inventoryLevels") or {}).get("nodes") or []:
        if location_id is not None and gid_id(node["location"]["id"]) != location_id:
            continue
        for q in node.get("quantities") or []:
            if q.get("name") == QUANTITY_NAME and q.get("quantity") is not None:
                return ShopLevel(int(q["quantity"]), parse_time(str(node["updatedAt"])))
    return None


LEVELS_FIRST = 50  # locations read with an item's levels


def read_level(client: Any, inventory_item_id: int, location_id: int | None) -> ShopLevel | None:
    """What the shop shows now for an item at a location (``inventoryItem.inventoryLevels``)."""
    data = client.execute(LEVEL_DOCUMENT, {"id": item_gid(inventory_item_id), "levelsFirst": LEVELS_FIRST})
    return parse_item_level(data, location_id)


def stock_taken(payload: Mapping[str, Any], order: Order) -> StockTaken:
    """Shopify commits an order's units when the order is created, and keeps them taken.

    A cancellation gives them back only when the merchant chooses to restock; Waybill
    then pushes the ledger's level after the release.
    """
    return StockTaken(order.created_at)


LEVELS_CHANGED_DOCUMENT = "location_levels_updated_since"
LEVELS_CHANGED_PAGE = 100


@dataclass(frozen=True)
class ChangedLevel:
    """The ``available`` level of an inventory item at a location, changed since a time."""

    inventory_item_id: int
    location_id: int
    quantity: int
    at: datetime


def levels_changed_since(client: Any, location_id: int, since: datetime) -> list[ChangedLevel]:
    """The levels at ``location_id`` whose ``updatedAt`` is after ``since``
    (``Location.inventoryLevels(query: "updated_at:>...")``, 100 a page)."""
    query = f"updated_at:>'{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    found: list[ChangedLevel] = []
    after: str | None = None
    while True:
        data = client.execute(
            LEVELS_CHANGED_DOCUMENT,
            {"id": location_gid(location_id), "query": query, "first": LEVELS_CHANGED_PAGE, "after": after},
        )
        page = (data.get("location") or {}).get("inventoryLevels") or {}
        for node in page.get("nodes") or []:
            for q in node.get("quantities") or []:
                if q.get("name") == QUANTITY_NAME and q.get("quantity") is not None:
                    found.append(
                        ChangedLevel(
                            gid_id(node["item"]["id"]),
                            location_id,
                            int(q["quantity"]),
                            parse_time(node["updatedAt"]),
                        )
                    )
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return found
        after = info.get("endCursor")


def changed_listings(client: Any, since: datetime, listed: Sequence[Listed]) -> list[Changed]:
    """The levels of ``listed`` changed after ``since``, at each location they are listed at."""
    by_item: dict[tuple[int | None, int | None], Hashable] = {
        (x.inventory_item_id, x.location_id): x.key for x in listed if x.inventory_item_id
    }
    out: list[Changed] = []
    for location_id in sorted({x.location_id for x in listed if x.location_id is not None}):
        for level in levels_changed_since(client, location_id, since):
            key = by_item.get((level.inventory_item_id, level.location_id))
            if key is not None:
                out.append(Changed(key, level.quantity, level.at))
    return out

"""``inventorySetQuantities``: absolute quantities with compare-and-set."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from sandbox.shopify import payloads_shop as payloads
from sandbox.shopify.context import Info, ctx, failed, user_error
from sandbox.shopify.ids import gid, parse_gid
from sandbox.shopify.store import AdjustmentGroup, Level, ShopData

QUANTITY_NAMES = ("available", "on_hand")
MAX_QUANTITY = 1_000_000_000
# The reasons Shopify accepts for quantity changes.
REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)


def _check_quantity(shop: ShopData, index: int, q: dict[str, Any], name: str) -> dict[str, Any] | None:
    field = ["input", "quantities", index]
    item_id = parse_gid(q["inventoryItemId"], "InventoryItem")
    location_id = parse_gid(q["locationId"], "Location")
    if item_id not in shop.items:
        return user_error(
            [*field, "inventoryItemId"],
            "The specified inventory item could not be found.",
            "INVALID_INVENTORY_ITEM",
        )
    if location_id not in shop.locations:
        return user_error(
            [*field, "locationId"], "The specified location could not be found.", "INVALID_LOCATION"
        )
    level = shop.levels.get((item_id, location_id))
    if level is None:
        return user_error(
            [*field, "locationId"], "The item is not stocked at the location.", "ITEM_NOT_STOCKED_AT_LOCATION"
        )
    if q["quantity"] < 0:
        return user_error(
            [*field, "quantity"], "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE"
        )
    if q["quantity"] > MAX_QUANTITY:
        return user_error(
            [*field, "quantity"],
            "The quantity can't be higher than 1,000,000,000.",
            "INVALID_QUANTITY_TOO_HIGH",
        )
    current = level.available if name == "available" else level.on_hand
    expected = q["changeFromQuantity"]
    if expected is not None and expected != current:
        return user_error(
            [*field, "changeFromQuantity"],
            "The changeFromQuantity value does not match the quantity on record.",
            "CHANGE_FROM_QUANTITY_STALE",
        )
    return None


def _apply(level: Level, name: str, quantity: int, now: float) -> int:
    """Set the named quantity; the other one moves by the same delta, as on Shopify."""
    delta = quantity - (level.available if name == "available" else level.on_hand)
    if delta == 0:
        return 0  # nothing changes: the level keeps its time and no level update is sent
    level.available += delta
    level.on_hand += delta
    level.updated_at = now
    return delta


def inventory_set_quantities(info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    shop = context.shop
    name, quantities = input["name"], input["quantities"]
    for q in quantities:
        if "changeFromQuantity" not in q:
            raise GraphQLError(
                "InventoryQuantityInput must include the following argument: changeFromQuantity.",
                extensions={"code": "BAD_REQUEST"},
            )
    errors: list[dict[str, Any]] = []
    if name not in QUANTITY_NAMES:
        errors.append(
            user_error(
                ["input", "name"],
                "The quantity name must be either 'available' or 'on_hand'.",
                "INVALID_NAME",
            )
        )
    if input["reason"] not in REASONS:
        errors.append(user_error(["input", "reason"], "The reason is not valid.", "INVALID_REASON"))
    if not errors:
        errors = [e for i, q in enumerate(quantities) if (e := _check_quantity(shop, i, q, name))]
    if errors:
        return failed("inventoryAdjustmentGroup", errors)
    changes = []
    for q in quantities:
        item_id = parse_gid(q["inventoryItemId"], "InventoryItem") or 0
        location_id = parse_gid(q["locationId"], "Location") or 0
        level = shop.levels[(item_id, location_id)]
        delta = _apply(level, name, q["quantity"], context.now)
        shop.inventory_writes.append(
            {
                "inventory_item_id": item_id,
                "location_id": location_id,
                "name": name,
                "quantity": q["quantity"],
                "change_from_quantity": q["changeFromQuantity"],
                "delta": delta,
                "at": context.now,
            }
        )
        for changed in QUANTITY_NAMES:
            after = level.available if changed == "available" else level.on_hand
            changes.append(
                {
                    "name": changed,
                    "delta": delta,
                    "quantityAfterChange": after,
                    "item": {"id": gid("InventoryItem", item_id)},
                    "location": {"id": gid("Location", location_id)},
                }
            )
        if delta:
            context.emit(shop, "inventory_levels/update", payloads.inventory_level(level))
    group = AdjustmentGroup(
        context.ids.next(), context.now, input["reason"], input.get("referenceDocumentUri"), changes
    )
    shop.adjustment_groups[group.id] = group
    return {"inventoryAdjustmentGroup": _group_view(group), "userErrors": []}


def _group_view(group: AdjustmentGroup) -> dict[str, Any]:
    from sandbox.shopify.ids import iso_utc

    return {
        "id": gid("InventoryAdjustmentGroup", group.id),
        "createdAt": iso_utc(group.created_at),
        "reason": group.reason,
        "referenceDocumentUri": group.reference_document_uri,
        "changes": lambda info, **a: [dict(c) for c in group.changes],
    }

"""Fulfilment mutations: create, tracking update, shipment events."""

from __future__ import annotations

from typing import Any

from sandbox.shopify import payloads, views
from sandbox.shopify.context import Info, ctx, failed, user_error
from sandbox.shopify.ids import gid, iso_utc, parse_gid, parse_time
from sandbox.shopify.store import Fulfillment, FulfillmentLine, FulfillmentOrder, Order, ShopData

FULFILLABLE = ("OPEN", "IN_PROGRESS")


def _tracking(info_input: dict[str, Any] | None) -> list[dict[str, str | None]]:
    if not info_input:
        return []
    numbers = info_input.get("numbers") or ([info_input["number"]] if info_input.get("number") else [])
    urls = info_input.get("urls") or ([info_input["url"]] if info_input.get("url") else [])
    company = info_input.get("company")
    if not numbers:
        return [{"company": company, "number": None, "url": urls[0] if urls else None}]
    return [
        {"company": company, "number": n, "url": urls[i] if i < len(urls) else None}
        for i, n in enumerate(numbers)
    ]


def _plan(
    shop: ShopData, groups: list[dict[str, Any]]
) -> tuple[list[tuple[FulfillmentOrder, Any, int]], Any]:
    """The (fulfillment order, line, quantity) to fulfil, or the first user error."""
    plan: list[tuple[FulfillmentOrder, Any, int]] = []
    order_ids = set()
    for i, group in enumerate(groups):
        field = ["fulfillment", "lineItemsByFulfillmentOrder", i]
        fo = shop.fulfillment_orders.get(parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder") or -1)
        if fo is None:
            return [], user_error([*field, "fulfillmentOrderId"], "Fulfillment order does not exist.")
        if fo.status not in FULFILLABLE:
            return [], user_error(
                [*field, "fulfillmentOrderId"],
                f"Fulfillment order {gid('FulfillmentOrder', fo.id)} has an unfulfillable status= "
                f"{fo.status.lower()}.",
            )
        order_ids.add(fo.order_id)
        lines = {line.id: line for line in fo.lines}
        wanted = group.get("fulfillmentOrderLineItems") or [
            {"id": gid("FulfillmentOrderLineItem", line.id), "quantity": line.remaining} for line in fo.lines
        ]
        for j, item in enumerate(wanted):
            line = lines.get(parse_gid(item["id"], "FulfillmentOrderLineItem") or -1)
            if line is None or not 0 < item["quantity"] <= line.remaining:
                return [], user_error(
                    [*field, "fulfillmentOrderLineItems", j],
                    "Invalid fulfillment order line item quantity requested.",
                )
            plan.append((fo, line, item["quantity"]))
    if len(order_ids) > 1:
        return [], user_error(["fulfillment"], "All fulfillment orders must belong to the same order.")
    if not plan:
        return [], user_error(["fulfillment"], "Nothing to fulfill.")
    return plan, None


def units_left(
    shop: ShopData, order: Order, location_id: int, line_item_id: int, quantity: int, now: float
) -> None:
    """Fulfilled units leave the location: its ``on_hand`` (and so ``committed``) falls, ``available``
    does not (the order's creation took them off it already)."""
    line_item = next((li for li in order.line_items if li.id == line_item_id), None)
    variant = shop.variants.get(line_item.variant_id or 0) if line_item is not None else None
    level = shop.levels.get((variant.inventory_item_id, location_id)) if variant is not None else None
    if level is None:
        return
    level.on_hand -= quantity
    level.updated_at = now


def fulfillment_create(info: Info, fulfillment: dict[str, Any], message: str | None = None) -> dict[str, Any]:
    context = ctx(info)
    shop = context.shop
    plan, error = _plan(shop, fulfillment["lineItemsByFulfillmentOrder"])
    if error:
        return failed("fulfillment", [error])
    lines = []
    order = shop.orders[plan[0][0].order_id]
    for fo, line, quantity in plan:
        line.remaining -= quantity
        fo.status = "CLOSED" if all(x.remaining == 0 for x in fo.lines) else "IN_PROGRESS"
        lines.append(FulfillmentLine(context.ids.next(), line.line_item_id, quantity))
        units_left(shop, order, fo.location_id, line.line_item_id, quantity, context.now)
    created = Fulfillment(
        context.ids.next(),
        order.id,
        context.now,
        context.now,
        lines,
        _tracking(fulfillment.get("trackingInfo")),
        bool(fulfillment.get("notifyCustomer")),
    )
    shop.fulfillments[created.id] = created
    order.fulfillment_ids.append(created.id)
    order.updated_at = context.now
    context.emit(shop, "orders/updated", payloads.order(shop, order))
    return {"fulfillment": views.fulfillment_view(shop, created), "userErrors": []}


def fulfillment_tracking_info_update(
    info: Info,
    fulfillmentId: str,
    trackingInfoInput: dict[str, Any],
    notifyCustomer: bool | None = None,
) -> dict[str, Any]:
    context = ctx(info)
    shop = context.shop
    found = shop.fulfillments.get(parse_gid(fulfillmentId, "Fulfillment") or -1)
    if found is None:
        return failed("fulfillment", [user_error(["fulfillmentId"], "Fulfillment does not exist.")])
    found.tracking = _tracking(trackingInfoInput)
    found.updated_at = context.now
    found.notify_customer = bool(notifyCustomer)
    return {"fulfillment": views.fulfillment_view(shop, found), "userErrors": []}


EVENT_PLACE_FIELDS = ("address1", "city", "province", "country", "zip", "latitude", "longitude")


def fulfillment_event_create(info: Info, fulfillmentEvent: dict[str, Any]) -> dict[str, Any]:
    """Record a progress event; the schema's FulfillmentEventStatus enum has already checked ``status``.

    Besides what the API shows back (id, status, happenedAt), the simulator keeps the
    message, the estimated delivery and the place for assertions (``fulfillment_events``).
    """
    context = ctx(info)
    shop = context.shop
    found = shop.fulfillments.get(parse_gid(fulfillmentEvent["fulfillmentId"], "Fulfillment") or -1)
    if found is None:
        return failed(
            "fulfillmentEvent",
            [user_error(["fulfillmentEvent", "fulfillmentId"], "Fulfillment does not exist.")],
        )
    found.event_calls += 1
    times: dict[str, float | None] = {}
    for name in ("happenedAt", "estimatedDeliveryAt"):
        raw = fulfillmentEvent.get(name)
        times[name] = parse_time(str(raw)) if raw is not None else None
        if raw is not None and times[name] is None:
            return failed("fulfillmentEvent", [user_error(["fulfillmentEvent", name], f"{name} is invalid")])
    happened = times["happenedAt"] if times["happenedAt"] is not None else context.now
    estimated = times["estimatedDeliveryAt"]
    event = {
        "id": context.ids.next(),
        "status": fulfillmentEvent["status"],
        "happenedAt": iso_utc(happened),
        "happened_at": happened,
        "estimatedDeliveryAt": iso_utc(estimated) if estimated is not None else None,
        "message": fulfillmentEvent.get("message"),
        "createdAt": iso_utc(context.now),
        **{name: fulfillmentEvent.get(name) for name in EVENT_PLACE_FIELDS},
    }
    found.events.append(event)
    found.updated_at = context.now
    return {"fulfillmentEvent": views.fulfillment_event_view(event), "userErrors": []}

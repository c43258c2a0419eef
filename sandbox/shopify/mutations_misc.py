"""refundCreate, orderRiskAssessmentCreate and webhook subscriptions; the mutation root."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.shopify import payloads, views
from sandbox.shopify.context import (
    Info,
    Resolver,
    ctx,
    failed,
    idempotent,
    limit_inputs,
    not_idempotent,
    user_error,
)
from sandbox.shopify.ids import gid, parse_gid
from sandbox.shopify.mutations_fulfillment import (
    fulfillment_create,
    fulfillment_event_create,
    fulfillment_tracking_info_update,
)
from sandbox.shopify.mutations_inventory import inventory_set_quantities
from sandbox.shopify.mutations_returns import (
    record_refund,
    return_approve_request,
    return_close,
    return_create,
    return_decline_request,
    return_process,
)
from sandbox.shopify.store import RiskAssessment, Subscription

MAX_RISK_FACTS = 20


def refund_create(info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    order = context.shop.orders.get(parse_gid(input["orderId"], "Order") or -1)
    if order is None:
        return failed("refund", [user_error(["input", "orderId"], "Order does not exist.")])
    lines = {gid("LineItem", li.id): li for li in order.line_items}
    items = input.get("refundLineItems") or []
    for i, item in enumerate(items):
        line = lines.get(item["lineItemId"])
        if line is None or not 0 < item["quantity"] <= line.quantity - line.refunded:
            return failed(
                "refund",
                [
                    user_error(
                        ["input", "refundLineItems", str(i), "quantity"],
                        "Quantity cannot refund more items than were purchased.",
                    )
                ],
            )
    try:
        # Money moves only through transactions, as on Shopify: no transactions, nothing refunded.
        amount = sum((Decimal(str(t["amount"])) for t in input.get("transactions") or []), Decimal("0.00"))
    except InvalidOperation:
        return failed("refund", [user_error(["input", "transactions"], "Amount is invalid.")])
    refund = record_refund(context, order, items, input.get("note"), amount)
    return {"refund": views.refund_view(context.shop, refund), "userErrors": []}


def order_risk_assessment_create(info: Info, orderRiskAssessmentInput: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    data = orderRiskAssessmentInput
    order = context.shop.orders.get(parse_gid(data["orderId"], "Order") or -1)
    if order is None:
        return failed(
            "orderRiskAssessment",
            [user_error(["orderRiskAssessmentInput", "orderId"], "Order does not exist.", "NOT_FOUND")],
        )
    if len(data["facts"]) > MAX_RISK_FACTS:
        return failed(
            "orderRiskAssessment",
            [user_error(["orderRiskAssessmentInput", "facts"], "Too many facts.", "TOO_MANY_FACTS")],
        )
    facts = [{"description": f["description"], "sentiment": f["sentiment"]} for f in data["facts"]]
    context.shop.risk_assessments.append(RiskAssessment(order.id, data["riskLevel"], facts, context.now))
    return {"orderRiskAssessment": {"riskLevel": data["riskLevel"], "facts": facts}, "userErrors": []}


def order_cancel(
    info: Info,
    orderId: str,
    reason: str,
    restock: bool,
    notifyCustomer: bool | None = None,
    staffNote: str | None = None,
    refundMethod: dict[str, Any] | None = None,
    refund: bool | None = None,
) -> dict[str, Any]:
    """Cancel at once (Shopify runs a job; the sandbox's job is done when answered)."""
    context = ctx(info)
    shop = context.shop
    order = shop.orders.get(parse_gid(orderId, "Order") or -1)
    if order is None:
        error = user_error(["orderId"], "Order does not exist.", "NOT_FOUND")
        return {"job": None, "orderCancelUserErrors": [error]}
    if order.cancelled_at is not None:
        error = user_error(["orderId"], "Order has already been cancelled.", "INVALID")
        return {"job": None, "orderCancelUserErrors": [error]}
    order.cancelled_at = order.updated_at = context.now
    order.cancel_reason, order.closed = reason.lower(), True
    for fo_id in order.fulfillment_order_ids:
        shop.fulfillment_orders[fo_id].status = "CLOSED"
    context.emit(shop, "orders/cancelled", payloads.order(shop, order))
    context.emit(shop, "orders/updated", payloads.order(shop, order))
    return {"job": {"id": gid("Job", context.ids.next()), "done": True}, "orderCancelUserErrors": []}


def webhook_subscription_create(
    info: Info, topic: str, webhookSubscription: dict[str, Any]
) -> dict[str, Any]:
    context = ctx(info)
    shop = context.shop
    uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
    field = ["webhookSubscription", "callbackUrl"]
    if not uri:
        return failed("webhookSubscription", [user_error(field, "Address can't be blank")])
    if not str(uri).startswith(("https://", "http://127.0.0.1", "http://localhost")):
        return failed("webhookSubscription", [user_error(field, "Address protocol http:// is not supported")])
    if any(s.topic == topic and s.uri == uri for s in shop.subscriptions.values()):
        return failed(
            "webhookSubscription", [user_error(field, "Address for this topic has already been taken")]
        )
    if (webhookSubscription.get("format") or "JSON") != "JSON":
        return failed(
            "webhookSubscription",
            [
                user_error(
                    ["webhookSubscription", "format"], "Only the JSON format is supported by the sandbox"
                )
            ],
        )
    sub = Subscription(
        context.ids.next(),
        topic,
        str(uri),
        "JSON",
        context.now,
        context.now,
        webhookSubscription.get("includeFields"),
    )
    shop.subscriptions[sub.id] = sub
    return {"webhookSubscription": views.subscription_view(sub), "userErrors": []}


def webhook_subscription_delete(info: Info, id: str) -> dict[str, Any]:
    shop = ctx(info).shop
    sub = shop.subscriptions.pop(parse_gid(id, "WebhookSubscription") or -1, None)
    if sub is None:
        return {
            "deletedWebhookSubscriptionId": None,
            "userErrors": [user_error(["id"], "Webhook subscription does not exist")],
        }
    return {"deletedWebhookSubscriptionId": id, "userErrors": []}


_RESOLVERS: dict[str, Resolver] = {
    "fulfillmentCreate": fulfillment_create,
    "fulfillmentTrackingInfoUpdate": fulfillment_tracking_info_update,
    "fulfillmentEventCreate": fulfillment_event_create,
    "inventorySetQuantities": idempotent(
        "inventorySetQuantities", "inventoryAdjustmentGroup", inventory_set_quantities
    ),
    "refundCreate": idempotent("refundCreate", "refund", refund_create),
    "orderCancel": order_cancel,
    "orderRiskAssessmentCreate": order_risk_assessment_create,
    "returnCreate": return_create,
    "returnApproveRequest": return_approve_request,
    "returnDeclineRequest": return_decline_request,
    "returnClose": return_close,
    "returnProcess": return_process,
    "webhookSubscriptionCreate": webhook_subscription_create,
    "webhookSubscriptionDelete": webhook_subscription_delete,
}

# The mutations whose 2026-10 description documents @idempotent (required since 2026-04).
IDEMPOTENT = frozenset({"inventorySetQuantities", "refundCreate"})

MUTATION_ROOT: dict[str, Resolver] = {
    name: limit_inputs(resolver if name in IDEMPOTENT else not_idempotent(resolver))
    for name, resolver in _RESOLVERS.items()
}

"""Returns and refunds: returnCreate/approve/decline/close/process and refundCreate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.shopify import payloads, payloads_returns, views
from sandbox.shopify.context import Context, Info, ctx, failed, user_error
from sandbox.shopify.ids import gid, parse_gid
from sandbox.shopify.store import Order, Refund, RefundLine, Return, ReturnLine, ShopData


def _returned(shop: ShopData, fulfillment_line_id: int) -> int:
    return sum(
        line.quantity
        for ret in shop.returns.values()
        if ret.status not in ("DECLINED", "CANCELED")
        for line in ret.lines
        if line.fulfillment_line_id == fulfillment_line_id
    )


def open_return(context: Context, order: Order, items: list[dict[str, Any]], status: str) -> Any:
    """A new return for fulfilled lines of ``order``, or the first user error."""
    shop = context.shop
    lines = []
    for i, item in enumerate(items):
        number = parse_gid(item["fulfillmentLineItemId"], "FulfillmentLineItem") or -1
        found = shop.fulfillment_line(number)
        if found is None or found[0].order_id != order.id:
            return user_error(
                ["returnInput", "returnLineItems", str(i), "fulfillmentLineItemId"],
                "Fulfillment line item does not exist.",
                "NOT_FOUND",
            )
        if not 0 < item["quantity"] <= found[1].quantity - _returned(shop, number):
            return user_error(
                ["returnInput", "returnLineItems", str(i), "quantity"],
                "Quantity is greater than the quantity that can be returned.",
                "INVALID",
            )
        lines.append(ReturnLine(context.ids.next(), number, item["quantity"]))
    if not lines:
        return user_error(["returnInput", "returnLineItems"], "Return line items can't be blank.", "BLANK")
    ret = Return(
        context.ids.next(), order.id, f"{order.name}-R{len(order.return_ids) + 1}", context.now, lines, status
    )
    shop.returns[ret.id] = ret
    order.return_ids.append(ret.id)
    return ret


def return_create(info: Info, returnInput: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    order = context.shop.orders.get(parse_gid(returnInput["orderId"], "Order") or -1)
    if order is None:
        return failed(
            "return", [user_error(["returnInput", "orderId"], "Order does not exist.", "NOT_FOUND")]
        )
    created = open_return(context, order, returnInput["returnLineItems"], "OPEN")
    if not isinstance(created, Return):
        return failed("return", [created])
    return {"return": views.return_view(context.shop, created), "userErrors": []}


def _transition(
    info: Info, return_id: str, field: list[str], allowed: str, to: str
) -> tuple[Context, Return | None, dict[str, Any] | None]:
    context = ctx(info)
    ret = context.shop.returns.get(parse_gid(return_id, "Return") or -1)
    if ret is None:
        return context, None, failed("return", [user_error(field, "Return does not exist.", "NOT_FOUND")])
    if ret.status != allowed:
        message = f"Return is not in the {allowed.lower()} state and cannot become {to.lower()}."
        return context, None, failed("return", [user_error(field, message, "INVALID_STATE")])
    ret.status = to
    return context, ret, None


def return_approve_request(info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context, ret, error = _transition(info, input["id"], ["input", "id"], "REQUESTED", "OPEN")
    if ret is None:
        return error or {}
    context.emit(context.shop, "returns/approve", payloads_returns.return_(context.shop, ret))
    return {"return": views.return_view(context.shop, ret), "userErrors": []}


def return_decline_request(info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context, ret, error = _transition(info, input["id"], ["input", "id"], "REQUESTED", "DECLINED")
    if ret is None:
        return error or {}
    ret.decline = {"reason": input["declineReason"].lower(), "note": input.get("declineNote")}
    context.emit(context.shop, "returns/decline", payloads_returns.return_decline(context.shop, ret))
    return {"return": views.return_view(context.shop, ret), "userErrors": []}


def return_close(info: Info, id: str) -> dict[str, Any]:
    context, ret, error = _transition(info, id, ["id"], "OPEN", "CLOSED")
    if ret is None:
        return error or {}
    context.emit(context.shop, "returns/close", payloads_returns.return_close(context.shop, ret))
    return {"return": views.return_view(context.shop, ret), "userErrors": []}


def return_process(info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = ctx(info)
    shop = context.shop
    ret = shop.returns.get(parse_gid(input["returnId"], "Return") or -1)
    if ret is None or ret.status != "OPEN":
        code, message = (
            ("NOT_FOUND", "Return does not exist.")
            if ret is None
            else ("INVALID_STATE", "Only open returns can be processed.")
        )
        return failed("return", [user_error(["input", "returnId"], message, code)])
    lines = {line.id: line for line in ret.lines}
    picked = []
    for i, item in enumerate(input.get("returnLineItems") or []):
        line = lines.get(parse_gid(item["id"], "ReturnLineItem") or -1)
        if line is None or not 0 < item["quantity"] <= line.quantity - line.processed:
            return failed(
                "return",
                [
                    user_error(
                        ["input", "returnLineItems", str(i)], "Invalid return line item quantity.", "INVALID"
                    )
                ],
            )
        picked.append((line, item["quantity"]))
    for line, quantity in picked:
        line.processed += quantity
    if all(line.processed == line.quantity for line in ret.lines):
        ret.status = "CLOSED"
    if (input.get("financialTransfer") or {}).get("issueRefund") and picked:
        order = shop.orders[ret.order_id]
        refund_lines = []
        for line, quantity in picked:
            fulfillment_line = shop.fulfillment_line(line.fulfillment_line_id)
            assert fulfillment_line is not None
            refund_lines.append(
                {
                    "lineItemId": gid("LineItem", fulfillment_line[1].line_item_id),
                    "quantity": quantity,
                    "restockType": "RETURN",
                }
            )
        record_refund(context, order, refund_lines, input.get("note"), None, ret.id)
    return {"return": views.return_view(shop, ret), "userErrors": []}


def record_refund(
    context: Context,
    order: Order,
    items: list[dict[str, Any]],
    note: str | None,
    amount: Decimal | None,
    return_id: int | None = None,
) -> Refund:
    """Store a refund, update the order's quantities and status, and raise its webhooks."""
    shop = context.shop
    prices = {li.id: li for li in order.line_items}
    lines = []
    for item in items:
        line_id = parse_gid(item["lineItemId"], "LineItem") or 0
        prices[line_id].refunded += item["quantity"]
        lines.append(
            RefundLine(context.ids.next(), line_id, item["quantity"], item.get("restockType") or "NO_RESTOCK")
        )
    if amount is None:
        amount = sum((prices[rl.line_item_id].price * rl.quantity for rl in lines), Decimal("0.00"))
    refund = Refund(context.ids.next(), order.id, context.now, note, lines, amount, return_id=return_id)
    shop.refunds[refund.id] = refund
    order.refund_ids.append(refund.id)
    refunded = sum((shop.refunds[r].amount for r in order.refund_ids), Decimal("0.00"))
    order.financial_status = "REFUNDED" if refunded >= order.total else "PARTIALLY_REFUNDED"
    order.updated_at = context.now
    context.emit(shop, "refunds/create", payloads.refund(shop, refund))
    context.emit(shop, "orders/updated", payloads.order(shop, order))
    return refund

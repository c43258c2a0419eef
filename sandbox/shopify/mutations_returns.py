"""Returns and refunds: returnCreate/approve/decline/close/process and refundCreate."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.shopify import payloads, payloads_returns, views
from sandbox.shopify.context import Context, Info, ctx, failed, user_error
from sandbox.shopify.ids import gid, parse_gid
from sandbox.shopify.store import Order, Refund, RefundLine, Return, ReturnLine, ShopData

RETURN_REASON_NOTE_MAX = 255
DECLINE_NOTE_MAX = 500


def returned_units(shop: ShopData, fulfillment_line_id: int) -> int:
    return sum(
        line.quantity
        for ret in shop.returns.values()
        if ret.status not in ("DECLINED", "CANCELED")
        for line in ret.lines
        if line.fulfillment_line_id == fulfillment_line_id
    )


def returnable_units(shop: ShopData, fulfillment_line_id: int) -> int:
    """Units of a fulfilment line that a new return may take: not in a live return, and not
    refunded apart from a return (a return is for fulfilled items "that haven't yet been
    refunded"), counted over the order line's every live fulfilment."""
    found = shop.fulfillment_line(fulfillment_line_id)
    if found is None:
        return 0
    fulfillment, line = found
    order = shop.orders[fulfillment.order_id]
    siblings = [
        fl
        for f in (shop.fulfillments[i] for i in order.fulfillment_ids)
        if f.status not in ("CANCELLED", "ERROR", "FAILURE")
        for fl in f.lines
        if fl.line_item_id == line.line_item_id
    ]
    refunded_apart = sum(
        rl.quantity
        for refund in (shop.refunds[r] for r in order.refund_ids)
        if refund.return_id is None
        for rl in refund.lines
        if rl.line_item_id == line.line_item_id
    )
    left_on_line = sum(fl.quantity - returned_units(shop, fl.id) for fl in siblings) - refunded_apart
    return max(0, min(line.quantity - returned_units(shop, fulfillment_line_id), left_on_line))


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
        if not 0 < item["quantity"] <= returnable_units(shop, number):
            return user_error(
                ["returnInput", "returnLineItems", str(i), "quantity"],
                "Quantity is greater than the quantity that can be returned.",
                "INVALID",
            )
        reason_note = str(item.get("returnReasonNote") or "")
        if len(reason_note) > RETURN_REASON_NOTE_MAX:
            return user_error(
                ["returnInput", "returnLineItems", str(i), "returnReasonNote"],
                f"Return reason note is too long (maximum is {RETURN_REASON_NOTE_MAX} characters).",
                "TOO_LONG",
            )
        lines.append(
            ReturnLine(
                context.ids.next(),
                number,
                item["quantity"],
                reason=str(item.get("returnReason") or "UNKNOWN"),
                reason_note=reason_note,
                customer_note=item.get("customerNote"),
            )
        )
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
    ret.approved_at = context.now
    context.emit(context.shop, "returns/approve", payloads_returns.return_(context.shop, ret))
    return {"return": views.return_view(context.shop, ret), "userErrors": []}


def return_decline_request(info: Info, input: dict[str, Any]) -> dict[str, Any]:
    if len(input.get("declineNote") or "") > DECLINE_NOTE_MAX:
        message = f"Decline note is too long (maximum is {DECLINE_NOTE_MAX} characters)."
        return failed("return", [user_error(["input", "declineNote"], message, "TOO_LONG")])
    context, ret, error = _transition(info, input["id"], ["input", "id"], "REQUESTED", "DECLINED")
    if ret is None:
        return error or {}
    ret.decline = {"reason": input["declineReason"], "note": input.get("declineNote")}
    context.emit(context.shop, "returns/decline", payloads_returns.return_decline(context.shop, ret))
    return {"return": views.return_view(context.shop, ret), "userErrors": []}


def return_close(info: Info, id: str) -> dict[str, Any]:
    context, ret, error = _transition(info, id, ["id"], "OPEN", "CLOSED")
    if ret is None:
        return error or {}
    ret.closed_at = context.now
    context.emit(context.shop, "returns/close", payloads_returns.return_close(context.shop, ret))
    return {"return": views.return_view(context.shop, ret), "userErrors": []}


def return_process(info: Info, input: dict[str, Any]) -> dict[str, Any]:
    """Confirm returned units and, with ``financialTransfer.issueRefund``, refund them: the money
    is what ``orderTransactions`` move (none: a refund of the lines with no money). A return
    whose every unit is processed closes (returns/close), as in Shopify's admin."""
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
    picked = _picked_lines(ret, input.get("returnLineItems") or [])
    if isinstance(picked, dict):
        return failed("return", [picked])
    order = shop.orders[ret.order_id]
    refund = (input.get("financialTransfer") or {}).get("issueRefund")
    amount = _refund_amount(shop, order, refund) if refund is not None else Decimal("0.00")
    if isinstance(amount, dict):
        return failed("return", [amount])
    for line, quantity in picked:
        line.processed += quantity
    if refund is not None and picked:
        record_refund(context, order, _refund_lines(shop, picked), input.get("note"), amount, ret.id)
    if all(line.processed == line.quantity for line in ret.lines):
        ret.status, ret.closed_at = "CLOSED", context.now
        context.emit(shop, "returns/close", payloads_returns.return_close(shop, ret))
    return {"return": views.return_view(shop, ret), "userErrors": []}


def _picked_lines(ret: Return, items: list[dict[str, Any]]) -> list[tuple[ReturnLine, int]] | dict[str, Any]:
    lines = {line.id: line for line in ret.lines}
    picked = []
    for i, item in enumerate(items):
        line = lines.get(parse_gid(item["id"], "ReturnLineItem") or -1)
        if line is None or not 0 < item["quantity"] <= line.quantity - line.processed:
            field = ["input", "returnLineItems", str(i), "quantity"]
            return user_error(
                field, "Quantity is greater than the quantity that can be processed.", "INVALID"
            )
        picked.append((line, item["quantity"]))
    return picked


def _refund_amount(shop: ShopData, order: Order, refund: dict[str, Any]) -> Decimal | dict[str, Any]:
    """The money the refund's transactions move: each on the order's payment, in its currency,
    never past what is left to refund."""
    total = Decimal("0.00")
    sale = views.sale_transaction_id(order)
    for i, tx in enumerate(refund.get("orderTransactions") or []):
        field = ["input", "financialTransfer", "issueRefund", "orderTransactions", str(i)]
        if tx["parentId"] != sale:
            return user_error([*field, "parentId"], "Transaction does not exist.", "NOT_FOUND")
        money = tx["transactionAmount"]
        if money["currencyCode"] != order.currency:
            return user_error([*field, "transactionAmount"], "Currency does not match the order.", "INVALID")
        try:
            total += Decimal(str(money["amount"]))
        except InvalidOperation:
            return user_error([*field, "transactionAmount"], "Amount is invalid.", "INVALID")
    refunded = sum((shop.refunds[r].amount for r in order.refund_ids), Decimal("0.00"))
    if total > order.total - refunded and not refund.get("allowOverRefunding"):
        field = ["input", "financialTransfer", "issueRefund"]
        return user_error(field, "Refund amount is greater than the refundable amount.", "INVALID")
    return total


def _refund_lines(shop: ShopData, picked: list[tuple[ReturnLine, int]]) -> list[dict[str, Any]]:
    rows = []
    for line, quantity in picked:
        found = shop.fulfillment_line(line.fulfillment_line_id)
        assert found is not None
        # No dispositions given: nothing goes back to stock.
        rows.append(
            {
                "lineItemId": gid("LineItem", found[1].line_item_id),
                "quantity": quantity,
                "restockType": "NO_RESTOCK",
            }
        )
    return rows


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

"""Shopify's native returns: approve, decline, close, refund through ``returnProcess``, and
the return read back (from a ``returns/*`` webhook body or from the store).

A return moves REQUESTED -> OPEN | DECLINED, OPEN -> CLOSED (or CANCELED); Shopify refuses a
move the return has already made with ``INVALID_STATE``, so each move here reads the return
after such a refusal and calls the move done when the return is already where it was sent:
a retry after a lost answer writes nothing twice. ``returnProcess`` takes no idempotency key
in 2026-10; a second call for lines already processed is refused, and the refund it made is
found on the return by the ledger key's marker in its note.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.errors import Rejected
from connectors.readers.errors import MappingError, shown
from connectors.readers.ids import gid_tail, id_text
from connectors.shopify.client import ShopifyClient
from connectors.shopify.fulfillment import checked_payload, gid_of, nodes_of, order_gid
from connectors.storefront.orders import StoreReturn, StoreReturnLine, StoreReturnStatus
from connectors.storefront.writes import (
    DeclineReason,
    RefundRequest,
    Written,
    decline_reason,
    marked_key,
    marker,
)
from core.money import Money

DECLINE_REASON = {
    DeclineReason.return_period_ended: "RETURN_PERIOD_ENDED",
    DeclineReason.final_sale: "FINAL_SALE",
    DeclineReason.other: "OTHER",
}
DECLINE_NOTE_MAX = 500
# Return.status (GraphQL enum, or the lower-case words of webhook bodies) -> ours.
STATUS = {
    "requested": StoreReturnStatus.requested,
    "open": StoreReturnStatus.open,
    "declined": StoreReturnStatus.declined,
    "canceled": StoreReturnStatus.canceled,
    "closed": StoreReturnStatus.closed,
}
REFUNDABLE_KINDS = frozenset({"SALE", "CAPTURE"})


def return_gid(return_ref: str) -> str:
    return gid_of("Return", return_ref)


def fetch(client: ShopifyClient, return_ref: str) -> Mapping[str, Any] | None:
    """The return node (lines, decline, refunds), or None when the store has no such return."""
    node = client.execute("return_lines", {"id": return_gid(return_ref)}).get("return")
    return node if isinstance(node, Mapping) else None


def _move(
    client: ShopifyClient, document: str, field: str, variables: dict[str, Any], ref: str, target: str
) -> Written:
    """Send one move; a refusal because the return already made it is the move done."""
    try:
        payload = checked_payload(client.execute(document, variables), field, "userErrors")
    except Rejected:
        node = fetch(client, ref)
        if node is None or node.get("status") != target:
            raise
        return Written(str(node["id"]), {"status": target, "recovered": True})
    made = payload.get("return")
    if not isinstance(made, Mapping) or not made.get("id"):
        raise Rejected(f"shopify {field}: no return in the answer")
    return Written(str(made["id"]), {"status": made.get("status")})


def approve(client: ShopifyClient, return_ref: str, notify: bool) -> Written:
    variables = {"input": {"id": return_gid(return_ref), "notifyCustomer": notify}}
    return _move(client, "return_approve_request", "returnApproveRequest", variables, return_ref, "OPEN")


def decline(client: ShopifyClient, return_ref: str, reason: str, note: str, notify: bool) -> Written:
    decline_input: dict[str, Any] = {
        "id": return_gid(return_ref),
        "declineReason": DECLINE_REASON[decline_reason(reason)],
        "notifyCustomer": notify,
    }
    if note:
        decline_input["declineNote"] = note[:DECLINE_NOTE_MAX]
    variables = {"input": decline_input}
    written = _move(
        client, "return_decline_request", "returnDeclineRequest", variables, return_ref, "DECLINED"
    )
    return Written(written.ref, {**written.detail, "reason": decline_input["declineReason"]})


def close(client: ShopifyClient, return_ref: str) -> Written:
    variables = {"id": return_gid(return_ref)}
    return _move(client, "return_close", "returnClose", variables, return_ref, "CLOSED")


def process_refund(client: ShopifyClient, order_id: str, request: RefundRequest) -> Written:
    """``returnProcess`` of the request's lines on its return, issuing the refund (money back
    through the order's payment when ``money_back``; else a refund with no transaction)."""
    if request.return_ref is None:
        raise ValueError("a refund through a return needs the return (return_ref)")
    if not request.lines:
        raise ValueError("a refund through a return needs a line of that return")
    total = request.total()
    node = fetch(client, request.return_ref)
    order_of = gid_tail(str(((node or {}).get("order") or {}).get("id") or ""))
    if node is None or order_of != gid_tail(order_id):
        raise Rejected(f"shopify refund: order {order_id} has no return {request.return_ref}")
    transactions = [_transaction(client, order_id, total)] if request.money_back and total.amount > 0 else []
    process: dict[str, Any] = {
        "returnId": str(node["id"]),
        "returnLineItems": _return_rows(node, request),
        "note": f"{request.note} {marker(request.key)}".strip(),
        "notifyCustomer": request.notify,
        "financialTransfer": {"issueRefund": {"orderTransactions": transactions}},
    }
    if request.shipping is not None and request.shipping.amount > 0:
        process["refundShipping"] = {"shippingRefundAmount": _money_input(request.shipping)}
    data = client.execute("return_process", {"input": process})
    payload = checked_payload(data, "returnProcess", "userErrors")
    made = _marked_refund(payload.get("return"), request.key)
    if made is None:
        raise Rejected("shopify returnProcess: no refund in the answer")
    return Written(made.ref, {**made.detail, "amount": str(total.amount), "currency": total.currency})


def find_refund(client: ShopifyClient, return_ref: str, key: str) -> Written | None:
    """The refund on the return whose note carries the marker of ``key``."""
    found = _marked_refund(fetch(client, return_ref), key)
    return None if found is None else Written(found.ref, {**found.detail, "recovered": True})


def _marked_refund(node: object, key: str) -> Written | None:
    if not isinstance(node, Mapping):
        return None
    tag = marker(key)
    for refund in nodes_of(node.get("refunds")):
        if tag in str(refund.get("note") or ""):
            money = ((refund.get("totalRefundedSet") or {}).get("shopMoney")) or {}
            detail = {
                "amount": money.get("amount"),
                "currency": money.get("currencyCode"),
                "return": node["id"],
            }
            return Written(str(refund["id"]), detail)
    return None


def _return_rows(node: Mapping[str, Any], request: RefundRequest) -> list[dict[str, Any]]:
    """The return's line items that cover each refunded order line (units not processed yet)."""
    rows: list[dict[str, Any]] = []
    for line in request.lines:
        wanted = line.quantity
        for item in nodes_of(node.get("returnLineItems")):
            if _order_line(item) != gid_tail(line.line_id) or wanted <= 0:
                continue
            take = min(wanted, int(item.get("quantity") or 0) - int(item.get("processedQuantity") or 0))
            if take > 0:
                rows.append({"id": str(item["id"]), "quantity": take})
                wanted -= take
        if wanted > 0:
            raise Rejected(
                f"shopify refund: the return holds not {line.quantity} unit(s) of line {line.line_id}"
            )
    return rows


def _order_line(item: Mapping[str, Any]) -> str:
    fulfilled = item.get("fulfillmentLineItem") or {}
    return gid_tail(str((fulfilled.get("lineItem") or {}).get("id") or ""))


def _money_input(money: Money) -> dict[str, str]:
    return {"amount": str(money.amount), "currencyCode": money.currency}


def _transaction(client: ShopifyClient, order_id: str, total: Money) -> dict[str, Any]:
    order = client.execute("order_refunds", {"id": order_gid(order_id)}).get("order")
    for tx in (order or {}).get("transactions") or []:
        if isinstance(tx, Mapping) and tx.get("kind") in REFUNDABLE_KINDS and tx.get("status") == "SUCCESS":
            return {"parentId": str(tx["id"]), "transactionAmount": _money_input(total)}
    raise Rejected(f"shopify refund: order {order_id} has no successful payment to refund")


# -- reading returns


def from_node(node: Mapping[str, Any]) -> StoreReturn:
    """A return read from the store (``return_lines.graphql``)."""
    lines = tuple(
        StoreReturnLine(
            _order_line(item),
            int(item.get("quantity") or 0),
            str(item.get("returnReason") or "unknown").lower(),
            str(item.get("customerNote") or ""),
        )
        for item in nodes_of(node.get("returnLineItems"))
    )
    status = STATUS.get(str(node.get("status") or "").lower())
    if status is None:
        raise MappingError(f"shopify return {node.get('id')}: unknown status {shown(node.get('status'))}")
    decline_node = node.get("decline") or {}
    refunded = [_refund_money(r) for r in nodes_of(node.get("refunds"))]
    keys = [marked_key(str(r.get("note") or "")) for r in nodes_of(node.get("refunds"))]
    return StoreReturn(
        platform_return_id=gid_tail(str(node["id"])),
        order_id=gid_tail(str((node.get("order") or {}).get("id") or "")),
        status=status,
        lines=lines,
        refund_total=_sum(refunded),
        decline_reason=str(decline_node["reason"]).lower() if decline_node.get("reason") else None,
        waybill_key=next((k for k in keys if k), None),
    )


def from_body(body: Mapping[str, Any]) -> StoreReturn | None:
    """A ``returns/*`` webhook body: request and approve carry the lines (by fulfilment line
    item, whose order line is read with ``fetch``), decline its reason, cancel and close only
    the ids and the status."""
    status = STATUS.get(str(body.get("status") or "").lower())
    return_id = id_text(body.get("admin_graphql_api_id") or body.get("id"))
    order = body.get("order") if isinstance(body.get("order"), Mapping) else {}
    order_id = id_text(
        (order or {}).get("admin_graphql_api_id") or (order or {}).get("id") or body.get("order_id")
    )
    if status is None or not return_id or not order_id:
        return None
    decline_node = body.get("decline") if isinstance(body.get("decline"), Mapping) else {}
    return StoreReturn(
        platform_return_id=gid_tail(return_id),
        order_id=gid_tail(order_id),
        status=status,
        lines=tuple(_body_lines(body)),
        decline_reason=str((decline_node or {}).get("reason") or "") or None,
    )


def _body_lines(body: Mapping[str, Any]) -> list[StoreReturnLine]:
    lines = []
    for item in body.get("return_line_items") or []:
        if not isinstance(item, Mapping):
            continue
        fulfilled = item.get("fulfillment_line_item") or {}
        line_item = fulfilled.get("line_item") if isinstance(fulfilled, Mapping) else None
        line_id = id_text((line_item or {}).get("id")) if isinstance(line_item, Mapping) else None
        if line_id:
            reason = str(item.get("return_reason") or "unknown")
            lines.append(
                StoreReturnLine(
                    line_id, int(item.get("quantity") or 0), reason, str(item.get("customer_note") or "")
                )
            )
    return lines


def _refund_money(refund: Mapping[str, Any]) -> Money | None:
    money = ((refund.get("totalRefundedSet") or {}).get("shopMoney")) or {}
    if money.get("amount") is None:
        return None
    return Money(Decimal(str(money["amount"])), str(money.get("currencyCode") or "USD"))


def _sum(amounts: list[Money | None]) -> Money | None:
    known = [a for a in amounts if a is not None]
    if not known:
        return None
    return Money(sum((a.amount for a in known), Decimal("0")), known[0].currency)

"""Shopify write-back: fulfilments with tracking, Waybill's risk verdict, cancellation.

Shopify offers no idempotency key for ``fulfillmentCreate``, so :func:`fulfill` first
reads the order's fulfilments and returns the one that already carries the tracking
number: a retry after a lost answer never fulfils twice. Every ``userErrors`` answer is
a ``Rejected`` (Permanent) with Shopify's message; throttling and transport failures
are the client's (connectors/shopify/client.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.errors import Rejected, platform_code
from connectors.shopify.client import ShopifyClient

FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})
RISK_LEVELS = frozenset({"HIGH", "MEDIUM", "LOW", "NONE", "PENDING"})
SENTIMENTS = frozenset({"NEGATIVE", "NEUTRAL", "POSITIVE"})
CANCEL_REASONS = frozenset({"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"})
MAX_RISK_FACTS = 20  # Shopify refuses more facts on one assessment
_GID_TAIL = re.compile(r"^gid://shopify/[A-Za-z]+/(\d+)(\?.*)?$")
# Shopify answers a second cancellation with a user error; the order is cancelled all the same.
_ALREADY_CANCELLED = re.compile(r"already (been )?cancel", re.IGNORECASE)

Allocation = dict[str, list[dict[str, Any]]]  # fulfillment order gid -> [{id, quantity}]


def order_gid(order_id: str) -> str:
    """``gid://shopify/Order/<n>`` from a numeric id or a gid."""
    return gid_of("Order", order_id)


def gid_of(kind: str, value: str) -> str:
    """``gid://shopify/<kind>/<n>`` from a numeric id or a gid."""
    return value if value.startswith("gid://") else f"gid://shopify/{kind}/{value}"


def numeric_id(value: str) -> str:
    """The number in a gid (or the value itself when it is already one), exact."""
    match = _GID_TAIL.match(value)
    return match.group(1) if match else value


def fulfill(
    client: ShopifyClient,
    order_id: str,
    lines: Sequence[tuple[str, int]] | None,
    tracking_company: str,
    tracking_number: str,
    tracking_url: str | None,
    notify: bool,
) -> str:
    """Fulfil ``lines`` ((line item id, quantity); None: everything still open) with tracking.

    Returns the fulfilment's gid; when a fulfilment with ``tracking_number`` exists
    already, returns it and creates nothing.
    """
    gid = order_gid(order_id)
    existing = find_fulfillment(client, gid, tracking_number)
    if existing is not None:
        return existing
    data = client.execute("order_fulfillment_orders", {"id": gid})
    order = data.get("order")
    if not isinstance(order, Mapping):
        raise Rejected(f"shopify fulfil: order {gid} does not exist")
    allocation = allocate(nodes_of(order.get("fulfillmentOrders")), lines)
    tracking: dict[str, Any] = {"company": tracking_company, "number": tracking_number}
    if tracking_url:
        tracking["url"] = tracking_url
    variables = {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [
                {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": items}
                for fo_id, items in allocation.items()
            ],
            "trackingInfo": tracking,
            "notifyCustomer": notify,
        }
    }
    created = client.execute("fulfillment_create", variables)
    payload = checked_payload(created, "fulfillmentCreate", "userErrors")
    fulfillment = payload.get("fulfillment")
    if not isinstance(fulfillment, Mapping) or not fulfillment.get("id"):
        raise Rejected(f"shopify fulfillmentCreate: no fulfilment in the answer for {gid}")
    return str(fulfillment["id"])


def find_fulfillment(client: ShopifyClient, gid: str, tracking_number: str) -> str | None:
    """The gid of the order's fulfilment carrying ``tracking_number`` (cancelled ones do not count)."""
    data = client.execute("order_fulfillments", {"id": gid})
    order = data.get("order")
    if not isinstance(order, Mapping):
        raise Rejected(f"shopify fulfil: order {gid} does not exist")
    for fulfillment in order.get("fulfillments") or []:
        if str(fulfillment.get("status") or "") in ("CANCELLED", "ERROR", "FAILURE"):
            continue
        numbers = {str(t.get("number")) for t in fulfillment.get("trackingInfo") or []}
        if tracking_number in numbers:
            return str(fulfillment["id"])
    return None


def allocate(
    fulfillment_orders: Sequence[Mapping[str, Any]], lines: Sequence[tuple[str, int]] | None
) -> Allocation:
    """Which fulfilment-order line items, and how many of each, cover ``lines``.

    Only open fulfilment orders count. Shopify fulfils one location at a time, so lines
    spread over several locations are refused rather than fulfilled in part.
    """
    open_orders = [fo for fo in fulfillment_orders if fo.get("status") in FULFILLABLE]
    wanted = None if lines is None else _merge(lines)
    allocation: Allocation = {}
    locations: set[str] = set()
    for fo in open_orders:
        for item in nodes_of(fo.get("lineItems")):
            remaining = int(item.get("remainingQuantity") or 0)
            line_id = numeric_id(str((item.get("lineItem") or {}).get("id") or ""))
            take = remaining if wanted is None else min(remaining, wanted.get(line_id, 0))
            if take <= 0:
                continue
            allocation.setdefault(str(fo["id"]), []).append({"id": str(item["id"]), "quantity": take})
            locations.add(str(((fo.get("assignedLocation") or {}).get("location") or {}).get("id")))
            if wanted is not None:
                wanted[line_id] -= take
    if wanted is not None and any(q > 0 for q in wanted.values()):
        short = ", ".join(f"{line} x{q}" for line, q in sorted(wanted.items()) if q > 0)
        raise Rejected(f"shopify fulfil: not open for fulfilment: {short}")
    if not allocation:
        raise Rejected("shopify fulfil: nothing left to fulfil on the order")
    if len(locations) > 1:
        raise Rejected("shopify fulfil: the lines are assigned to several locations; fulfil each apart")
    return allocation


def record_risk(client: ShopifyClient, order_id: str, level: str, facts: Sequence[tuple[str, str]]) -> None:
    """Record Waybill's verdict on the order (``orderRiskAssessmentCreate``).

    ``level``: HIGH, MEDIUM, LOW, NONE or PENDING; ``facts``: (sentiment, description),
    sentiment NEGATIVE, NEUTRAL or POSITIVE. Shopify takes at most 20 facts.
    """
    risk_level = level.upper()
    if risk_level not in RISK_LEVELS:
        raise Rejected(f"shopify risk: level {level!r} is not one of {sorted(RISK_LEVELS)}")
    rows = []
    for sentiment, description in facts[:MAX_RISK_FACTS]:
        if sentiment.upper() not in SENTIMENTS:
            raise Rejected(f"shopify risk: sentiment {sentiment!r} is not one of {sorted(SENTIMENTS)}")
        rows.append({"sentiment": sentiment.upper(), "description": description})
    variables = {"input": {"orderId": order_gid(order_id), "riskLevel": risk_level, "facts": rows}}
    data = client.execute("order_risk_assessment_create", variables)
    checked_payload(data, "orderRiskAssessmentCreate", "userErrors")


def cancel(client: ShopifyClient, order_id: str, reason: str, notify: bool, *, refund: bool = False) -> None:
    """Cancel the order on Shopify without restocking (Waybill's ledger owns stock).

    ``reason``: one of Shopify's reasons (FRAUD, CUSTOMER, ...) or free text, sent as OTHER
    with the text as the staff note. An order already cancelled counts as done.
    """
    code = reason.strip().upper()
    variables: dict[str, Any] = {
        "orderId": order_gid(order_id),
        "reason": code if code in CANCEL_REASONS else "OTHER",
        "restock": False,
        "notifyCustomer": notify,
        "staffNote": None if code in CANCEL_REASONS else reason[:255],
    }
    if refund:
        variables["refundMethod"] = {"originalPaymentMethodsRefund": True}
    data = client.execute("order_cancel", variables)
    payload = data.get("orderCancel") or {}
    errors = [e for e in payload.get("orderCancelUserErrors") or [] if isinstance(e, Mapping)]
    if errors and all(_ALREADY_CANCELLED.search(str(e.get("message"))) for e in errors):
        return
    _raise_user_errors("orderCancel", errors)


def checked_payload(data: Mapping[str, Any], field: str, errors_key: str) -> Mapping[str, Any]:
    payload = data.get(field)
    if not isinstance(payload, Mapping):
        raise Rejected(f"shopify {field}: no payload in the answer")
    _raise_user_errors(field, [e for e in payload.get(errors_key) or [] if isinstance(e, Mapping)])
    return payload


def _raise_user_errors(field: str, errors: list[Mapping[str, Any]]) -> None:
    """A ``Rejected`` naming each error's field path and code (Shopify's message text is not copied)."""
    if errors:
        text = "; ".join(_user_error_code(e) for e in errors[:5])
        raise Rejected(f"shopify {field}: {text}"[:300])


def _user_error_code(error: Mapping[str, Any]) -> str:
    path = ".".join(p for p in (platform_code(str(p)) for p in error.get("field") or []) if p)
    code = platform_code(error.get("code")) or "user error"
    return f"{path}: {code}" if path else code


def _merge(lines: Sequence[tuple[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for line_id, quantity in lines:
        if quantity <= 0:
            raise Rejected(f"shopify fulfil: quantity {quantity} for line {line_id}")
        key = numeric_id(str(line_id))
        merged[key] = merged.get(key, 0) + quantity
    return merged


def nodes_of(connection: Any) -> list[Mapping[str, Any]]:
    if not isinstance(connection, Mapping):
        return []
    return [n for n in connection.get("nodes") or [] if isinstance(n, Mapping)]

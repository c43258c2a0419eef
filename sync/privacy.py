"""Shopify's lifecycle topics: uninstall, and the three mandatory privacy topics.

What redaction keeps: order number, platform ids, line items (SKU, quantity,
price), totals, statuses and dates, because the merchant's accounting, stock
ledger and tax records need them and they identify no one. What it erases: the
customer's e-mail, names, addresses, phone, IP, notes and customer id in the
stored order, the raw bodies of the inbox events of those orders, and any data
export prepared for that customer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.models import DataExport, InboxEvent, Order, Platform, Store, StoreState, utcnow
from db.store_lookup import forget as forget_stores
from db.timeline import entries, record
from sync.intake import handles
from sync.orders import load_event

if TYPE_CHECKING:
    from sync.runtime import Runtime

PERSONAL_FIELDS = ("email", "customer_id", "browser_ip", "billing_address", "shipping_address", "note")
REDACTED_BODY = b'{"redacted": true}'


@handles(Platform.shopify, "app/uninstalled")
def handle_uninstalled(rt: Runtime, event_id: int) -> None:
    """Mark the shop uninstalled and erase its token; its jobs check the state and stop."""
    _event, store = load_event(rt, event_id)
    if store is None:
        return
    with rt.session() as s:
        row = s.get(Store, store.id)
        if row is not None and row.state is not StoreState.uninstalled:
            row.state = StoreState.uninstalled
            row.credentials = None
            row.uninstalled_at = utcnow()
            record(
                s,
                row.account_id,
                f"store:{row.id}",
                "shopify:app/uninstalled",
                "store.uninstalled",
                "the merchant removed the app; token erased",
            )
    forget_stores()


@handles(Platform.shopify, "customers/data_request")
def handle_data_request(rt: Runtime, event_id: int) -> None:
    """Prepare everything Waybill holds about the customer, for the merchant to hand over."""
    event, store = load_event(rt, event_id)
    payload = json.loads(event.body)
    if store is None:
        return
    email, ids = _customer(payload, "orders_requested")
    with rt.session() as s:
        orders = _orders_of(s, store.id, email, ids)
        export = {
            "customer": payload.get("customer") or {},
            "orders": [
                {
                    "order": o.data,
                    "timeline": [
                        {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "reason": e.reason}
                        for e in entries(s, o.account_id, f"order:{o.id}")
                    ],
                }
                for o in orders
            ],
        }
        request_id = str((payload.get("data_request") or {}).get("id", event.dedupe_key))
        s.add(
            DataExport(
                account_id=store.account_id,
                store_id=store.id,
                request_id=request_id,
                customer_email=email,
                data=export,
            )
        )
        record(
            s,
            store.account_id,
            f"store:{store.id}",
            "shopify:customers/data_request",
            "privacy.export_ready",
            f"request {request_id}: {len(orders)} order(s)",
        )


@handles(Platform.shopify, "customers/redact")
def handle_customer_redact(rt: Runtime, event_id: int) -> None:
    event, store = load_event(rt, event_id)
    if store is None:
        return
    email, ids = _customer(json.loads(event.body), "orders_to_redact")
    with rt.session() as s:
        orders = _orders_of(s, store.id, email, ids)
        _redact(s, store, orders)
        if email:
            for export in s.scalars(
                select(DataExport).where(DataExport.store_id == store.id, DataExport.customer_email == email)
            ):
                s.delete(export)
        _erase_privacy_requests(s, store.id, email)
        record(
            s,
            store.account_id,
            f"store:{store.id}",
            "shopify:customers/redact",
            "privacy.customer_redacted",
            f"{len(orders)} order(s) anonymised",
        )


@handles(Platform.shopify, "shop/redact")
def handle_shop_redact(rt: Runtime, event_id: int) -> None:
    _event, store = load_event(rt, event_id)
    if store is None:
        return
    with rt.session() as s:
        orders = list(s.scalars(select(Order).where(Order.store_id == store.id)))
        _redact(s, store, orders)
        for export in s.scalars(select(DataExport).where(DataExport.store_id == store.id)):
            s.delete(export)
        for inbox in s.scalars(
            select(InboxEvent).where(InboxEvent.store_id == store.id, InboxEvent.id != event_id)
        ):
            inbox.body = REDACTED_BODY
        record(
            s,
            store.account_id,
            f"store:{store.id}",
            "shopify:shop/redact",
            "privacy.shop_redacted",
            f"{len(orders)} order(s) anonymised; event bodies erased",
        )


def _customer(payload: dict[str, Any], ids_key: str) -> tuple[str | None, set[str]]:
    customer = payload.get("customer") or {}
    email = customer.get("email") or None
    return (email.lower() if isinstance(email, str) else None), {str(i) for i in payload.get(ids_key) or []}


def _orders_of(s: Session, store_id: int, email: str | None, ids: set[str]) -> list[Order]:
    clauses = []
    if email:
        # Exact (case-insensitive) match: a LIKE pattern would let '_' and '%' match others.
        clauses.append(func.lower(Order.email) == email)
    if ids:
        clauses.append(Order.platform_order_id.in_(ids))
    if not clauses:
        return []
    return list(s.scalars(select(Order).where(Order.store_id == store_id, or_(*clauses)).order_by(Order.id)))


def _redact(s: Session, store: Store, orders: list[Order]) -> None:
    ids = {o.platform_order_id for o in orders}
    for order in orders:
        order.data = {**order.data, **dict.fromkeys(PERSONAL_FIELDS)}
        order.email = None
        order.redacted_at = utcnow()
    # The raw events of these orders carry the same personal data.
    for inbox in s.scalars(select(InboxEvent).where(InboxEvent.store_id == store.id)):
        if _event_order_id(inbox.body) in ids:
            inbox.body = REDACTED_BODY


def _erase_privacy_requests(s: Session, store_id: int, email: str | None) -> None:
    """The data-request and redact events themselves name the customer: erase them too."""
    topics = ("customers/data_request", "customers/redact")
    for inbox in s.scalars(
        select(InboxEvent).where(InboxEvent.store_id == store_id, InboxEvent.topic.in_(topics))
    ):
        try:
            customer = json.loads(inbox.body).get("customer") or {}
        except (ValueError, AttributeError):
            continue
        if email and str(customer.get("email", "")).lower() == email:
            inbox.body = REDACTED_BODY


def _event_order_id(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    gid = data.get("admin_graphql_api_id") or data.get("id")
    return str(gid).rsplit("/", 1)[-1] if gid is not None else None

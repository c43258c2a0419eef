"""A store's lifecycle events: uninstall, and the privacy requests (a customer's data, a
customer's erasure, the whole store's erasure; what erasing keeps and removes is
described in :mod:`sync.erasure`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connectors.storefront import EventKind, reader_for
from connectors.storefront.orders import PrivacyRequest
from db.models import DataExport, InboxEvent, Order, Store, StoreState, utcnow
from db.store_lookup import forget as forget_stores
from db.timeline import entries, record
from sync.erasure import Eraser, Report, erase, order_needles, person
from sync.intake import handles
from sync.orders import load_event

if TYPE_CHECKING:
    from sync.runtime import Runtime


def _actor(event: InboxEvent) -> str:
    return f"{event.platform}:{event.topic}"


def _request(event: InboxEvent, kind: EventKind) -> PrivacyRequest:
    return reader_for(str(event.platform)).privacy_request(kind, json.loads(event.body))


@handles(EventKind.app_uninstalled)
def handle_uninstalled(rt: Runtime, event_id: int) -> None:
    """Mark the shop uninstalled and erase its token; its jobs check the state and stop."""
    event, store = load_event(rt, event_id)
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
                _actor(event),
                "store.uninstalled",
                "the merchant removed the app; token erased",
            )
    forget_stores()


@handles(EventKind.customer_data_request)
def handle_data_request(rt: Runtime, event_id: int) -> None:
    """Prepare everything Waybill holds about the customer, for the merchant to hand over."""
    event, store = load_event(rt, event_id)
    request = _request(event, EventKind.customer_data_request)
    if store is None:
        return
    email = request.email
    with rt.session() as s:
        orders = _orders_of(s, store.id, email, set(request.order_ids))
        export = {
            "customer": dict(request.customer),
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
        request_id = request.request_id or event.dedupe_key
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
            _actor(event),
            "privacy.export_ready",
            f"request {request_id}: {len(orders)} order(s)",
        )


@handles(EventKind.customer_redact)
def handle_customer_redact(rt: Runtime, event_id: int) -> None:
    event, store = load_event(rt, event_id)
    if store is None:
        return
    request = _request(event, EventKind.customer_redact)
    email = request.email
    with rt.session() as s:
        orders = _orders_of(s, store.id, email, set(request.order_ids))
        eraser = Eraser(order_needles(orders) + _request_needles(request))
        emails = {email} if email else set()
        emails |= {o.email.lower() for o in orders if o.email}
        report = erase(s, store, orders, eraser, emails, whole_inbox=False)
        _record(s, store, _actor(event), "privacy.customer_redacted", len(orders), report)


@handles(EventKind.shop_redact)
def handle_shop_redact(rt: Runtime, event_id: int) -> None:
    event, store = load_event(rt, event_id)
    if store is None:
        return
    with rt.session() as s:
        orders = list(s.scalars(select(Order).where(Order.store_id == store.id).order_by(Order.id)))
        eraser = Eraser(order_needles(orders))
        emails = {o.email.lower() for o in orders if o.email}
        # A customer who also bought from the merchant's other stores stays on the trusted list.
        elsewhere = set(
            s.scalars(
                select(func.lower(Order.email)).where(
                    Order.account_id == store.account_id, Order.store_id != store.id, Order.email.is_not(None)
                )
            )
        )
        report = erase(s, store, orders, eraser, emails - elsewhere, whole_inbox=True, keep_event=event_id)
        _record(s, store, _actor(event), "privacy.shop_redacted", len(orders), report)


# --------------------------------------------------------------------------- the request


def _request_needles(request: PrivacyRequest) -> list[str]:
    return [request.email or "", *person(request.name, None, None, None, request.phone)]


def _record(s: Session, store: Store, actor: str, action: str, orders: int, report: Report) -> None:
    reason = f"{orders} order(s) anonymised; {report.changed} stored row(s) erased"
    if report.failed:
        reason += f"; {len(report.failed)} row(s) could not be read: {', '.join(report.failed[:20])}"
    record(s, store.account_id, f"store:{store.id}", actor, action, reason, {"failed": report.failed})


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

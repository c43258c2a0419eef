"""Order intake: map a platform order to the canonical one and keep the newest version.

Webhooks and reconciliation both arrive through the inbox and end here, so a
missed webhook recovered by polling and a late duplicate meet the same rule: an
update older than (or as old as) what is held changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.shopify.orders import order_from_graphql, order_from_webhook
from connectors.woocommerce.orders import order_from_rest
from core.errors import Retryable
from core.orders import Order, is_newer
from db.models import InboxEvent, Platform, Store, StoreState, utcnow
from db.models import Order as OrderRow
from db.timeline import record
from sync import pipeline
from sync.intake import handles
from sync.inventory import apply_order
from sync.stock_push import schedule_push

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.orders")

Mapper = Callable[[Mapping[str, Any]], Order]
MAPPERS: dict[tuple[Platform, str], Mapper] = {
    (Platform.shopify, "orders/create"): order_from_webhook,
    (Platform.shopify, "orders/updated"): order_from_webhook,
    (Platform.shopify, "orders/cancelled"): order_from_webhook,
    (Platform.shopify, "reconcile/order"): order_from_graphql,
    (Platform.woocommerce, "order.created"): order_from_rest,
    (Platform.woocommerce, "order.updated"): order_from_rest,
    (Platform.woocommerce, "reconcile/order"): order_from_rest,
}


def load_event(rt: Runtime, event_id: int) -> tuple[InboxEvent, Store | None]:
    with rt.session() as s:
        event = s.get(InboxEvent, event_id)
        assert event is not None
        store = s.get(Store, event.store_id) if event.store_id is not None else None
        s.expunge_all()
        return event, store


@handles(Platform.shopify, "orders/create", "orders/updated", "orders/cancelled", "reconcile/order")
@handles(Platform.woocommerce, "order.created", "order.updated", "reconcile/order")
def handle_order(rt: Runtime, event_id: int) -> None:
    event, store = load_event(rt, event_id)
    if store is None or store.state is not StoreState.active:
        log.info("order.store_inactive", event_id=event_id)
        return
    payload = json.loads(event.body)
    order = MAPPERS[(event.platform, event.topic)](payload)
    with rt.session() as s:
        try:
            row, changed, before = upsert_order(s, store, order, actor=f"{event.platform}:{event.topic}")
            s.flush()
            # Reserve, release or ship the order's stock in the same transaction (an
            # older version changed nothing, and its status must not move stock).
            if changed:
                stock = apply_order(s, store, row, row_order(row), rt.settings.inventory, payload)
                s.flush()
        except IntegrityError as exc:  # another worker inserted the same order or movement first
            raise Retryable("order or stock movement written concurrently; retry") from exc
        order_id, stage = row.id, row.stage
    if not changed:
        # Held already: maybe this very event, re-run because its first run committed the
        # order but could not enqueue the next step. Make sure that step is queued
        # (``start`` reads the stage and uses the step's fixed job id: a no-op when the
        # order has moved on or its verification is queued or running).
        if not order.is_cancelled and stage != "cancelled":
            pipeline.start(rt, [order_id])
        return
    schedule_push(rt, stock.dirty_stores)
    # The pipeline follows once the order is committed (its jobs read it back).
    if order.is_cancelled:
        if before is not None and before != "cancelled" and stage == "cancelled":
            pipeline.stop_soon(rt, order_id, order.cancel_reason or "cancelled on the storefront")
    else:
        pipeline.start(rt, [order_id])


def row_order(row: OrderRow) -> Order:
    """The canonical order as held (the newest version seen)."""
    return Order.from_dict(row.data)


@handles(Platform.woocommerce, "order.deleted")
def handle_woo_deleted(rt: Runtime, event_id: int) -> None:
    """A WooCommerce order moved to the trash: treated as cancelled on the storefront."""
    event, store = load_event(rt, event_id)
    order_id = str(json.loads(event.body).get("id", ""))
    if store is None or not order_id:
        return
    with rt.session() as s:
        row = s.scalar(
            select(OrderRow).where(OrderRow.store_id == store.id, OrderRow.platform_order_id == order_id)
        )
        if row is None or row.stage == "cancelled" or row.cancelled_at is not None:
            return
        if row.stage != "rejected":  # a rejected order keeps its stage: it is the reason
            row.stage = "cancelled"
        row.cancelled_at = row.cancelled_at or utcnow()
        record(
            s,
            row.account_id,
            f"order:{row.id}",
            "woocommerce:order.deleted",
            "order.cancelled",
            "deleted on the storefront",
        )
        # Trashing does not give WooCommerce its stock back, so the channel is left as is.
        cancelled = replace(row_order(row), cancelled_at=row.cancelled_at, cancel_reason="deleted")
        stock = apply_order(s, store, row, cancelled, rt.settings.inventory, payload=None)
        row_id, stage = row.id, row.stage
    schedule_push(rt, stock.dirty_stores)
    if stage == "cancelled":
        pipeline.stop_soon(rt, row_id, "deleted on the storefront")


def upsert_order(s: Session, store: Store, order: Order, actor: str) -> tuple[OrderRow, bool, str | None]:
    """Insert the order or apply a strictly newer version; every outcome lands on its timeline.

    Returns the row, whether it changed, and its stage before (None: new)."""
    row = s.scalar(
        select(OrderRow).where(OrderRow.store_id == store.id, OrderRow.platform_order_id == order.order_id)
    )
    if row is None:
        row = OrderRow(
            account_id=store.account_id,
            store_id=store.id,
            platform=store.platform,
            platform_order_id=order.order_id,
            stage="cancelled" if order.is_cancelled else "received",
        )
        _apply(row, order)
        s.add(row)
        s.flush()
        record(
            s,
            row.account_id,
            f"order:{row.id}",
            actor,
            "order.received",
            f"{order.number}: {len(order.line_items)} line(s), {order.total.amount} {order.currency}",
        )
        return row, True, None
    held = Order.from_dict(row.data)
    if not is_newer(order, held):
        record(
            s,
            row.account_id,
            f"order:{row.id}",
            actor,
            "order.update_ignored",
            f"version of {order.updated_at.isoformat()} is not newer than {held.updated_at.isoformat()}",
        )
        return row, False, row.stage
    before = row.stage
    was_cancelled = row.cancelled_at is not None or before == "cancelled"
    _apply(row, order)
    if order.is_cancelled and not was_cancelled:
        # A rejected order keeps its stage: the storefront cancelled it because we asked.
        if before != "rejected":
            row.stage = "cancelled"
        record(
            s, row.account_id, f"order:{row.id}", actor, "order.cancelled", order.cancel_reason or "cancelled"
        )
    else:
        record(
            s,
            row.account_id,
            f"order:{row.id}",
            actor,
            "order.updated",
            f"{order.financial_status}/{order.fulfillment_status}",
        )
    return row, True, before


def _apply(row: OrderRow, order: Order) -> None:
    row.number = order.number
    row.email = order.email
    row.financial_status = str(order.financial_status)
    row.fulfillment_status = str(order.fulfillment_status)
    row.cancelled_at = order.cancelled_at
    row.platform_updated_at = order.updated_at
    row.data = order.to_dict()
    row.updated_at = utcnow()

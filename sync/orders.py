"""Order intake: map a platform order to the canonical one and keep the newest version.

Webhooks and reconciliation both arrive through the inbox and end here, so a
missed webhook recovered by polling and a late duplicate meet the same rule
(``core.orders.supersedes``): an older version changes nothing, a duplicate changes
nothing, and two different versions of one platform second end in the same state
whatever order they arrive in. A second seen with two contents is settled by reading
the store again (a reconciliation, soon): the platform's answer is final for it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.storefront import EventKind, event_kind, reader_for
from core.errors import Retryable
from core.lifecycle import Stage
from core.orders import Order, Version, email_key, fingerprint, supersedes
from db.models import InboxEvent, Store, StoreState, utcnow
from db.models import Order as OrderRow
from db.timeline import record
from sync import pipeline
from sync.intake import handles, held_event
from sync.jobs import safe_job_id
from sync.lifecycle import storefront_cancelled
from sync.returns.storefront_in import refunds_in_order
from sync.stock_orders import apply_order
from sync.stock_push import schedule_push

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.orders")


class Upsert(NamedTuple):
    """What ``upsert_order`` did: the row, whether it changed, its stage before (None:
    new), and whether one platform second showed two contents (read the store again)."""

    row: OrderRow
    changed: bool
    before: str | None
    recheck: bool = False


def load_event(rt: Runtime, event_id: int) -> tuple[InboxEvent, Store | None]:
    """The event and its store (detached): as ``process_inbox_event`` loaded them when it runs it."""
    held = held_event(event_id)
    if held is not None:
        return held
    with rt.session() as s:
        event = s.get(InboxEvent, event_id)
        assert event is not None
        store = s.get(Store, event.store_id) if event.store_id is not None else None
        s.expunge_all()
        return event, store


@handles(EventKind.order_changed, EventKind.order_polled)
def handle_order(rt: Runtime, event_id: int) -> None:
    event, store = load_event(rt, event_id)
    if store is None or store.state is not StoreState.active:
        log.info("order.store_inactive", event_id=event_id)
        return
    payload = json.loads(event.body)
    kind = event_kind(str(event.platform), event.topic)
    assert kind is not None  # dispatched here by its kind
    order = reader_for(str(event.platform)).parse_order(kind, payload)
    # A polled version was read just before its inbox row was written.
    fetched_at = event.received_at if kind is EventKind.order_polled else None
    with rt.session() as s:
        try:
            row, changed, before, recheck = upsert_order(
                s, store, order, actor=f"{event.platform}:{event.topic}", fetched_at=fetched_at
            )
            s.flush()
            # Reserve, release or ship the order's stock in the same transaction (an
            # older version changed nothing, and its status must not move stock).
            if changed:
                stock = apply_order(s, store, row, row_order(row), rt.settings.inventory, payload)
                s.flush()
        except IntegrityError as exc:  # another worker inserted the same order or movement first
            raise Retryable("order or stock movement written concurrently; retry") from exc
        order_id, stage, due = row.id, row.stage, pipeline.waits_for_verification(row)
    # Refunds made in the store's admin (not Waybill's) are returns of the order.
    refunds_in_order(rt, store, payload)
    if recheck:
        read_again(rt, store, order.order_id)
    if not changed:
        # Held already: maybe this very event, re-run because its first run committed the
        # order but could not enqueue the next step. Make sure that step is queued
        # (``start`` reads the stage and uses the step's fixed job id: a no-op when the
        # order has moved on or its verification is queued or running).
        # Only an order still waiting for verification can need it (an echo of our own
        # write-back, the common case here, costs no second read of the order).
        if due and not order.is_cancelled and stage != Stage.CANCELLED:
            pipeline.start(rt, [order_id])
        return
    schedule_push(rt, stock.dirty_stores)
    # The pipeline follows once the order is committed (its jobs read it back).
    if order.is_cancelled:
        if before is not None and before != Stage.CANCELLED and stage == Stage.CANCELLED:
            pipeline.stop_soon(rt, order_id, order.cancel_reason or "cancelled on the storefront")
    elif due:
        pipeline.verify_now(rt, order_id)


def read_again(rt: Runtime, store: Store, order_id: str) -> None:
    """Read the order from the store once its second is over: the read settles a second seen
    with two contents (``sync.reconcile_feed.reread_order``; its job id keeps one read of an
    order queued at a time)."""
    rt.enqueue(
        "reread_order",
        job_id=safe_job_id("reread-order", store.id, order_id),
        delay_s=rt.settings.reconcile.recheck_s,
        store_id=store.id,
        order_id=order_id,
    )


def row_order(row: OrderRow) -> Order:
    """The canonical order as held (the newest version seen)."""
    return Order.from_dict(row.data)


@handles(EventKind.order_deleted)
def handle_deleted(rt: Runtime, event_id: int) -> None:
    """An order deleted (or moved to the trash) on the storefront: treated as cancelled there."""
    event, store = load_event(rt, event_id)
    order_id = reader_for(str(event.platform)).deleted_order_id(json.loads(event.body))
    if store is None or not order_id:
        return
    with rt.session() as s:
        row = s.scalar(
            select(OrderRow).where(OrderRow.store_id == store.id, OrderRow.platform_order_id == order_id)
        )
        if row is None or row.stage == Stage.CANCELLED or row.cancelled_at is not None:
            return
        row.cancelled_at = row.cancelled_at or utcnow()
        storefront_cancelled(s, row, f"{event.platform}:{event.topic}", "deleted on the storefront")
        # Deleting does not give the storefront its stock back, so the channel is left as is.
        cancelled = replace(row_order(row), cancelled_at=row.cancelled_at, cancel_reason="deleted")
        stock = apply_order(s, store, row, cancelled, rt.settings.inventory, payload=None)
        row_id, stage = row.id, row.stage
    schedule_push(rt, stock.dirty_stores)
    if stage == Stage.CANCELLED:
        pipeline.stop_soon(rt, row_id, "deleted on the storefront")


# The order of a store by its platform id (built once: read for every order event).
_BY_PLATFORM_ID = select(OrderRow).where(
    OrderRow.store_id == bindparam("w_store"), OrderRow.platform_order_id == bindparam("w_order")
)


def upsert_order(
    s: Session, store: Store, order: Order, actor: str, fetched_at: datetime | None = None
) -> Upsert:
    """Insert the order or apply a version that supersedes the held one; every outcome
    lands on its timeline. ``fetched_at``: when the version was read from the platform
    (None: pushed by a webhook)."""
    row = s.scalar(_BY_PLATFORM_ID, {"w_store": store.id, "w_order": order.order_id})
    if row is None:
        return Upsert(_insert(s, store, order, actor, fetched_at), True, None)
    held = Version(Order.from_dict(row.data), row.platform_fetched_at)
    incoming = Version(order, fetched_at)
    same_second = order.updated_at == held.order.updated_at
    same_content = same_second and fingerprint(order) == fingerprint(held.order)
    recheck = same_second and not same_content
    timeline = f"order:{row.id}"
    if not supersedes(incoming, held):
        if same_content:
            why = f"the version of {order.updated_at.isoformat()} again (a duplicate)"
        elif recheck:
            why = (
                f"the same second as the version held ({order.updated_at.isoformat()}) with other "
                "content: the held one ranks first; reading the order again"
            )
        else:
            held_at = held.order.updated_at.isoformat()
            why = f"version of {order.updated_at.isoformat()} is older than {held_at}"
        record(s, row.account_id, timeline, actor, "order.update_ignored", why)
        return Upsert(row, False, row.stage, recheck)
    if same_content:  # the same content read again later: only the read's time moves
        row.platform_fetched_at = fetched_at
        return Upsert(row, False, row.stage)
    before = row.stage
    was_cancelled = row.cancelled_at is not None or before == Stage.CANCELLED
    _apply(row, order, fetched_at)
    if order.is_cancelled and not was_cancelled:
        storefront_cancelled(s, row, actor, order.cancel_reason or "cancelled")
    else:
        reason = f"{order.financial_status}/{order.fulfillment_status}"
        if recheck:
            reason += " (the same second as the version held, with other content; reading the order again)"
        record(s, row.account_id, timeline, actor, "order.updated", reason)
    return Upsert(row, True, before, recheck)


def _insert(s: Session, store: Store, order: Order, actor: str, fetched_at: datetime | None) -> OrderRow:
    row = OrderRow(
        account_id=store.account_id,
        store_id=store.id,
        platform=store.platform,
        platform_order_id=order.order_id,
        stage=Stage.CANCELLED if order.is_cancelled else Stage.RECEIVED,
    )
    _apply(row, order, fetched_at)
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
    return row


def _apply(row: OrderRow, order: Order, fetched_at: datetime | None) -> None:
    row.number = order.number
    row.email = email_key(order.email)  # matched by history and privacy; data keeps it as typed
    row.financial_status = str(order.financial_status)
    row.fulfillment_status = str(order.fulfillment_status)
    row.cancelled_at = order.cancelled_at
    row.platform_updated_at = order.updated_at
    row.platform_fetched_at = fetched_at
    row.data = order.to_dict()
    row.updated_at = utcnow()

"""Polled order versions fed through the inbox, once each.

Reconciliation (``sync.reconcile``) feeds every order version it polled that Waybill does not
hold; :func:`reread_order` feeds the one order whose second showed two contents; the settle
step (``sync.stock_settle``) asks :func:`orders_not_counted` before it reads a channel's level
that differs from what the ledger expects as a merchant edit, and waits for what it fed. All
use the same dedupe key, so a version is fed once whoever finds it first.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.storefront.orders import POLLED_ORDER_TOPIC
from db.models import InboxEvent, InboxState, Store, StoreState
from db.models import Order as OrderRow
from sync.intake import enqueue_event
from sync.jobs import job
from sync.storefronts import storefront

if TYPE_CHECKING:
    from sync.runtime import Runtime


def dedupe_key(store_id: int, order_id: str, updated_at: datetime, body: bytes) -> str:
    # Platform times have whole seconds: the body's digest tells two contents of one second apart.
    return f"{store_id}:reconcile:{order_id}:{updated_at.isoformat()}:{hashlib.sha256(body).hexdigest()[:32]}"


def orders_not_counted(rt: Runtime, store: Store, since: datetime, until: datetime) -> int:
    """Poll the orders the store changed after ``since``; returns how many of those changed no
    later than ``until`` (to the second) the ledger has not counted yet. Each such version is
    fed through the inbox as reconciliation feeds it (once, same dedupe key).

    A version is counted when the order is held at it or at a later one, or when its polled
    event was processed already (whatever intake made of it: ignored, failed, superseded).
    The settle step asks this before it reads a channel's level as a merchant edit: a sale or a
    cancellation whose order webhook is late or lost moves the level just as an edit does.
    """
    last = until.replace(microsecond=0)
    versions = [
        p
        for p in storefront(rt, store).orders_since(since)
        if p.body is not None and p.updated_at.replace(microsecond=0) <= last
    ]
    if not versions:
        return 0
    with rt.session() as s:
        held = dict(
            s.execute(
                select(OrderRow.platform_order_id, OrderRow.platform_updated_at).where(
                    OrderRow.store_id == store.id,
                    OrderRow.platform_order_id.in_(sorted({p.order_id for p in versions})),
                )
            ).all()
        )
        unheld = [p for p in versions if p.order_id not in held or held[p.order_id] < p.updated_at]
        keys = {dedupe_key(store.id, p.order_id, p.updated_at, p.body or b""): p for p in unheld}
        states = dict(
            s.execute(
                select(InboxEvent.dedupe_key, InboxEvent.state).where(
                    InboxEvent.platform == store.platform, InboxEvent.dedupe_key.in_(sorted(keys))
                )
            ).all()
        )
    waiting = 0
    for key, polled in keys.items():
        state = states.get(key)
        if state is None:
            feed(rt, store, polled.order_id, polled.updated_at, polled.body or b"")
            waiting += 1
        elif state in (InboxState.pending, InboxState.processing):
            waiting += 1
    return waiting


def feed(rt: Runtime, store: Store, order_id: str, updated_at: datetime, body: bytes) -> int:
    """Commit one polled order version to the inbox (once) and enqueue it."""
    try:
        with rt.session() as s:
            event = InboxEvent(
                platform=store.platform,
                store_id=store.id,
                account_id=store.account_id,
                topic=POLLED_ORDER_TOPIC,
                dedupe_key=dedupe_key(store.id, order_id, updated_at, body),
                body=body,
                headers={"source": "reconcile"},
            )
            s.add(event)
            s.flush()
            event_id = event.id
    except IntegrityError:
        return 0
    enqueue_event(rt, event_id)
    return 1


@job("reread_order", queue="reconcile")
def reread_order(rt: Runtime, store_id: int, order_id: str) -> int:
    """Read one order from the store and feed it (``sync.orders.read_again``): once its second
    is over, what the store holds is final for a second seen with two contents. One call for
    the order, where a reconciliation would page through every order the store changed in its
    window (and feed the versions whose webhooks are still on their way). Returns 1 if fed."""
    with rt.session() as s:
        store = s.get(Store, store_id)
        if store is None or store.state is not StoreState.active:
            return 0
        s.expunge(store)
    polled = storefront(rt, store).order_now(order_id)
    if polled is None or polled.body is None:  # gone, or a read that may have cut it
        return 0
    return feed(rt, store, polled.order_id, polled.updated_at, polled.body)

"""Reconciliation: don't trust webhooks. Poll what changed, repair subscriptions.

Orders changed since the store's cursor are fetched and fed through the same
inbox as webhooks (topic ``reconcile/order``, dedupe key = order id + modification
time + body digest), so a missed webhook is recovered, a version already seen is not
processed twice, and a second content of the same second is not taken for a duplicate.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.errors import Retryable
from db.models import InboxEvent, Platform, Store, StoreState, utcnow
from db.timeline import record
from sync.intake import enqueue_event
from sync.jobs import job, safe_job_id
from sync.stores import ensure_webhooks, shopify_client, woo_client
from telemetry import RECONCILE_REPAIRS

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.reconcile")
OVERLAP = timedelta(minutes=5)  # platforms' updated_at and our clock are not in lockstep
# An order in orders_updated_since.graphql costs about 91 points (12 line items with
# variants, prices and weights, addresses, totals); 10 a page costs 912, under
# Shopify's 1,000-point cap. A page that may have cut an order's lines (12 came back)
# is not fed: a partial order must never replace a complete one. Such orders are
# counted as `incomplete` and noted on the store's timeline.
LINES_PER_ORDER = 12
SHOPIFY_PAGE = 10


@job("reconcile_all", queue="reconcile")
def reconcile_all(rt: Runtime) -> int:
    """Schedule a reconciliation of every active store."""
    with rt.session() as s:
        ids = list(s.scalars(select(Store.id).where(Store.state == StoreState.active)))
    for store_id in ids:
        rt.enqueue("reconcile_store", job_id=safe_job_id("reconcile-store", store_id), store_id=store_id)
    return len(ids)


@job("reconcile_store", queue="reconcile")
def reconcile_store(rt: Runtime, store_id: int) -> dict[str, Any]:
    """Repair webhooks, then recover orders changed since the cursor. Returns what was found."""
    with rt.session() as s:
        store = s.get(Store, store_id)
        if store is None or store.state is not StoreState.active:
            return {"skipped": True}
        s.expunge(store)
    try:
        repaired = ensure_webhooks(rt, store_id, actor="reconcile")
        webhook_error = None
    except Retryable as exc:  # keep polling orders even when subscriptions cannot be fixed now
        repaired, webhook_error = [], str(exc)
    since = _cursor(rt, store)
    fetch = _shopify_orders if store.platform is Platform.shopify else _woo_orders
    found, queued, newest = 0, 0, since
    incomplete: list[str] = []
    for order_id, updated_at, body in fetch(rt, store, since):
        found += 1
        newest = max(newest, updated_at)
        if body is None:
            incomplete.append(order_id)
            continue
        queued += _feed(rt, store, order_id, updated_at, body)
    with rt.session() as s:
        row = s.get(Store, store_id)
        if row is not None:
            row.settings = {**(row.settings or {}), "order_cursor": (newest - OVERLAP).isoformat()}
            if incomplete:
                record(
                    s,
                    row.account_id,
                    f"store:{store_id}",
                    "reconcile",
                    "orders.incomplete",
                    f"{len(incomplete)} changed order(s) with {LINES_PER_ORDER}+ lines "
                    "not recovered by polling",
                    {"orders": incomplete},
                )
            if queued:
                record(
                    s,
                    row.account_id,
                    f"store:{store_id}",
                    "reconcile",
                    "orders.recovered",
                    f"{queued} order version(s) not seen before, of {found} changed since "
                    f"{since.isoformat()}",
                )
    summary = {
        "store_id": store_id,
        "found": found,
        "queued": queued,
        "incomplete": len(incomplete),
        "webhooks_repaired": repaired,
        "webhook_error": webhook_error,
    }
    platform = str(store.platform)
    RECONCILE_REPAIRS.labels(platform, "orders_recovered").inc(queued)
    RECONCILE_REPAIRS.labels(platform, "orders_incomplete").inc(len(incomplete))
    RECONCILE_REPAIRS.labels(platform, "webhooks_repaired").inc(len(repaired))
    log.info("reconcile.store", **{k: v for k, v in summary.items() if k != "webhook_error"})
    return summary


def _cursor(rt: Runtime, store: Store) -> datetime:
    value = (store.settings or {}).get("order_cursor")
    if value:
        return datetime.fromisoformat(value)
    start = store.installed_at or utcnow()
    return start - timedelta(seconds=rt.settings.reconcile.initial_lookback_s)


def _feed(rt: Runtime, store: Store, order_id: str, updated_at: datetime, body: bytes) -> int:
    """Commit one polled order version to the inbox (once) and enqueue it."""
    try:
        with rt.session() as s:
            event = InboxEvent(
                platform=store.platform,
                store_id=store.id,
                account_id=store.account_id,
                topic="reconcile/order",
                # Platform times have whole seconds: the body's digest tells two contents of one second apart.
                dedupe_key=(
                    f"{store.id}:reconcile:{order_id}:{updated_at.isoformat()}:"
                    f"{hashlib.sha256(body).hexdigest()[:32]}"
                ),
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


def _shopify_orders(rt: Runtime, store: Store, since: datetime) -> Any:
    client = shopify_client(rt, store)
    query = f"updated_at:>'{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    after: str | None = None
    while True:
        page = client.execute(
            "orders_updated_since", {"query": query, "first": SHOPIFY_PAGE, "after": after}
        )["orders"]
        for node in page["nodes"]:
            updated = datetime.fromisoformat(node["updatedAt"].replace("Z", "+00:00"))
            lines = (node.get("lineItems") or {}).get("nodes") or []
            body = json.dumps(node).encode() if len(lines) < LINES_PER_ORDER else None
            yield node["id"].rsplit("/", 1)[-1], updated, body
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


def _woo_orders(rt: Runtime, store: Store, since: datetime) -> Any:
    client = woo_client(rt, store)
    params = {
        "modified_after": since.strftime("%Y-%m-%dT%H:%M:%S"),
        "dates_are_gmt": "true",
        "orderby": "modified",
        "order": "asc",
    }
    for order in client.iterate("orders", params):
        modified = datetime.fromisoformat(order["date_modified_gmt"]).replace(tzinfo=since.tzinfo)
        yield str(order["id"]), modified, json.dumps(order).encode()

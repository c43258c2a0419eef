"""Inventory audit: every channel's levels read back and compared with the ledger.

``inventory_audit`` (per store, under the store's stock lock so no push or settle runs
meanwhile) reads the whole catalog with its levels through the same paged reads as the
catalog import, computes what the ledger publishes for each linked SKU, and lists every
difference (:func:`core.inventory.compare_levels`). Each one is recorded on the SKU's
timeline (``stock.discrepancy``) and counted in ``waybill_stock_discrepancies_total``,
then healed per ``inventory.heal``:

- ``ledger`` (default): the link learns what the channel really shows and the SKU is
  marked for a push, which writes the published level (the compare-and-set uses the
  level just read);
- ``channel``: the channel's level is taken as a merchant edit: on hand moves by the
  difference (a ``channel_edit`` movement) and every other channel is pushed the new
  level;
- ``report``: nothing changes beyond the timeline and the metric.

SKUs with a push or a settle still pending are skipped (their level is in flight, not
wrong), and so are SKUs the channel shows no level for (reported, never written: the
item is not stocked at the store's location).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.catalog import map_skus
from core.inventory import Discrepancy, compare_levels
from db import stock
from db.models import CatalogLink, StockDirty, Store, StoreState, utcnow
from db.timeline import record
from sync.catalog import fetch, mark_store_dirty
from sync.inventory import low_stock_check, observe
from sync.jobs import job
from sync.locks import store_lock
from sync.reconcile import reconcile_then
from sync.stock_push import schedule_push
from sync.stock_settle import schedule_settle

if TYPE_CHECKING:
    from settings import InventorySettings
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.stock_audit")

DISCREPANCIES = Counter(
    "waybill_stock_discrepancies_total",
    "Channel levels an audit found different from the ledger, by how they were handled",
    ["platform", "outcome"],
)


@dataclass
class AuditResult:
    store_id: int
    platform: str = ""
    checked: int = 0
    skipped_in_flight: int = 0
    discrepancies: list[dict[str, Any]] = field(default_factory=list)
    healed: int = 0
    observed: int = 0
    policy: str = "ledger"

    def as_dict(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "platform": self.platform,
            "policy": self.policy,
            "checked": self.checked,
            "skipped_in_flight": self.skipped_in_flight,
            "found": len(self.discrepancies),
            "healed": self.healed,
            "observed": self.observed,
            "discrepancies": self.discrepancies,
        }


@job("inventory_audit_all", queue="inventory")
def inventory_audit_all(rt: Runtime) -> int:
    """Enqueue an audit of every active store (scheduled), each behind a reconciliation of it."""
    with rt.session() as s:
        ids = list(s.scalars(select(Store.id).where(Store.state == StoreState.active).order_by(Store.id)))
    for store_id in ids:  # each behind a reconciliation of its store, which then enqueues the audit
        reconcile_then(rt, store_id, "inventory_audit")
    return len(ids)


@job("inventory_audit", queue="inventory")
def inventory_audit(rt: Runtime, store_id: int, heal: str | None = None) -> dict[str, Any]:
    """Compare one store's levels with the ledger and heal per policy; returns what was found."""
    policy = heal or rt.settings.inventory.heal
    if policy not in ("ledger", "channel", "report"):
        raise ValueError(f"unknown heal policy {policy!r}: ledger, channel or report")
    result = AuditResult(store_id, policy=policy)
    push: set[int] = set()
    with store_lock(rt, store_id):
        store = _active_store(rt, store_id)
        if store is None:
            return result.as_dict() | {"skipped": True}
        result.platform = str(store.platform)
        report = map_skus(fetch(rt, store).entries)  # paged reads, outside any transaction
        inv = rt.settings.inventory
        with rt.session() as s:
            links, expected = _expected_levels(s, store, result, inv)
            seen = {
                sku: (entry.available if entry.tracked else None)
                for sku, entry in report.mapped.items()
                if sku in expected
            }
            for found in compare_levels(expected, seen):
                level_at = report.mapped[found.sku].level_at
                outcome = _heal(
                    s,
                    store,
                    links[found.sku],
                    found,
                    level_at,
                    policy,
                    inv.location,
                    push,
                    inv.low_stock_threshold,
                )
                _note_discrepancy(s, store, result, found, outcome)
            _record_audit(s, store, result)
    schedule_push(rt, push)
    if result.observed:
        schedule_settle(rt, store_id)
    log.info(
        "stock.audited",
        store_id=store_id,
        policy=policy,
        checked=result.checked,
        found=len(result.discrepancies),
        healed=result.healed,
        observed=result.observed,
        skipped_in_flight=result.skipped_in_flight,
    )
    return result.as_dict()


def _active_store(rt: Runtime, store_id: int) -> Store | None:
    """The store, detached from its session, while it is active; else None."""
    with rt.session() as s:
        store = s.get(Store, store_id)
        if store is None or store.state is not StoreState.active:
            return None
        s.expunge(store)
    return store


def _expected_levels(
    s: Session, store: Store, result: AuditResult, inv: InventorySettings
) -> tuple[dict[str, CatalogLink], dict[str, int]]:
    """The store's tracked links by SKU, and the levels the ledger publishes for those not in
    flight (a push pending, an observation unsettled): they are counted on ``result``."""
    links = {
        link.sku: link
        for link in s.scalars(
            select(CatalogLink).where(CatalogLink.store_id == store.id, CatalogLink.tracked.is_(True))
        )
    }
    pending = set(s.scalars(select(StockDirty.sku).where(StockDirty.store_id == store.id)))
    in_flight = {sku for sku, link in links.items() if sku in pending or link.observed_qty is not None}
    result.skipped_in_flight = len(in_flight)
    checked = sorted(set(links) - in_flight)
    expected = stock.published_levels(s, store, checked, inv.location, stock.parse_buffer(inv.default_buffer))
    result.checked = len(expected)
    return links, expected


def _note_discrepancy(
    s: Session, store: Store, result: AuditResult, found: Discrepancy, outcome: str
) -> None:
    """Count one difference and what was done about it, on the result, the metrics and the timeline."""
    DISCREPANCIES.labels(platform=result.platform, outcome=outcome).inc()
    if outcome == "observed":
        result.observed += 1
    elif outcome != "reported":
        result.healed += 1
    entry = {
        "sku": found.sku,
        "channel": found.channel,
        "expected": found.expected,
        "difference": found.difference,
        "outcome": outcome,
    }
    result.discrepancies.append(entry)
    record(
        s,
        store.account_id,
        f"sku:{found.sku}",
        f"{store.platform}:{store.domain}",
        "stock.discrepancy",
        _describe(found, outcome),
        {"store_id": store.id, **entry},
    )


def _record_audit(s: Session, store: Store, result: AuditResult) -> None:
    """The audit's summary on the store's timeline."""
    record(
        s,
        store.account_id,
        f"store:{store.id}",
        "inventory_audit",
        "stock.audited",
        f"{result.checked} SKU(s) checked, {len(result.discrepancies)} difference(s), "
        f"{result.healed} healed ({result.policy}), {result.observed} newer than the ledger's "
        "knowledge read as channel changes",
        {k: v for k, v in result.as_dict().items() if k != "discrepancies"},
    )


def _heal(
    s: Any,
    store: Store,
    link: CatalogLink,
    found: Discrepancy,
    level_at: datetime | None,
    policy: str,
    location: str,
    push: set[int],
    low_stock_default: int | None,
) -> str:
    """Apply the policy to one difference; returns the outcome recorded.

    A level the channel changed after the ledger last knew it (newer than ``channel_qty_at``
    and not what the ledger believes the channel shows) is not healed by either policy: it
    is observed, as the channel's level report would have been, and settled against the
    channel once the orders behind it are in; what remains is a merchant edit.
    """
    if found.channel is None or found.difference is None or policy == "report":
        return "reported"
    if level_at is not None and observe(link, found.channel, level_at):
        return "observed"
    now = utcnow()
    if policy == "ledger":
        # Learn what the channel shows (the push's compare-and-set starts from it), then push.
        link.channel_qty, link.channel_qty_at, link.channel_qty_open = found.channel, now, 0
        mark_store_dirty(s, store.id, [found.sku])
        push.add(store.id)
        return "pushed"
    item = stock.find_item(s, store.account_id, found.sku, location)
    if item is None:
        return "reported"
    moved = stock.move(
        s,
        item,
        account_id=store.account_id,
        key=f"audit:{link.id}:{now.isoformat()}:{found.expected}:{found.channel}",
        reason="channel_edit",
        source=f"store:{store.id}",
        on_hand=found.difference,
        store_id=store.id,
        note=f"audit: {store.platform} showed {found.channel}, the ledger published {found.expected}",
    )
    link.channel_qty, link.channel_qty_at, link.channel_qty_open = found.channel, now, 0
    if moved is None:
        return "reported"
    low_stock_check(s, item, moved.available, low_stock_default)
    push |= stock.mark_dirty(s, store.account_id, [found.sku])
    return "taken"


def _describe(found: Discrepancy, outcome: str) -> str:
    if found.channel is None:
        return f"the channel shows no level (the ledger publishes {found.expected}); reported"
    action = {
        "pushed": "the ledger's level is pushed",
        "taken": "the channel's level is taken into the ledger",
        "reported": "reported only",
        "observed": "the channel changed after the ledger last knew it: read as a merchant edit",
    }[outcome]
    return f"the channel shows {found.channel}, the ledger publishes {found.expected}: {action}"

"""Catalog import: link each channel's SKUs to the stock ledger.

``import_catalog`` reads a store's whole catalog through its storefront (each listing
with its level at the location we publish to, weights and measures), maps SKUs (a SKU
held by two entries of one store is reported, never linked) and then, in one
transaction:

- upserts the store's :class:`CatalogLink` rows (ids, title, weight in grams and
  dimensions in cm follow the channel) and deletes the links whose SKU disappeared or
  became duplicated;
- records what the channel showed (``channel_qty``/``channel_qty_at``) on links that are
  new or have no pending observation, unless we already know a newer level; a level the
  channel changed after we last knew it is observed instead (settled like a level report:
  a merchant edit made while Waybill heard nothing is taken in, never overwritten);
- seeds the ledger: a SKU with no stock item in the account gets one, set to this
  channel's level by an ``initial_import`` movement (key ``import:<sku>``), so the first
  store imported wins and later stores' differences are left to the audit. The item keeps
  which store and which level time seeded it: an order in flight at the import (its units
  taken off that level already) gets them back on hand when it arrives and reserves them,
  so it counts once (``sync/stock_orders.py``);
- keeps the report in ``Store.settings["catalog"]`` and on the store's timeline;
- marks for a push the links whose channel level differs from what should be published,
  and enqueues ``push_stock`` for the store.

``catalog_all`` (scheduled hourly) enqueues an import per active store, behind a
reconciliation of the store (``sync/reconcile.py``).
``measures_for`` hands parcel planning what the catalog says each order line weighs and measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connectors.storefront.stock import Catalog
from core.catalog import CatalogEntry, CatalogReport, map_skus
from core.orders import LineItem
from core.parcels import Measure
from db import stock
from db.models import CatalogLink, StockDirty, StockItem, Store, StoreState, utcnow
from db.timeline import record
from sync.inventory import observe
from sync.jobs import job, safe_job_id
from sync.reconcile import reconcile_then
from sync.stock_push import schedule_push
from sync.stock_settle import schedule_settle
from sync.storefronts import storefront

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.catalog")
REPORT_UNMAPPED = 50  # entries without SKU kept in the store's report


Fetched = Catalog  # a store's catalog as read, and the location its levels are from


@job("catalog_all", queue="inventory")
def catalog_all(rt: Runtime) -> int:
    """Enqueue a catalog import for every active store, each behind a reconciliation of it."""
    with rt.session() as s:
        ids = list(s.scalars(select(Store.id).where(Store.state == StoreState.active).order_by(Store.id)))
    for store_id in ids:
        reconcile_then(rt, store_id, "import_catalog")
    return len(ids)


# Where an import stands, kept in ``Store.settings["catalog_progress"]`` (the console's
# progress bar): queued 0 %, reading the catalog, linking SKUs, done 100 % (or failed).
PROGRESS = "catalog_progress"
STEPS = {"queued": 0, "reading": 10, "linking": 60, "done": 100}


def set_progress(rt: Runtime, store_id: int, step: str, **extra: Any) -> None:
    """Note where the store's catalog import stands (``step``: queued, reading, linking, done, failed)."""
    with rt.session() as s:
        store = s.get(Store, store_id, with_for_update=True)
        if store is None:
            return
        before = (store.settings or {}).get(PROGRESS) or {}
        percent = STEPS.get(step, before.get("percent", 0))
        store.settings = {
            **(store.settings or {}),
            PROGRESS: {"step": step, "percent": percent, "at": utcnow().isoformat(), **extra},
        }


def request_import(rt: Runtime, store_id: int, actor: str) -> bool:
    """Queue an import of the store's catalog now (the console's button); False when the
    store is not active. Its progress is kept on the store from here on."""
    with rt.session() as s:
        store = s.get(Store, store_id)
        if store is None or store.state is not StoreState.active:
            return False
        record(
            s, store.account_id, f"store:{store_id}", actor, "catalog.requested", "catalog import asked for"
        )
    set_progress(rt, store_id, "queued")
    rt.enqueue("import_catalog", job_id=safe_job_id("import-catalog", store_id), store_id=store_id)
    return True


@job("import_catalog", queue="inventory")
def import_catalog(rt: Runtime, store_id: int) -> dict[str, Any]:
    """Read the store's catalog, link its SKUs and seed the ledger; returns the summary."""
    with rt.session() as s:
        store = s.get(Store, store_id)
        if store is None or store.state is not StoreState.active:
            return {"store_id": store_id, "skipped": True}
        s.expunge(store)
    set_progress(rt, store_id, "reading")
    try:
        fetched = fetch(rt, store)
        set_progress(rt, store_id, "linking", entries=len(fetched.entries))
        report = map_skus(fetched.entries)
        with rt.session() as s:
            summary = apply_catalog(rt, s, store_id, report, fetched.location_id)
    except Exception as exc:
        set_progress(rt, store_id, "failed", error=f"{type(exc).__name__}: {exc}"[:300])
        raise
    if summary.get("skipped"):
        return summary
    set_progress(rt, store_id, "done", mapped=summary["mapped"], entries=len(fetched.entries))
    if summary["observed"]:
        schedule_settle(rt, store_id)
    if summary["dirty"]:
        schedule_push(rt, [store_id])
    log.info(
        "catalog.imported",
        store_id=store_id,
        mapped=summary["mapped"],
        unmapped=summary["unmapped_count"],
        duplicates=len(summary["duplicates"]),
        untracked=summary["untracked"],
        seeded=summary["seeded"],
        dirty=summary["dirty"],
    )
    return summary


def fetch(rt: Runtime, store: Store) -> Fetched:
    """The store's catalog entries (I/O only), levels at the location the store's settings name."""
    location = (store.settings or {}).get("inventory_location_id")
    return storefront(rt, store).catalog(location)


def report_settings(report: CatalogReport, imported_at: datetime) -> dict[str, Any]:
    """What ``Store.settings["catalog"]`` keeps of an import."""
    return {
        "imported_at": imported_at.isoformat(),
        "mapped": len(report.mapped),
        "unmapped": [
            {"product_id": e.product_id, "variant_id": e.variant_id, "title": e.title}
            for e in report.unmapped[:REPORT_UNMAPPED]
        ],
        "unmapped_count": len(report.unmapped),
        "duplicates": {sku: list(ids) for sku, ids in sorted(report.duplicates.items())},
        "untracked": report.untracked,
        # Tracked, but the channel shows no level for them (not stocked at our location).
        "no_level": sorted(sku for sku, e in report.mapped.items() if e.tracked and e.available is None),
    }


def apply_catalog(
    rt: Runtime, s: Session, store_id: int, report: CatalogReport, location_id: int | None
) -> dict[str, Any]:
    """Write one import into the database (the caller's transaction); returns the summary."""
    store = s.get(Store, store_id)
    if store is None:
        return {"store_id": store_id, "skipped": True}
    location = rt.settings.inventory.location
    now = utcnow()
    links = {
        link.sku: link for link in s.scalars(select(CatalogLink).where(CatalogLink.store_id == store_id))
    }
    gone = _remove_gone(s, store_id, links, report)
    observed = _update_links(s, store, links, report, location, location_id, now)
    seeded = _seed_ledger(s, store.account_id, store_id, report, location)
    dirty = _mark_differences(rt, s, store, report, location)

    saved = report_settings(report, now)
    # Other jobs keep their own keys in the settings: re-read them under a row lock before writing.
    s.refresh(store, with_for_update=True)
    store.settings = {**(store.settings or {}), "catalog": saved}
    _record_import(s, store, saved, gone, seeded)
    return {
        "store_id": store_id,
        "platform": str(store.platform),
        **saved,
        "removed": gone,
        "seeded": seeded,
        "dirty": dirty,
        "observed": observed,
    }


def _remove_gone(
    s: Session, store_id: int, links: dict[str, CatalogLink], report: CatalogReport
) -> list[str]:
    """Unlink the SKUs the channel no longer lists (and drop their pending pushes); returns them."""
    gone = sorted(sku for sku in links if sku not in report.mapped)
    if gone:
        s.execute(delete(CatalogLink).where(CatalogLink.store_id == store_id, CatalogLink.sku.in_(gone)))
        s.execute(delete(StockDirty).where(StockDirty.store_id == store_id, StockDirty.sku.in_(gone)))
    return gone


def _update_links(
    s: Session,
    store: Store,
    links: dict[str, CatalogLink],
    report: CatalogReport,
    location: str,
    location_id: int | None,
    now: datetime,
) -> list[str]:
    """Create or refresh the link of every mapped SKU; returns the SKUs whose level was observed."""
    observed: list[str] = []
    for sku, entry in report.mapped.items():
        link = links.get(sku)
        new = link is None
        if link is None:
            link = CatalogLink(account_id=store.account_id, store_id=store.id, sku=sku)
            s.add(link)
        moved_location = link.location_id != location_id
        link.location = location
        link.product_id = entry.product_id
        link.variant_id = entry.variant_id
        link.inventory_item_id = entry.inventory_item_id
        link.location_id = location_id
        link.title = entry.title[:500]
        link.tracked = entry.tracked
        link.grams = entry.grams
        link.length_cm, link.width_cm, link.height_cm = entry.dims_cm or (None, None, None)
        link.imported_at = now
        pending = link.observed_qty is not None and not (new or moved_location)
        if not pending and _record_level(link, entry, force=new or moved_location):
            observed.append(sku)
    s.flush()
    return observed


def _record_import(
    s: Session, store: Store, saved: dict[str, Any], gone: list[str], seeded: list[str]
) -> None:
    """The import's summary on the store's timeline."""
    record(
        s,
        store.account_id,
        f"store:{store.id}",
        "catalog",
        "catalog.imported",
        f"{saved['mapped']} SKU(s) linked, {saved['unmapped_count']} without SKU, "
        f"{len(saved['duplicates'])} duplicated SKU(s) not linked, {saved['untracked']} untracked",
        {
            "mapped": saved["mapped"],
            "unmapped": saved["unmapped_count"],
            "duplicates": saved["duplicates"],
            "untracked": saved["untracked"],
            "removed": gone,
            "seeded": seeded,
        },
    )


def _record_level(link: CatalogLink, entry: CatalogEntry, force: bool) -> bool:
    """Take the channel's level as read, unless we already know a newer one (a push or a sale).

    A known link whose channel changed the level after we last knew it (a merchant edit or a
    sale whose report was lost) is not learned silently: that would make the change look like
    what we expected and lose it. It is observed instead, as the channel's own report would
    have been; returns ``True`` then (the caller schedules the settle).
    """
    if not entry.tracked or entry.available is None:
        if force or not entry.tracked:
            link.channel_qty = link.channel_qty_at = None
            link.channel_qty_open = 0
        return False
    known_at, read_at = link.channel_qty_at, entry.level_at
    if not force and known_at is not None and read_at is not None and read_at < known_at:
        return False
    if not force and link.channel_qty is not None and read_at is not None and known_at is not None:
        return observe(link, entry.available, read_at)
    link.channel_qty = entry.available
    link.channel_qty_at = entry.level_at
    link.channel_qty_open = 0
    return False


def _seed_ledger(
    s: Session, account_id: int, store_id: int, report: CatalogReport, location: str
) -> list[str]:
    """Create the stock items this account lacks, at this channel's level; returns their SKUs."""
    seeded: list[str] = []
    for sku, entry in sorted(report.mapped.items()):
        if not entry.tracked or entry.available is None:
            continue
        if stock.find_item(s, account_id, sku, location) is not None:
            continue
        item_id = stock.ensure_item(s, account_id, sku, location)
        moved = stock.move(
            s,
            item_id,
            account_id=account_id,
            key=f"import:{sku}",
            reason="initial_import",
            source=f"store:{store_id}",
            on_hand=entry.available,
            store_id=store_id,
            note=f"level read from the channel's catalog ({entry.title})"[:500],
        )
        if moved is not None:
            # Orders the channel took units for by this level's time are out of it (``committed``).
            s.execute(
                update(StockItem)
                .where(StockItem.id == item_id)
                .values(seeded_store_id=store_id, seeded_level_at=entry.level_at, seeded_out=entry.committed)
            )
            seeded.append(sku)
    return seeded


def _mark_differences(rt: Runtime, s: Session, store: Store, report: CatalogReport, location: str) -> int:
    """Mark this store's links whose channel level differs from the published one; returns how many."""
    tracked = sorted(sku for sku, entry in report.mapped.items() if entry.tracked)
    no_level = {sku for sku, entry in report.mapped.items() if entry.tracked and entry.available is None}
    if not tracked:
        return 0
    fallback = stock.parse_buffer(rt.settings.inventory.default_buffer)
    levels = stock.published_levels(s, store, tracked, location, fallback)
    links = s.scalars(
        select(CatalogLink).where(CatalogLink.store_id == store.id, CatalogLink.sku.in_(tracked))
    )
    # A link whose channel shows no level is left alone: the item is not stocked at our
    # location and a write there would be refused (the report lists them as "no_level").
    differ = [
        link.sku
        for link in links
        if link.observed_qty is None
        and link.sku in levels
        and link.sku not in no_level
        and link.channel_qty != levels[link.sku]
    ]
    mark_store_dirty(s, store.id, differ)
    return len(differ)


def mark_store_dirty(s: Session, store_id: int, skus: list[str]) -> None:
    """Mark (or refresh) ``skus`` of one store for a push; other channels are not touched."""
    if not skus:
        return
    now = utcnow()
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    for sku in skus:
        stmt = insert(StockDirty).values(store_id=store_id, sku=sku, marked_at=now)
        s.execute(stmt.on_conflict_do_update(index_elements=["store_id", "sku"], set_={"marked_at": now}))


def measures_for(s: Session, store_id: int, lines: Sequence[LineItem]) -> dict[str, Measure]:
    """What the store's catalog says of each line's unit, by line id (lines it knows nothing of are left out).

    A line is matched to its variant (variation) id, else to its product when it has no
    variant, else to its SKU: ids survive a SKU being edited on the order's channel.
    """
    links = list(s.scalars(select(CatalogLink).where(CatalogLink.store_id == store_id)))
    by_variant = {link.variant_id: link for link in links if link.variant_id is not None}
    by_product = {link.product_id: link for link in links if link.variant_id is None}
    by_sku = {link.sku: link for link in links}
    found: dict[str, Measure] = {}
    for line in lines:
        link = None
        if line.variant_id and line.variant_id.isdigit():
            link = by_variant.get(int(line.variant_id))
        elif line.product_id and line.product_id.isdigit():
            link = by_product.get(int(line.product_id))
        if link is None and line.sku:
            link = by_sku.get(line.sku.strip())
        if link is None:
            continue
        sides = (link.length_cm, link.width_cm, link.height_cm)
        dims = None
        if all(side is not None for side in sides):
            length, width, height = (Decimal(str(side)) for side in sides)
            dims = (length, width, height)
        if link.grams is not None or dims is not None:
            found[line.line_id] = Measure(grams=link.grams, dims_cm=dims)
    return found

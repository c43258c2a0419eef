"""WooCommerce stock writes: batch requests and their per-item answers.

Pure helpers (no I/O). A batch call carries at most 100 items; WooCommerce answers
each item on its own (an item that failed carries ``error`` and the rest still apply).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from connectors import utc_time
from connectors.errors import platform_code
from connectors.storefront.stock import Changed, Listed
from connectors.woocommerce.statuses import reduces_stock
from core.inventory import StockTaken, chunks
from core.orders import Order

# Line item meta wc_reduce_stock_levels writes: the units it took off the product.
REDUCED_STOCK_KEY = "_reduced_stock"
WOO_MAX_BATCH = 100  # items in one batch call (ARCHITECTURE.md, principle 5)


class WooStockUpdate(NamedTuple):
    """A level to write: a simple product (``variation_id`` None) or a variation of ``product_id``."""

    product_id: int
    variation_id: int | None
    quantity: int


class WooBatch(NamedTuple):
    """One WooCommerce batch call: ``products/batch`` when ``parent_id`` is None,
    else ``products/{parent_id}/variations/batch``."""

    parent_id: int | None
    updates: tuple[WooStockUpdate, ...]


def plan_woo_batches(updates: Sequence[WooStockUpdate], size: int = WOO_MAX_BATCH) -> list[WooBatch]:
    """The fewest WooCommerce batch calls that write ``updates``.

    Simple products go first, in chunks of ``size``; then each parent's variations, in
    chunks of ``size``, parents in the order first seen. Order within a batch is kept.
    """
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    simple: list[WooStockUpdate] = []
    by_parent: dict[int, list[WooStockUpdate]] = {}
    for update in updates:
        if update.variation_id is None:
            simple.append(update)
        else:
            by_parent.setdefault(update.product_id, []).append(update)
    batches = [WooBatch(None, tuple(chunk)) for chunk in chunks(simple, size)]
    for parent, variations in by_parent.items():
        batches.extend(WooBatch(parent, tuple(chunk)) for chunk in chunks(variations, size))
    return batches


def batch_path(parent_id: int | None) -> str:
    """``products/batch`` for simple products, ``products/<parent>/variations/batch`` for variations."""
    return "products/batch" if parent_id is None else f"products/{parent_id}/variations/batch"


def batch_body(batch: WooBatch) -> dict[str, Any]:
    """Set each item's stock (managed) to its quantity."""
    return {
        "update": [
            {
                "id": u.variation_id if u.variation_id is not None else u.product_id,
                "stock_quantity": u.quantity,
                "manage_stock": True,
            }
            for u in batch.updates
        ]
    }


def gmt(stamp: str) -> datetime:
    """WooCommerce's ``date_modified_gmt`` (written without a zone) as an aware UTC time."""
    value = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class ItemResult:
    """One item of a batch answer: the stock it now has and when, or the error."""

    id: int
    stock_quantity: int | None
    modified_at: datetime | None
    error: str | None


def trim_reply(reply: Any) -> dict[str, Any]:
    """What a batch answer says about stock, small enough to keep in the effects ledger."""
    items: list[dict[str, Any]] = []
    updates = reply.get("update") if isinstance(reply, Mapping) else None
    for row in updates or []:
        if not isinstance(row, Mapping):
            continue
        error = row.get("error")
        if error:
            # The error code only: the message is the store's text.
            code = platform_code(error.get("code")) if isinstance(error, Mapping) else None
            items.append({"id": int(row.get("id") or 0), "error": code or "error without a code"})
        else:
            items.append(
                {
                    "id": int(row["id"]),
                    "stock_quantity": row.get("stock_quantity"),
                    "date_modified_gmt": row.get("date_modified_gmt"),
                }
            )
    return {"update": items}


def parse_trimmed(result: Mapping[str, Any]) -> dict[int, ItemResult]:
    """Per item id, from :func:`trim_reply`'s output."""
    out: dict[int, ItemResult] = {}
    for row in result.get("update") or []:
        if row.get("error"):
            out[int(row["id"])] = ItemResult(int(row["id"]), None, None, str(row["error"]))
            continue
        qty = row.get("stock_quantity")
        stamp = row.get("date_modified_gmt")
        out[int(row["id"])] = ItemResult(
            int(row["id"]), int(qty) if qty is not None else None, gmt(stamp) if stamp else None, None
        )
    return out


def missing(batch: Sequence[int], results: Mapping[int, ItemResult]) -> list[int]:
    """Ids sent that the answer does not mention (treated as failed)."""
    return [i for i in batch if i not in results]


def stock_taken(payload: Mapping[str, Any], order: Order) -> StockTaken:
    """When WooCommerce took the order's units off its own stock (``at=None``: it holds none now).

    ``wc_maybe_reduce_stock_levels`` takes them at payment (``payment_complete``, REST
    ``set_paid``) or on a move to processing, on-hold or completed, never at creation,
    and writes ``_reduced_stock`` on each line it took; cancelled or pending gives them
    back and removes it. Lines without that meta at all (stores or payloads that do not
    show it) fall back to the status. The time is the payment's (``date_paid_gmt``); an
    order on hold has none, and its last change (the payload's ``date_modified``) is
    the nearest known time.
    """
    held = _lines_reduced(payload)
    taken = held if held is not None else reduces_stock(str(payload.get("status") or ""))
    if not taken:
        return StockTaken(None)
    paid = payload.get("date_paid_gmt")
    if paid:
        return StockTaken(
            utc_time(paid, f"WooCommerce order {payload.get('id')!r}.date_paid_gmt", naive_is_utc=True)
        )
    return StockTaken(order.updated_at)


def _lines_reduced(payload: Mapping[str, Any]) -> bool | None:
    """Whether any line says it took stock (``_reduced_stock``); ``None``: no line carries the key."""
    seen = False
    for line in payload.get("line_items") or []:
        if not isinstance(line, Mapping):
            continue
        for meta in line.get("meta_data") or []:
            if isinstance(meta, Mapping) and meta.get("key") == REDUCED_STOCK_KEY:
                seen = True
                # PHP truthiness, as wc_increase_stock_levels tests it: "", "0" and 0 took nothing.
                if meta.get("value") not in (None, "", "0", 0, False):
                    return True
    return False if seen else None


@dataclass(frozen=True)
class ChangedLevel:
    """A managed level of a product (``variation_id`` None) or variation changed since a time."""

    product_id: int
    variation_id: int | None
    quantity: int
    at: datetime


def changed_since_params(since: datetime) -> dict[str, Any]:
    """``modified_after`` in GMT, as the REST controllers read it: ``date_modified_gmt`` strictly
    after ``since`` (whole seconds; ``dates_are_gmt`` so the site's zone does not apply)."""
    return {
        "modified_after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "dates_are_gmt": "true",
        "orderby": "modified",
        "order": "asc",
        "per_page": 100,
    }


def _changed(document: Mapping[str, Any], parent: int | None) -> ChangedLevel | None:
    if not document.get("manage_stock") or document.get("stock_quantity") is None:
        return None
    stamp = document.get("date_modified_gmt")
    if not stamp:
        return None
    own = int(document["id"])
    if parent is None:
        return ChangedLevel(own, None, int(document["stock_quantity"]), gmt(stamp))
    return ChangedLevel(parent, own, int(document["stock_quantity"]), gmt(stamp))


def levels_changed_since(client: Any, since: datetime, parents: Sequence[int]) -> list[ChangedLevel]:
    """Products modified after ``since`` with a managed level, and the variations of ``parents``
    (variable products) modified after it: a variation's stock change does not touch its
    parent's ``date_modified``, so each parent's variations are asked for on their own."""
    params = changed_since_params(since)
    found = [c for p in client.iterate("products", params) if (c := _changed(p, None)) is not None]
    for parent in sorted(set(parents)):
        path = f"products/{parent}/variations"
        found += [c for v in client.iterate(path, params) if (c := _changed(v, parent)) is not None]
    return found


ItemRef = tuple[int | None, int]  # (parent product for a variation, else None; own id)


def read_levels(client: Any, items: Sequence[ItemRef]) -> dict[ItemRef, tuple[int, datetime]]:
    """The managed levels the store shows now, with ``date_modified_gmt``: ``products?include=``
    for products, ``products/<parent>/variations?include=`` for variations, 100 ids a call.
    Items without a managed level (or gone) are left out."""
    by_parent: dict[int | None, list[int]] = {}
    for parent, own in items:
        by_parent.setdefault(parent, []).append(own)
    out: dict[ItemRef, tuple[int, datetime]] = {}
    for parent, ids in by_parent.items():
        path = "products" if parent is None else f"products/{parent}/variations"
        for start in range(0, len(ids), 100):
            chunk = sorted(set(ids[start : start + 100]))
            rows = client.get(path, {"include": ",".join(str(i) for i in chunk), "per_page": 100})
            for row in rows or []:
                if row.get("stock_quantity") is not None and row.get("date_modified_gmt"):
                    out[(parent, int(row["id"]))] = (
                        int(row["stock_quantity"]),
                        gmt(row["date_modified_gmt"]),
                    )
    return out


def changed_listings(client: Any, since: datetime, listed: Sequence[Listed]) -> list[Changed]:
    """The levels of ``listed`` changed after ``since`` (products, and the variations of their parents)."""
    by_id: dict[tuple[int, int | None], Hashable] = {(x.product_id, x.variant_id): x.key for x in listed}
    parents = [x.product_id for x in listed if x.variant_id is not None]
    out: list[Changed] = []
    for changed in levels_changed_since(client, since, parents):
        key = by_id.get((changed.product_id, changed.variation_id))
        if key is not None:
            out.append(Changed(key, changed.quantity, changed.at))
    return out

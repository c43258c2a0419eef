"""A WooCommerce store's catalog for the stock ledger: products, and the variations of variable ones.

I/O (:func:`fetch_catalog`) is kept apart from the pure mapping of REST documents to
entries (:func:`entries_from_products`, :func:`entry_from_variation`).

Which documents become entries:
- a simple product (or any type with its own stock that is not listed below): the product;
- a variable product: each variation, with ``product_id`` = the parent and ``variant_id``
  = the variation; the parent itself too when it manages stock at product level (its
  variations then say ``manage_stock: "parent"`` and are untracked entries of their own);
- grouped and external products hold no stock: skipped.

``tracked`` is ``manage_stock is True``; the level is ``stock_quantity`` and its time
``date_modified_gmt`` (UTC; WooCommerce writes it without an offset). ``committed`` is what
the store's processing and on-hold orders took off that level (their lines' ``_reduced_stock``),
read before the products (:func:`fetch_held`).

Weight and dimensions: order lines carry none, so the catalog is where parcels get them.
Products and variations hold ``weight`` and ``dimensions`` (strings) in the store's units,
the settings ``woocommerce_weight_unit`` (kg, g, lbs, oz) and ``woocommerce_dimension_unit``
(m, cm, mm, in, yd), read once per import. A variation without its own value shows its
parent's (WooCommerce does this in the REST body; the parent is used again here in case
it does not). Grams are rounded up to the whole gram, centimetres up to 0.01 cm
(``core.catalog.to_grams``, ``to_centimetres``); an unknown unit leaves them unread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

import structlog

from connectors.readers.ids import id_number as exact_id
from connectors.readers.times import optional_utc_time as utc_time
from core.catalog import CatalogEntry, Dims, to_centimetres, to_grams, whole_quantity
from core.errors import Permanent

log = structlog.get_logger("waybill.woocommerce.catalog")

PER_PAGE = 100
NO_STOCK_TYPES = frozenset({"grouped", "external"})
WEIGHT_UNIT_SETTING = "settings/products/woocommerce_weight_unit"
DIMENSION_UNIT_SETTING = "settings/products/woocommerce_dimension_unit"
# The choices WooCommerce offers for the two settings, and their exact size in grams / centimetres.
GRAMS_PER_UNIT = {
    "kg": Decimal(1000),
    "g": Decimal(1),
    "lbs": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
}
CM_PER_UNIT = {
    "m": Decimal(100),
    "cm": Decimal(1),
    "mm": Decimal("0.1"),
    "in": Decimal("2.54"),
    "yd": Decimal("91.44"),
}


class RestClient(Protocol):
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...
    def iterate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...


@dataclass(frozen=True)
class Units:
    """The store's measuring units as factors to grams and centimetres (``None``: unknown unit)."""

    grams_per_unit: Decimal | None = GRAMS_PER_UNIT["kg"]
    cm_per_unit: Decimal | None = CM_PER_UNIT["cm"]

    @classmethod
    def named(cls, weight_unit: Any, dimension_unit: Any) -> Units:
        return cls(GRAMS_PER_UNIT.get(str(weight_unit)), CM_PER_UNIT.get(str(dimension_unit)))


@dataclass(frozen=True)
class WooCatalog:
    entries: list[CatalogEntry] = field(default_factory=list)
    units: Units = field(default_factory=Units)


def _tracked(document: dict[str, Any]) -> bool:
    return document.get("manage_stock") is True


def _level(document: dict[str, Any]) -> int | None:
    return whole_quantity(document.get("stock_quantity")) if _tracked(document) else None


def grams(document: dict[str, Any], units: Units, parent: dict[str, Any] | None = None) -> int | None:
    """The document's ``weight`` in grams (its parent's when it has none), ``None`` when unknown."""
    if units.grams_per_unit is None:
        return None
    found = to_grams(document.get("weight"), units.grams_per_unit)
    if found is None and parent is not None:
        found = to_grams(parent.get("weight"), units.grams_per_unit)
    return found


def _sides(document: dict[str, Any]) -> tuple[Any, Any, Any]:
    dims = document.get("dimensions")
    if not isinstance(dims, dict):
        return None, None, None
    return dims.get("length"), dims.get("width"), dims.get("height")


def dims_cm(document: dict[str, Any], units: Units, parent: dict[str, Any] | None = None) -> Dims | None:
    """The document's ``dimensions`` in cm (else its parent's), ``None`` when unknown."""
    if units.cm_per_unit is None:
        return None
    found = to_centimetres(_sides(document), units.cm_per_unit)
    if found is None and parent is not None:
        found = to_centimetres(_sides(parent), units.cm_per_unit)
    return found


def entry_from_product(product: dict[str, Any], units: Units | None = None) -> CatalogEntry:
    """A product's own entry (simple products; variable parents that manage stock)."""
    units = units or Units()
    return CatalogEntry(
        sku=product.get("sku"),
        product_id=exact_id(product["id"]),
        variant_id=None,
        title=str(product.get("name") or ""),
        tracked=_tracked(product),
        available=_level(product),
        level_at=utc_time(product.get("date_modified_gmt")),
        grams=grams(product, units),
        dims_cm=dims_cm(product, units),
    )


def variation_title(parent: dict[str, Any], variation: dict[str, Any]) -> str:
    """The variation's ``name`` when the store sends one, else ``Parent - option, option``."""
    if variation.get("name"):
        return str(variation["name"])
    options = [str(a.get("option")) for a in variation.get("attributes") or [] if a.get("option")]
    name = str(parent.get("name") or "")
    return f"{name} - {', '.join(options)}" if options else name


def entry_from_variation(
    parent: dict[str, Any], variation: dict[str, Any], units: Units | None = None
) -> CatalogEntry:
    units = units or Units()
    return CatalogEntry(
        sku=variation.get("sku"),
        product_id=exact_id(parent["id"]),
        variant_id=exact_id(variation["id"]),
        title=variation_title(parent, variation),
        tracked=_tracked(variation),
        available=_level(variation),
        level_at=utc_time(variation.get("date_modified_gmt")),
        grams=grams(variation, units, parent),
        dims_cm=dims_cm(variation, units, parent),
    )


def is_variable(product: dict[str, Any]) -> bool:
    return product.get("type") == "variable"


def entries_from_products(
    products: Iterable[dict[str, Any]], units: Units | None = None
) -> list[CatalogEntry]:
    """Entries for one page of ``products`` (variable products' variations are read separately)."""
    out: list[CatalogEntry] = []
    for product in products:
        kind = product.get("type")
        if kind in NO_STOCK_TYPES:
            continue
        if kind == "variable" and not _tracked(product):
            continue
        out.append(entry_from_product(product, units))
    return out


def entries_from_variations(
    parent: dict[str, Any], variations: Iterable[dict[str, Any]], units: Units | None = None
) -> list[CatalogEntry]:
    return [entry_from_variation(parent, variation, units) for variation in variations]


def _setting(client: RestClient, path: str) -> Any:
    """A setting's ``value``; ``None`` when the store refuses or lacks it (weights are then left unread)."""
    try:
        body = client.get(path)
    except Permanent as exc:
        log.warning("woocommerce.setting_unreadable", setting=path.rsplit("/", 1)[-1], error=str(exc)[:200])
        return None
    return body.get("value") if isinstance(body, dict) else None


def fetch_units(client: RestClient) -> Units:
    """The store's weight and dimension units (two reads of the settings API)."""
    return Units.named(_setting(client, WEIGHT_UNIT_SETTING), _setting(client, DIMENSION_UNIT_SETTING))


# Orders whose units WooCommerce took off its levels and that have not shipped: a completed
# order's units have left, a pending or cancelled one holds none (wc_maybe_increase_stock_levels).
OPEN_HOLDING = "processing,on-hold"


@dataclass
class Held:
    """Units open orders hold off the levels: per variation, and per product for lines of a
    product without variation (or whose variation takes its stock from the parent)."""

    by_variation: dict[int, int] = field(default_factory=dict)
    by_product: dict[int, dict[int, int]] = field(default_factory=dict)  # product -> {variation or 0: units}

    def add(self, product_id: int, variation_id: int, units: int) -> None:
        if variation_id:
            self.by_variation[variation_id] = self.by_variation.get(variation_id, 0) + units
        lines = self.by_product.setdefault(product_id, {})
        lines[variation_id] = lines.get(variation_id, 0) + units

    def of(self, entry: CatalogEntry, own_stock: set[int]) -> int:
        """What the entry's level has out: a variation's own, or a product's lines whose
        variation (if any) keeps no stock of its own (``own_stock``: tracked variation ids)."""
        if entry.variant_id is not None:
            return self.by_variation.get(entry.variant_id, 0)
        lines = self.by_product.get(entry.product_id, {})
        return sum(units for variation, units in lines.items() if variation not in own_stock)


def reduced_units(line: dict[str, Any], status_holds: bool) -> int:
    """The units WooCommerce took for one order line: its ``_reduced_stock`` (PHP truthiness,
    as ``wc_increase_stock_levels`` reads it), else, for an order whose lines carry no such
    meta at all, its quantity when the status holds stock."""
    for meta in line.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") == "_reduced_stock":
            value = meta.get("value")
            if value in (None, "", "0", 0, False):
                return 0
            return whole_quantity(value) or 0
    return int(whole_quantity(line.get("quantity")) or 0) if status_holds else 0


def fetch_held(client: RestClient) -> Held:
    """Units the store's open orders (processing, on hold) hold off its levels (100 orders a page)."""
    held = Held()
    params = {"status": OPEN_HOLDING, "per_page": PER_PAGE, "orderby": "id", "order": "asc"}
    for order in client.iterate("orders", params):
        lines = [line for line in order.get("line_items") or [] if isinstance(line, dict)]
        carries = any(
            isinstance(m, dict) and m.get("key") == "_reduced_stock"
            for line in lines
            for m in line.get("meta_data") or []
        )
        for line in lines:
            units = reduced_units(line, status_holds=not carries)
            if units > 0 and line.get("product_id"):
                variation = line.get("variation_id")
                held.add(exact_id(line["product_id"]), exact_id(variation) if variation else 0, units)
    return held


def with_held(entries: list[CatalogEntry], held: Held) -> list[CatalogEntry]:
    """The entries with what open orders hold off each tracked level (``committed``)."""
    own_stock = {e.variant_id for e in entries if e.variant_id is not None and e.tracked}
    return [
        replace(entry, committed=held.of(entry, own_stock))
        if entry.tracked and entry.available is not None
        else entry
        for entry in entries
    ]


def fetch_catalog(client: RestClient) -> WooCatalog:
    """The store's units, every product (100 a page) and every variation of the variable ones
    (100 a page), each level with what open orders hold off it.

    The open orders are read first: an order paid between the two reads is then out of the
    level but not counted as held, so it is reserved again when it arrives (a unit held back
    until it ships), never counted as held while still in the level (a unit sold twice).
    """
    held = fetch_held(client)
    units = fetch_units(client)
    entries: list[CatalogEntry] = []
    variable: list[dict[str, Any]] = []
    for product in client.iterate("products", {"per_page": PER_PAGE, "orderby": "id", "order": "asc"}):
        entries += entries_from_products([product], units)
        if is_variable(product):
            variable.append(product)
    for parent in variable:
        path = f"products/{exact_id(parent['id'])}/variations"
        variations = client.iterate(path, {"per_page": PER_PAGE, "orderby": "id", "order": "asc"})
        entries += entries_from_variations(parent, variations, units)
    return WooCatalog(entries=with_held(entries, held), units=units)

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
``date_modified_gmt`` (UTC; WooCommerce writes it without an offset).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.catalog import CatalogEntry, exact_id, utc_time, whole_quantity

PER_PAGE = 100
NO_STOCK_TYPES = frozenset({"grouped", "external"})


class RestClient(Protocol):
    def iterate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...


@dataclass(frozen=True)
class WooCatalog:
    entries: list[CatalogEntry] = field(default_factory=list)


def _tracked(document: dict[str, Any]) -> bool:
    return document.get("manage_stock") is True


def _level(document: dict[str, Any]) -> int | None:
    return whole_quantity(document.get("stock_quantity")) if _tracked(document) else None


def entry_from_product(product: dict[str, Any]) -> CatalogEntry:
    """A product's own entry (simple products; variable parents that manage stock)."""
    return CatalogEntry(
        sku=product.get("sku"),
        product_id=exact_id(product["id"]),
        variant_id=None,
        title=str(product.get("name") or ""),
        tracked=_tracked(product),
        available=_level(product),
        level_at=utc_time(product.get("date_modified_gmt")),
    )


def variation_title(parent: dict[str, Any], variation: dict[str, Any]) -> str:
    """The variation's ``name`` when the store sends one, else ``Parent - option, option``."""
    if variation.get("name"):
        return str(variation["name"])
    options = [str(a.get("option")) for a in variation.get("attributes") or [] if a.get("option")]
    name = str(parent.get("name") or "")
    return f"{name} - {', '.join(options)}" if options else name


def entry_from_variation(parent: dict[str, Any], variation: dict[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        sku=variation.get("sku"),
        product_id=exact_id(parent["id"]),
        variant_id=exact_id(variation["id"]),
        title=variation_title(parent, variation),
        tracked=_tracked(variation),
        available=_level(variation),
        level_at=utc_time(variation.get("date_modified_gmt")),
    )


def is_variable(product: dict[str, Any]) -> bool:
    return product.get("type") == "variable"


def entries_from_products(products: Iterable[dict[str, Any]]) -> list[CatalogEntry]:
    """Entries for one page of ``products`` (variable products' variations are read separately)."""
    out: list[CatalogEntry] = []
    for product in products:
        kind = product.get("type")
        if kind in NO_STOCK_TYPES:
            continue
        if kind == "variable" and not _tracked(product):
            continue
        out.append(entry_from_product(product))
    return out


def entries_from_variations(
    parent: dict[str, Any], variations: Iterable[dict[str, Any]]
) -> list[CatalogEntry]:
    return [entry_from_variation(parent, variation) for variation in variations]


def fetch_catalog(client: RestClient) -> WooCatalog:
    """Every product (100 a page) and every variation of the variable ones (100 a page)."""
    entries: list[CatalogEntry] = []
    variable: list[dict[str, Any]] = []
    for product in client.iterate("products", {"per_page": PER_PAGE, "orderby": "id", "order": "asc"}):
        entries += entries_from_products([product])
        if is_variable(product):
            variable.append(product)
    for parent in variable:
        path = f"products/{exact_id(parent['id'])}/variations"
        variations = client.iterate(path, {"per_page": PER_PAGE, "orderby": "id", "order": "asc"})
        entries += entries_from_variations(parent, variations)
    return WooCatalog(entries=entries)

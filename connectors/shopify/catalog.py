"""A Shopify shop's catalog for the stock ledger: variants with their levels at the location we publish to.

I/O (:func:`fetch_catalog`) is kept apart from the mapping of pages to entries
(:func:`choose_location`, :func:`entries_from_page`), which are pure and tested on
payload shapes alone. Ids come from ``legacyResourceId`` (a decimal string) or the
``gid://`` id, parsed straight to int: never through float.

A variant's weight is its inventory item's ``measurement.weight`` (``value`` a Float in
``unit`` GRAMS, KILOGRAMS, OUNCES or POUNDS), kept as whole grams rounded up
(``core.catalog.to_grams``). Shopify keeps no dimensions for variants.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.readers.ids import id_number as exact_id
from connectors.readers.times import optional_utc_time as utc_time
from connectors.shopify.orders import GRAMS_PER_UNIT
from core.catalog import CatalogEntry, to_grams, whole_quantity
from core.errors import Permanent

# Shopify refuses a query whose requested cost exceeds 1,000 points, and a connection's
# `first` above 250. The catalog document (catalog_variants.graphql) requests
# 2 + first x (7 + 3 x levelsFirst): variant 1, product 1, inventory item 1, its measurement 1
# and weight 1, levels connection 2, and per level 1 + location 1 + quantities 1.
MAX_QUERY_COST = 1000
MAX_PAGE = 250
LOCATIONS_PAGE = 100
DEFAULT_VARIANT_TITLE = "Default Title"


class GraphQLClient(Protocol):
    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ShopifyLocation:
    id: int
    name: str
    active: bool
    fulfills_online_orders: bool


@dataclass(frozen=True)
class ShopifyCatalog:
    """Every variant of the shop as an entry, with the location whose levels they carry."""

    location: ShopifyLocation
    locations: list[ShopifyLocation]
    entries: list[CatalogEntry] = field(default_factory=list)


def variants_page_size(levels_first: int, max_cost: int = MAX_QUERY_COST) -> int:
    """The largest page of ``CatalogVariants`` whose requested cost stays within ``max_cost``."""
    per_variant = 7 + 3 * max(1, levels_first)
    return max(1, min(MAX_PAGE, (max_cost - 2) // per_variant))


def locations_from_page(page: dict[str, Any]) -> list[ShopifyLocation]:
    """``ShopAndLocations`` data -> its locations."""
    nodes = ((page.get("locations") or {}).get("nodes")) or []
    return [
        ShopifyLocation(
            id=exact_id(node.get("legacyResourceId") or node["id"]),
            name=str(node.get("name") or ""),
            active=bool(node.get("isActive")),
            fulfills_online_orders=bool(node.get("fulfillsOnlineOrders")),
        )
        for node in nodes
    ]


def choose_location(locations: Sequence[ShopifyLocation], override: Any = None) -> ShopifyLocation:
    """The location we publish to: ``override`` (the store's ``inventory_location_id``) if set,
    else the active location fulfilling online orders with the lowest id.

    Raises ``Permanent`` when the override names no active location of the shop, or when
    the shop has no active location that fulfils online orders: both need the merchant.
    """
    if override not in (None, ""):
        wanted = exact_id(override)
        for location in locations:
            if location.id == wanted and location.active:
                return location
        raise Permanent(f"inventory_location_id {wanted} is not an active location of the shop")
    eligible = [loc for loc in locations if loc.active and loc.fulfills_online_orders]
    if not eligible:
        raise Permanent("the shop has no active location that fulfils online orders")
    return min(eligible, key=lambda loc: loc.id)


def variant_title(product_title: str, variant_title: str | None) -> str:
    """``Product - Variant``, or the product's title alone for its default variant."""
    if not variant_title or variant_title == DEFAULT_VARIANT_TITLE:
        return product_title
    return f"{product_title} - {variant_title}"


def variant_grams(item: dict[str, Any]) -> int | None:
    """An inventory item's ``measurement.weight`` in grams (``None``: absent, zero, unknown unit)."""
    weight = (item.get("measurement") or {}).get("weight") or {}
    factor = GRAMS_PER_UNIT.get(str(weight.get("unit")))
    return to_grams(weight.get("value"), factor) if factor is not None else None


def entry_from_variant(node: dict[str, Any], location_id: int) -> CatalogEntry:
    """One ``productVariants`` node -> an entry carrying the level at ``location_id``."""
    product = node.get("product") or {}
    item = node.get("inventoryItem") or {}
    available: int | None = None
    committed: int | None = None
    level_at = None
    for level in (item.get("inventoryLevels") or {}).get("nodes") or []:
        where = (level.get("location") or {}).get("legacyResourceId") or (level.get("location") or {}).get(
            "id"
        )
        if where is None or exact_id(where) != location_id:
            continue
        for quantity in level.get("quantities") or []:
            if quantity.get("name") == "available":
                available = whole_quantity(quantity.get("quantity"))
            elif quantity.get("name") == "committed":
                committed = whole_quantity(quantity.get("quantity"))
        level_at = utc_time(level.get("updatedAt"))
    item_ref = item.get("legacyResourceId") or item.get("id")
    return CatalogEntry(
        sku=node.get("sku"),
        product_id=exact_id(product.get("legacyResourceId") or product["id"]),
        variant_id=exact_id(node.get("legacyResourceId") or node["id"]),
        title=variant_title(str(product.get("title") or ""), node.get("title")),
        tracked=bool(item.get("tracked")),
        available=available,
        level_at=level_at,
        committed=committed if available is not None else None,
        inventory_item_id=exact_id(item_ref) if item_ref is not None else None,
        location_id=location_id,
        grams=variant_grams(item),
    )


def entries_from_page(page: dict[str, Any], location_id: int) -> list[CatalogEntry]:
    """``CatalogVariants`` data -> entries (one per variant)."""
    nodes = (page.get("productVariants") or {}).get("nodes") or []
    return [entry_from_variant(node, location_id) for node in nodes]


def _pages(client: GraphQLClient, document: str, field_name: str, variables: dict[str, Any]) -> Iterator[Any]:
    after: str | None = None
    while True:
        data = client.execute(document, {**variables, "after": after})
        yield data
        info = (data.get(field_name) or {}).get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return
        after = info.get("endCursor")


def fetch_locations(client: GraphQLClient) -> list[ShopifyLocation]:
    out: list[ShopifyLocation] = []
    for data in _pages(client, "shop_and_locations", "locations", {"first": LOCATIONS_PAGE}):
        out += locations_from_page(data)
    return out


def fetch_catalog(client: GraphQLClient, location_override: Any = None) -> ShopifyCatalog:
    """Read the shop's locations, choose ours, then every variant with its level there."""
    locations = fetch_locations(client)
    location = choose_location(locations, location_override)
    # inventoryLevels lists active locations only: one slot each is enough to include ours.
    levels_first = min(MAX_PAGE, max(1, sum(1 for loc in locations if loc.active)))
    variables = {"first": variants_page_size(levels_first), "levelsFirst": levels_first}
    entries: list[CatalogEntry] = []
    for data in _pages(client, "catalog_variants", "productVariants", variables):
        entries += entries_from_page(data, location.id)
    return ShopifyCatalog(location=location, locations=locations, entries=entries)

"""The pure halves of the catalog connectors: platform pages -> entries, location choice, page size."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from graphql import FieldNode, OperationDefinitionNode, SelectionSetNode, parse

from connectors.errors import NotFound
from connectors.shopify.catalog import (
    MAX_QUERY_COST,
    ShopifyLocation,
    choose_location,
    entries_from_page,
    locations_from_page,
    variants_page_size,
)
from connectors.shopify.client import load_document
from connectors.woocommerce.catalog import (
    DIMENSION_UNIT_SETTING,
    OPEN_HOLDING,
    WEIGHT_UNIT_SETTING,
    Units,
    entries_from_products,
    entries_from_variations,
    fetch_catalog,
    fetch_held,
    with_held,
)
from core.catalog import CatalogEntry
from core.errors import Permanent
from sandbox.shopify.cost import CostModel
from sandbox.shopify.documents import trimmed_schema

BIG = 2**63 - 7  # an id a float would round


def level(location: int, available: int, at: str = "2026-03-01T10:00:00Z") -> dict[str, Any]:
    return {
        "updatedAt": at,
        "location": {"id": f"gid://shopify/Location/{location}"},
        "quantities": [{"name": "available", "quantity": available}],
    }


def variant(
    variant_id: int,
    sku: str | None,
    levels: list[dict[str, Any]],
    title: str = "Default Title",
    tracked: bool = True,
    product_id: int = 10,
    weight: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/ProductVariant/{variant_id}",
        "legacyResourceId": str(variant_id),
        "sku": sku,
        "title": title,
        "product": {
            "id": f"gid://shopify/Product/{product_id}",
            "legacyResourceId": str(product_id),
            "title": "Tee",
        },
        "inventoryItem": {
            "id": f"gid://shopify/InventoryItem/{variant_id + 1}",
            "legacyResourceId": str(variant_id + 1),
            "tracked": tracked,
            "measurement": {"weight": weight or {"value": 0.0, "unit": "KILOGRAMS"}},
            "inventoryLevels": {"nodes": levels},
        },
    }


def page(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"productVariants": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": list(nodes)}}


def shape(selection_set: SelectionSetNode | None) -> dict[str, Any] | None:
    if selection_set is None:
        return None
    return {
        s.name.value: shape(s.selection_set) for s in selection_set.selections if isinstance(s, FieldNode)
    }


def value_shape(value: Any) -> dict[str, Any] | None:
    if isinstance(value, list):
        return value_shape(value[0]) if value and isinstance(value[0], dict) else None
    if isinstance(value, dict):
        return {key: value_shape(item) for key, item in value.items()}
    return None


def test_the_test_page_has_the_documents_shape() -> None:
    (operation,) = parse(load_document("catalog_variants")).definitions
    assert isinstance(operation, OperationDefinitionNode)
    assert value_shape(page(variant(1, "A", [level(5, 1)]))) == shape(operation.selection_set)


def test_shopify_variants_become_entries_with_the_level_at_our_location() -> None:
    nodes = [
        variant(
            BIG, "TEE-M", [level(5, 3, "2026-03-01T10:00:00Z"), level(7, 9)], title="M", product_id=BIG - 1
        ),
        variant(20, "  ", [level(5, 0)]),
        variant(30, "MUG", [level(7, 4)]),  # not stocked at location 5
        variant(40, "GIFT", [], tracked=False),
    ]
    tee, blank, mug, gift = entries_from_page(page(*nodes), location_id=5)
    assert tee == CatalogEntry(
        sku="TEE-M",
        product_id=BIG - 1,
        variant_id=BIG,
        title="Tee - M",
        tracked=True,
        available=3,
        level_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
        inventory_item_id=BIG + 1,
        location_id=5,
    )
    assert blank.title == "Tee" and blank.clean_sku == "" and blank.available == 0
    assert (mug.available, mug.level_at, mug.tracked) == (None, None, True)
    assert (gift.available, gift.tracked, gift.inventory_item_id) == (None, False, 41)


def test_a_shopify_level_says_what_open_orders_committed_out_of_it() -> None:
    held = level(5, 3)
    held["quantities"] = [{"name": "available", "quantity": 3}, {"name": "committed", "quantity": 2}]
    plain = level(5, 4)  # a page without the committed quantity: not known
    elsewhere = level(7, 4)
    elsewhere["quantities"].append({"name": "committed", "quantity": 6})
    tee, mug, cup = entries_from_page(
        page(variant(1, "TEE", [held]), variant(3, "MUG", [plain]), variant(5, "CUP", [elsewhere])),
        location_id=5,
    )
    assert (tee.available, tee.committed) == (3, 2)
    assert (mug.available, mug.committed) == (4, None)
    assert (cup.available, cup.committed) == (None, None)  # not stocked at our location


def test_the_catalog_document_asks_for_the_committed_quantity() -> None:
    assert 'quantities(names: ["available", "committed"])' in load_document("catalog_variants")


@pytest.mark.parametrize(
    ("weight", "grams"),
    [
        ({"value": 2.5, "unit": "POUNDS"}, 1134),  # 1133.980925 g, rounded up
        ({"value": 0.3, "unit": "KILOGRAMS"}, 300),  # the Float's repr, not 0.29999...
        ({"value": 7.0, "unit": "OUNCES"}, 199),  # 198.446661875 g
        ({"value": 250.0, "unit": "GRAMS"}, 250),
        ({"value": 0.0, "unit": "KILOGRAMS"}, None),  # not weighed
        ({"value": 1.0, "unit": "STONES"}, None),  # a unit we do not know is not guessed
    ],
)
def test_a_shopify_variant_weighs_what_its_inventory_item_measures(
    weight: dict[str, Any], grams: int | None
) -> None:
    (entry,) = entries_from_page(page(variant(1, "A", [level(5, 1)], weight=weight)), location_id=5)
    assert entry.grams == grams and entry.dims_cm is None


def test_negative_available_is_kept() -> None:
    (oversold,) = entries_from_page(page(variant(1, "A", [level(5, -2)])), location_id=5)
    assert oversold.available == -2


def loc(id_: int, active: bool = True, online: bool = True) -> ShopifyLocation:
    return ShopifyLocation(id_, f"L{id_}", active, online)


@pytest.mark.parametrize(
    ("locations", "override", "chosen"),
    [
        ([loc(9), loc(3), loc(5)], None, 3),
        ([loc(3, online=False), loc(5)], None, 5),
        ([loc(3, active=False), loc(5)], None, 5),
        ([loc(3), loc(5, online=False)], "5", 5),  # the store's setting wins, online or not
        ([loc(3), loc(5)], 5, 5),
        ([loc(3), loc(BIG)], f"gid://shopify/Location/{BIG}", BIG),
    ],
)
def test_choose_location(locations: list[ShopifyLocation], override: Any, chosen: int) -> None:
    assert choose_location(locations, override).id == chosen


@pytest.mark.parametrize(
    ("locations", "override"),
    [
        ([], None),
        ([loc(3, online=False)], None),
        ([loc(3, active=False)], None),
        ([loc(3)], 4),
        ([loc(3, False)], 3),
    ],
)
def test_choose_location_refuses(locations: list[ShopifyLocation], override: Any) -> None:
    with pytest.raises(Permanent):
        choose_location(locations, override)


def test_locations_from_shop_and_locations() -> None:
    data = {
        "shop": {"id": "gid://shopify/Shop/1"},
        "locations": {
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "nodes": [
                {
                    "id": f"gid://shopify/Location/{BIG}",
                    "legacyResourceId": str(BIG),
                    "name": "Depot",
                    "isActive": True,
                    "fulfillsOnlineOrders": False,
                }
            ],
        },
    }
    assert locations_from_page(data) == [ShopifyLocation(BIG, "Depot", True, False)]


def requested_cost(first: int, levels_first: int) -> int:
    (operation,) = parse(load_document("catalog_variants")).definitions
    assert isinstance(operation, OperationDefinitionNode)
    model = CostModel({}, {"first": first, "levelsFirst": levels_first})
    root = trimmed_schema().query_type
    assert root is not None
    return model.requested(operation, root)


@pytest.mark.parametrize("levels_first", [1, 2, 5, 20, 100, 250])
def test_page_size_is_the_largest_the_cost_limit_allows(levels_first: int) -> None:
    size = variants_page_size(levels_first)
    assert 1 <= size <= 250
    assert requested_cost(size, levels_first) <= MAX_QUERY_COST
    if size < 250 and requested_cost(1, levels_first) * 2 <= MAX_QUERY_COST:
        assert requested_cost(size + 1, levels_first) > MAX_QUERY_COST


def test_one_location_pages_99_variants() -> None:
    # 2 + 99 x (7 + 3) = 992: the weight costs two points a variant (measurement, weight).
    assert variants_page_size(1) == 99


# -- WooCommerce


def product(id_: int, sku: str, kind: str = "simple", manage: Any = True, qty: Any = 5) -> dict[str, Any]:
    return {
        "id": id_,
        "name": f"P{id_}",
        "type": kind,
        "sku": sku,
        "manage_stock": manage,
        "stock_quantity": qty if manage is True else None,
        "date_modified_gmt": "2026-03-01T10:00:00",
    }


def test_woo_products_become_entries() -> None:
    products = [
        product(1, "A"),
        product(2, "", qty=None, manage=False),
        product(3, "", kind="variable", manage=False),  # a container: its variations are the entries
        product(4, "V", kind="variable", manage=True, qty=7),  # stock kept on the parent
        product(5, "G", kind="grouped", manage=False),
        product(6, "E", kind="external", manage=False),
    ]
    simple, no_stock, parent = entries_from_products(products)
    assert simple == CatalogEntry(
        sku="A",
        product_id=1,
        variant_id=None,
        title="P1",
        tracked=True,
        available=5,
        level_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
    )
    assert (no_stock.product_id, no_stock.tracked, no_stock.available) == (2, False, None)
    assert (parent.product_id, parent.variant_id, parent.available) == (4, None, 7)


def test_woo_variations_carry_their_parent() -> None:
    parent = product(BIG - 1, "", kind="variable", manage=False)
    variations = [
        {
            "id": BIG,
            "sku": "V-BLK",
            "manage_stock": True,
            "stock_quantity": 3,
            "date_modified_gmt": "2026-03-01T10:00:00",
            "attributes": [{"name": "Color", "option": "Black"}, {"name": "Size", "option": "M"}],
        },
        {"id": 9, "sku": "V-INH", "manage_stock": "parent", "stock_quantity": 3, "attributes": []},
        {"id": 8, "sku": "V-NAMED", "name": "Own name", "manage_stock": False, "stock_quantity": None},
    ]
    black, inherits, named = entries_from_variations(parent, variations)
    assert (black.product_id, black.variant_id, black.title) == (BIG - 1, BIG, f"P{BIG - 1} - Black, M")
    assert (black.tracked, black.available, black.entry_id) == (True, 3, BIG)
    # Stock managed on the parent: the variation itself has no level of its own to publish.
    assert (inherits.tracked, inherits.available) == (False, None)
    assert named.title == "Own name"


LBS_IN = Units.named("lbs", "in")


def test_woo_weights_and_sizes_are_converted_from_the_stores_units() -> None:
    parent = {
        **product(1, "", kind="variable", manage=False),
        "weight": "4",
        "dimensions": {"length": "12", "width": "9", "height": "3"},
    }
    own = {"id": 2, "sku": "OWN", "manage_stock": True, "stock_quantity": 1, "weight": "5.5"}
    own["dimensions"] = {"length": "1", "width": "2", "height": "0.5"}
    bare = {"id": 3, "sku": "BARE", "manage_stock": True, "stock_quantity": 1, "weight": ""}
    bare["dimensions"] = {"length": "", "width": "", "height": ""}
    mine, inherited = entries_from_variations(parent, [own, bare], LBS_IN)
    assert (mine.grams, mine.dims_cm) == (2495, (Decimal("2.54"), Decimal("5.08"), Decimal("1.27")))
    # No values of its own: the parent's (4 lb = 1814.36948 g; 12 x 9 x 3 in).
    assert (inherited.grams, inherited.dims_cm) == (
        1815,
        (Decimal("30.48"), Decimal("22.86"), Decimal("7.62")),
    )


@pytest.mark.parametrize(
    ("units", "weight", "sides", "grams", "dims"),
    [
        (("kg", "cm"), "0.5", ("10", "5", "2.5"), 500, ("10.00", "5.00", "2.50")),
        (("g", "mm"), "350", ("250", "120", "95"), 350, ("25.00", "12.00", "9.50")),
        (("oz", "m"), "7", ("0.3", "0.2", "0.1"), 199, ("30.00", "20.00", "10.00")),
        (("lbs", "yd"), "1", ("1", "0.5", "0.25"), 454, ("91.44", "45.72", "22.86")),
        (("g", "mm"), "0.4", ("0.333", "1", "1"), 1, ("0.04", "0.10", "0.10")),  # rounded up
        (("kg", "cm"), "0", ("10", "", "2"), None, None),  # not weighed, a side missing
        (("kg", "cm"), "heavy", ("10", "-1", "2"), None, None),  # unreadable, negative
        (("stone", "furlong"), "1", ("1", "1", "1"), None, None),  # units we do not know
    ],
)
def test_woo_units_convert_with_the_documented_rounding(
    units: tuple[str, str], weight: str, sides: tuple[str, str, str], grams: int | None, dims: Any
) -> None:
    dimensions = dict(zip(("length", "width", "height"), sides, strict=True))
    doc = {**product(1, "A"), "weight": weight, "dimensions": dimensions}
    (entry,) = entries_from_products([doc], Units.named(*units))
    assert entry.grams == grams
    assert entry.dims_cm == (tuple(Decimal(d) for d in dims) if dims else None)


class SettingsClient:
    """Answers the two unit settings (or refuses them) and an empty catalog."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.asked: list[str] = []

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self.asked.append(path)
        value = self.values[path.rsplit("/", 1)[-1]]
        if isinstance(value, Exception):
            raise value
        return {"id": path.rsplit("/", 1)[-1], "value": value}

    def iterate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        return iter([])


def test_the_units_are_read_from_the_settings_api() -> None:
    client = SettingsClient({"woocommerce_weight_unit": "oz", "woocommerce_dimension_unit": "mm"})
    assert fetch_catalog(client).units == Units(Decimal("28.349523125"), Decimal("0.1"))
    assert client.asked == [WEIGHT_UNIT_SETTING, DIMENSION_UNIT_SETTING]
    assert WEIGHT_UNIT_SETTING == "settings/products/woocommerce_weight_unit"


def test_a_refused_setting_leaves_that_measure_unread() -> None:
    refused = NotFound("rest_setting_setting_invalid: Invalid setting.")
    client = SettingsClient({"woocommerce_weight_unit": refused, "woocommerce_dimension_unit": "cm"})
    assert fetch_catalog(client).units == Units(None, Decimal(1))


def reduced(units: Any) -> dict[str, Any]:
    return {"id": 1, "key": "_reduced_stock", "value": units}


def line(product_id: int, quantity: int, variation_id: int = 0, *meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "variation_id": variation_id,
        "quantity": quantity,
        "meta_data": list(meta),
    }


class OrdersClient(SettingsClient):
    """The unit settings, an empty catalog and the open orders given."""

    def __init__(self, open_orders: list[dict[str, Any]]) -> None:
        super().__init__({"woocommerce_weight_unit": "kg", "woocommerce_dimension_unit": "cm"})
        self.open_orders = open_orders
        self.listed: list[tuple[str, dict[str, Any] | None]] = []

    def iterate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        self.listed.append((path, params))
        return iter(self.open_orders if path == "orders" else [])


def test_woo_open_orders_hold_what_their_lines_took_off_each_level() -> None:
    orders = [
        {"status": "processing", "line_items": [line(1, 2, 0, reduced("2")), line(4, 1, 41, reduced(1))]},
        # A line that took nothing ("0"), and one restocked in part (its meta went down to 1).
        {"status": "on-hold", "line_items": [line(1, 5, 0, reduced("0")), line(4, 3, 42, reduced("1"))]},
        # A store whose lines carry no such meta: the status says the order holds its units.
        {"status": "processing", "line_items": [line(1, 3), line(9, 1, 91)]},
    ]
    client = OrdersClient(orders)
    held = fetch_held(client)
    assert client.listed == [
        ("orders", {"status": OPEN_HOLDING, "per_page": 100, "orderby": "id", "order": "asc"})
    ]
    assert OPEN_HOLDING == "processing,on-hold"  # completed orders' units have left the shelf
    at = datetime(2026, 3, 1, 10, tzinfo=UTC)
    simple = CatalogEntry("A", 1, None, "P1", True, 4, at)
    own = CatalogEntry("V-41", 4, 41, "P4 - a", True, 7, at)  # a variation with its own stock
    inherits = CatalogEntry("V-42", 4, 42, "P4 - b", False)  # takes its stock from the parent
    parent = CatalogEntry("P", 4, None, "P4", True, 9, at)
    untracked = CatalogEntry("U", 9, 91, "P9 - u", False)
    entries = with_held([simple, own, inherits, parent, untracked], held)
    assert [e.committed for e in entries] == [5, 1, None, 1, None]


def test_the_open_orders_are_read_before_the_levels() -> None:
    client = OrdersClient([])
    assert fetch_catalog(client).entries == []
    assert [path for path, _ in client.listed] == ["orders", "products"]

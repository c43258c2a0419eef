"""Catalog import end to end: a Shopify shop and a WooCommerce store of one merchant.

The Shopify shop has a SKU on two variants and a variant without SKU; the WooCommerce
store has a variable product, a product without SKU and one that keeps no stock. After
importing Shopify first, then WooCommerce: links carry the platforms' ids, the reports
name the duplicate and the unmapped, and the ledger holds the first store's levels.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from core.catalog import CatalogEntry, map_skus
from db.models import CatalogLink, Platform, StockDirty, StockItem, StockMovement, Store, TimelineEntry
from sandbox.woocommerce import WooCommerceSimulator
from sync import catalog
from sync.jobs import JOBS, job
from tests.conftest import drain
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, install_woocommerce, sign_in, stores


@pytest.fixture(autouse=True)
def push_stock() -> Iterator[list[int] | None]:
    """The stores a ``push_stock`` job ran for, while sync/stock_push.py (written separately) is absent.

    When that module exists its real job runs and this is ``None``.
    """
    pushed: list[int] = []
    try:
        importlib.import_module("sync.stock_push")
    except ModuleNotFoundError:
        if "push_stock" not in JOBS:

            def stand_in(rt: Any, store_id: int) -> None:
                pushed.append(store_id)

            job("push_stock", queue="inventory")(stand_in)
            yield pushed
            del JOBS["push_stock"]
            return
    yield None


@pytest.fixture
def seeded(shopify: ShopifySandbox, woo: WooCommerceSimulator) -> dict[str, Any]:
    """Both catalogs (beside the fixtures' TEE-BLK-M and MUG-12OZ at 50); returns the platforms' ids."""
    shopify.set_inventory(SHOP, "TEE-BLK-M", 30)  # Shopify differs from WooCommerce (50): Shopify wins
    socks = shopify.add_product(
        SHOP,
        "Socks",
        [
            {"sku": "SOCK-S", "title": "S", "price": "5.00", "available": 7},
            {"sku": "", "title": "M", "price": "5.00", "available": 2},
        ],
    )
    dup_a = shopify.add_product(SHOP, "Dup A", [{"sku": "DUP-1", "price": "1.00", "available": 1}])
    dup_b = shopify.add_product(SHOP, "Dup B", [{"sku": "DUP-1", "price": "1.00", "available": 2}])
    hoodie = woo.add_product("Hoodie", type="variable")
    hood_s = woo.add_variation(hoodie, "HOOD-S", stock=4, attributes=[{"name": "Size", "option": "S"}])
    hood_m = woo.add_variation(hoodie, "HOOD-M", stock=6, attributes=[{"name": "Size", "option": "M"}])
    gift = woo.add_product("Gift card")
    poster = woo.add_product("Poster", sku="POSTER")  # no managed stock
    woo_dup = woo.add_product("Dup", sku="DUP-1", stock=9)
    return {
        "socks": socks,
        "dup_variants": [dup_a.variant_ids[0], dup_b.variant_ids[0]],
        "hoodie": hoodie,
        "hood_s": hood_s,
        "hood_m": hood_m,
        "gift": gift,
        "poster": poster,
        "woo_dup": woo_dup,
    }


@pytest.fixture
def channels(
    rt: Any, seeded: dict[str, Any], woo_url: str, browser: requests.Session, public_url: str
) -> tuple[Store, Store]:
    sign_in(browser, public_url, rt, "North Wind Trading")
    assert install_shopify(browser, public_url).status_code == 200
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    shop_store, woo_store = stores(rt)
    assert shop_store.platform is Platform.shopify and woo_store.platform is Platform.woocommerce
    assert shop_store.account_id == woo_store.account_id
    return shop_store, woo_store


def links(rt: Any, store_id: int) -> dict[str, CatalogLink]:
    with rt.session() as s:
        rows = list(s.scalars(select(CatalogLink).where(CatalogLink.store_id == store_id)))
        s.expunge_all()
    return {row.sku: row for row in rows}


def levels(rt: Any) -> dict[str, int]:
    with rt.session() as s:
        return {i.sku: i.on_hand for i in s.scalars(select(StockItem))}


def settings(rt: Any, store_id: int) -> dict[str, Any]:
    with rt.session() as s:
        store = s.get(Store, store_id)
        assert store is not None
        return dict(store.settings or {})


def dirty(rt: Any, store_id: int) -> set[str]:
    with rt.session() as s:
        return set(s.scalars(select(StockDirty.sku).where(StockDirty.store_id == store_id)))


def test_import_links_skus_reports_duplicates_and_seeds_the_ledger(
    rt: Any,
    shopify: ShopifySandbox,
    channels: tuple[Store, Store],
    seeded: dict[str, Any],
    push_stock: list[int] | None,
) -> None:
    shop_store, woo_store = channels
    shop = shopify.shops[SHOP]
    main = min(shop.locations)

    first = catalog.import_catalog(rt, store_id=shop_store.id)
    second = catalog.import_catalog(rt, store_id=woo_store.id)

    # Shopify: every variant with a SKU of its own is linked, with the shop's exact ids.
    shop_links = links(rt, shop_store.id)
    assert set(shop_links) == {"TEE-BLK-M", "MUG-12OZ", "SOCK-S"}
    for sku, link in shop_links.items():
        variant = shop.variant_by_sku(sku)
        assert variant is not None
        assert (link.product_id, link.variant_id) == (variant.product_id, variant.id)
        assert (link.inventory_item_id, link.location_id) == (variant.inventory_item_id, main)
        assert link.tracked and link.observed_qty is None
    assert (shop_links["TEE-BLK-M"].channel_qty, shop_links["SOCK-S"].channel_qty) == (30, 7)
    assert shop_links["SOCK-S"].title == "Socks - S"
    assert shop_links["SOCK-S"].channel_qty_at is not None and shop_links["SOCK-S"].channel_qty_at.tzinfo

    # ... and the report names the duplicated SKU with both variants, and the variant without SKU.
    report = settings(rt, shop_store.id)["catalog"]
    assert report["duplicates"] == {"DUP-1": seeded["dup_variants"]}
    no_sku = seeded["socks"].variant_ids[1]
    assert report["unmapped"] == [
        {"product_id": seeded["socks"].id, "variant_id": no_sku, "title": "Socks - M"}
    ]
    assert (report["mapped"], report["untracked"]) == (3, 0)
    assert first["duplicates"] == report["duplicates"] and first["dirty"] == 0

    # WooCommerce: variations link to their parent; the untracked product is linked but has no level.
    woo_links = links(rt, woo_store.id)
    assert set(woo_links) == {"TEE-BLK-M", "MUG-12OZ", "HOOD-S", "HOOD-M", "POSTER", "DUP-1"}
    hood = woo_links["HOOD-S"]
    assert (hood.product_id, hood.variant_id, hood.channel_qty, hood.title) == (
        seeded["hoodie"],
        seeded["hood_s"],
        4,
        "Hoodie - S",
    )
    assert hood.inventory_item_id is None and hood.location_id is None
    assert (woo_links["DUP-1"].product_id, woo_links["DUP-1"].variant_id) == (seeded["woo_dup"], None)
    assert (woo_links["POSTER"].tracked, woo_links["POSTER"].channel_qty) == (False, None)
    woo_report = settings(rt, woo_store.id)["catalog"]
    assert woo_report["untracked"] == 1 and woo_report["duplicates"] == {}
    assert [e["product_id"] for e in woo_report["unmapped"]] == [seeded["gift"]]
    assert second["mapped"] == 6

    # The ledger: Shopify's levels where Shopify has the SKU, WooCommerce's for the rest.
    assert levels(rt) == {"TEE-BLK-M": 30, "MUG-12OZ": 50, "SOCK-S": 7, "HOOD-S": 4, "HOOD-M": 6, "DUP-1": 9}
    with rt.session() as s:
        moves = {m.key: (m.reason, m.store_id) for m in s.scalars(select(StockMovement))}
        timeline = list(
            s.scalars(select(TimelineEntry).where(TimelineEntry.subject == f"store:{shop_store.id}"))
        )
    assert moves["import:TEE-BLK-M"] == ("initial_import", shop_store.id)
    assert moves["import:DUP-1"] == ("initial_import", woo_store.id)
    (entry,) = [t for t in timeline if t.action == "catalog.imported"]
    assert entry.data["duplicates"] == {"DUP-1": seeded["dup_variants"]} and entry.data["unmapped"] == 1

    # WooCommerce shows 50 tees where the ledger has 30: only that link waits for a push.
    assert dirty(rt, woo_store.id) == {"TEE-BLK-M"} and dirty(rt, shop_store.id) == set()
    assert second["dirty"] == 1
    drain(rt)
    if push_stock is not None:
        assert push_stock == [woo_store.id]


def test_reimport_follows_the_channel_and_never_moves_stock_twice(
    rt: Any, shopify: ShopifySandbox, channels: tuple[Store, Store], seeded: dict[str, Any]
) -> None:
    shop_store, _ = channels
    catalog.import_catalog(rt, store_id=shop_store.id)
    # SOCK-S becomes duplicated, the tee's product is renamed, the merchant names the duplicates apart.
    extra = shopify.add_product(SHOP, "More socks", [{"sku": "SOCK-S", "price": "5.00", "available": 1}])
    tee = shopify.shops[SHOP].variant_by_sku("TEE-BLK-M")
    assert tee is not None
    shopify.update_product(SHOP, tee.product_id, title="Black tee (organic)")
    dup_b = shopify.shops[SHOP].variants[seeded["dup_variants"][1]]
    dup_b.sku = "DUP-2"
    shopify.set_inventory(SHOP, "MUG-12OZ", 44)

    again = catalog.import_catalog(rt, store_id=shop_store.id)

    shop_links = links(rt, shop_store.id)
    assert set(shop_links) == {"TEE-BLK-M", "MUG-12OZ", "DUP-1", "DUP-2"}
    assert again["removed"] == ["SOCK-S"]
    assert again["duplicates"] == {"SOCK-S": [seeded["socks"].variant_ids[0], extra.variant_ids[0]]}
    assert shop_links["TEE-BLK-M"].title == "Black tee (organic)"
    # The merchant's change is neither learned silently nor pushed over: it is observed, as
    # the level report that never came would have been.
    mug = shop_links["MUG-12OZ"]
    assert (mug.channel_qty, mug.observed_qty) == (50, 44)
    assert again["observed"] == ["MUG-12OZ"]
    # Ledger items made once: the mug keeps its first level (50) until the observation settles.
    assert levels(rt) == {"TEE-BLK-M": 30, "MUG-12OZ": 50, "SOCK-S": 7, "DUP-1": 1, "DUP-2": 2}
    assert sorted(again["seeded"]) == ["DUP-1", "DUP-2"]
    assert dirty(rt, shop_store.id) == set()
    with rt.session() as s:
        assert len(list(s.scalars(select(StockMovement)))) == 5
    # (Settling it is tests/e2e/test_inventory.py's and test_outage_stock.py's subject.)


def test_a_pending_observation_keeps_its_channel_level(rt: Any, channels: tuple[Store, Store]) -> None:
    _, woo_store = channels
    catalog.import_catalog(rt, store_id=woo_store.id)
    with rt.session() as s:
        link = s.scalar(
            select(CatalogLink).where(CatalogLink.store_id == woo_store.id, CatalogLink.sku == "HOOD-S")
        )
        assert link is not None
        link.channel_qty, link.observed_qty = 1, 3
    catalog.import_catalog(rt, store_id=woo_store.id)
    hood = links(rt, woo_store.id)["HOOD-S"]
    assert (hood.channel_qty, hood.observed_qty) == (1, 3)
    assert "HOOD-S" not in dirty(rt, woo_store.id)  # settling it will mark it


def test_the_store_setting_chooses_the_shopify_location(
    rt: Any, shopify: ShopifySandbox, channels: tuple[Store, Store]
) -> None:
    shop_store, _ = channels
    outlet = shopify.add_location(SHOP, "Outlet")
    shopify.set_inventory(SHOP, "SOCK-S", 3, location_id=outlet.id)
    with rt.session() as s:
        row = s.get(Store, shop_store.id)
        assert row is not None
        row.settings = {**(row.settings or {}), "inventory_location_id": str(outlet.id)}
    catalog.import_catalog(rt, store_id=shop_store.id)
    sock = links(rt, shop_store.id)["SOCK-S"]
    assert (sock.location_id, sock.channel_qty) == (outlet.id, 3)


def test_catalog_all_and_the_cli(
    rt: Any, app: Any, channels: tuple[Store, Store], seeded: dict[str, Any]
) -> None:
    shop_store, woo_store = channels
    assert catalog.catalog_all(rt) == 2
    drain(rt)
    assert "catalog" in settings(rt, shop_store.id) and "catalog" in settings(rt, woo_store.id)

    runner = app.test_cli_runner()
    as_json = runner.invoke(args=["sync", "catalog", "--store", str(shop_store.id), "--json"])
    assert as_json.exit_code == 0, as_json.output
    (result,) = json.loads(as_json.output)
    assert result["duplicates"] == {"DUP-1": seeded["dup_variants"]}

    text = runner.invoke(args=["sync", "catalog"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert (
        f"store {shop_store.id} (shopify): 3 mapped, 1 without SKU, 1 duplicated SKU(s), 0 untracked" in lines
    )
    assert (
        f"store {woo_store.id} (woocommerce): 6 mapped, 1 without SKU, 0 duplicated SKU(s), 1 untracked"
        in lines
    )
    dup = ", ".join(str(i) for i in seeded["dup_variants"])
    assert f"  duplicated SKU DUP-1: {dup}" in lines


def test_a_tracked_sku_without_a_level_is_linked_reported_and_not_pushed(
    rt: Any, channels: tuple[Store, Store]
) -> None:
    shop_store, _ = channels
    # Shopify tracks the item but it is not stocked at the location we publish to.
    unstocked = CatalogEntry("BAG", 1, 2, "Bag", tracked=True, inventory_item_id=3, location_id=4)
    with rt.session() as s:
        s.add(StockItem(account_id=shop_store.account_id, sku="BAG", on_hand=5))
    with rt.session() as s:
        summary = catalog.apply_catalog(rt, s, shop_store.id, map_skus([unstocked]), location_id=4)
    assert summary["no_level"] == ["BAG"] and summary["dirty"] == 0
    bag = links(rt, shop_store.id)["BAG"]
    assert (bag.tracked, bag.channel_qty, bag.inventory_item_id) == (True, None, 3)
    assert dirty(rt, shop_store.id) == set()
    assert settings(rt, shop_store.id)["catalog"]["no_level"] == ["BAG"]


def test_an_unknown_location_setting_fails_that_store_only(
    rt: Any, app: Any, channels: tuple[Store, Store]
) -> None:
    shop_store, woo_store = channels
    with rt.session() as s:
        row = s.get(Store, shop_store.id)
        assert row is not None
        row.settings = {**(row.settings or {}), "inventory_location_id": 404}
    result = app.test_cli_runner().invoke(args=["sync", "catalog"])
    assert result.exit_code == 1, result.output  # the other store is imported; the failure is told
    assert result.stderr.splitlines() == [
        f"Error: store {shop_store.id} (shopify {shop_store.domain}): refused "
        "(inventory_location_id 404 is not an active location of the shop)"
    ]
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"store {woo_store.id} (woocommerce): 6 mapped") for line in lines)
    assert links(rt, shop_store.id) == {}

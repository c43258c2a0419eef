"""Orders in flight when a store is connected: placed on the channel before its first catalog
import, their webhooks (or the reconciliation poll) arriving after it.

The import seeds the ledger from the channel's level, which already left those orders' units
out. Each order must still count once: on hand keeps its units until it ships, the order
reserves them, and the level published to the channel is the one it already shows.
Orders travel through the real receivers, inbox, queue and database; only the storefronts
are simulated.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import select

from db.models import Platform, StockItem, StockMovement, Store
from sandbox.harness import FakeClock, Faults
from sandbox.woocommerce import WooCommerceSimulator
from sync import catalog, stock_push, stock_settle  # noqa: F401  (registers their jobs)
from sync.reconcile import reconcile_store
from tests.conftest import drain
from tests.e2e.conftest import (
    SHOP,
    ShopifySandbox,
    install_shopify,
    install_woocommerce,
    sign_in,
    stock_under_test,
    stores,
)

SKU = "IN-FLIGHT"


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    return stock_under_test(config)


def ledger(rt: Any) -> tuple[int, int]:
    """The SKU's (on hand, reserved)."""
    with rt.session() as s:
        item = s.scalar(select(StockItem).where(StockItem.sku == SKU))
        assert item is not None
        return item.on_hand, item.reserved


def reasons(rt: Any) -> list[str]:
    with rt.session() as s:
        return list(s.scalars(select(StockMovement.reason).order_by(StockMovement.id)))


def shopify_level(shopify: ShopifySandbox) -> tuple[int, int]:
    """The shop's (available, on hand) for the SKU at its location."""
    shop = shopify.shops[SHOP]
    variant = shop.variant_by_sku(SKU)
    assert variant is not None
    level = shop.levels[(variant.inventory_item_id, min(shop.locations))]
    return level.available, level.on_hand


def woo_level(woo: WooCommerceSimulator) -> int:
    (product,) = [p for p in woo.store.products.values() if p.get("sku") == SKU]
    return int(product["stock_quantity"])


def connect_shopify(rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str) -> Store:
    """The shop connected: its catalog import is queued, not run yet."""
    shopify.add_product(SHOP, "In flight", [{"sku": SKU, "price": "30.00", "available": 10, "grams": 100}])
    sign_in(browser, public_url, rt, "North Wind Trading")
    assert install_shopify(browser, public_url).status_code == 200
    (store,) = stores(rt)
    assert store.platform is Platform.shopify
    return store


def connect_woo(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> Store:
    """The WooCommerce store connected: its catalog import is queued, not run yet."""
    woo.add_product("In flight", sku=SKU, price="30.00", stock=10)
    sign_in(browser, public_url, rt, "North Wind Trading")
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    (store,) = stores(rt)
    assert store.platform is Platform.woocommerce
    return store


@pytest.mark.parametrize("arrives", ["webhook", "poll"])
def test_a_shopify_order_placed_before_the_first_import_counts_once(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str, arrives: str
) -> None:
    store = connect_shopify(rt, shopify, browser, public_url)
    order = shopify.place_order(SHOP, [(SKU, 2)], email="early@example.com")
    assert shopify_level(shopify) == (8, 10)  # committed: still on hand at the shop
    drain(rt)  # the import reads the level that already left the order's units out
    assert ledger(rt) == (8, 0)
    if arrives == "poll":  # its webhooks are lost: the reconciliation finds the order
        shopify.faults = Faults(webhook_drop_rate=1.0)
        shopify.deliver_due()
        shopify.faults = Faults()
        reconcile_store(rt, store.id)
    else:
        shopify.deliver_due()  # then the order's webhooks arrive
    drain(rt)
    assert ledger(rt) == (10, 2)  # on hand as the shop counts it, the order's units held once
    shopify.deliver_due()
    drain(rt)
    assert shopify_level(shopify) == (8, 10)  # the channel keeps the level it showed
    assert "channel_edit" not in reasons(rt)

    shopify.fulfill_order(SHOP, order.id)  # the units leave: out of on hand and reserved once
    for _ in range(3):
        shopify.deliver_due()
        drain(rt)
    assert ledger(rt) == (8, 0)
    assert shopify_level(shopify) == (8, 8)


@pytest.mark.parametrize("later_s", [0, 1], ids=["same_second", "next_second"])
def test_a_shopify_order_placed_after_the_import_reserves_from_its_level(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str, later_s: int
) -> None:
    connect_shopify(rt, shopify, browser, public_url)
    drain(rt)
    assert ledger(rt) == (10, 0)
    # In the second of the level the import read, the shop's committed units (none) tell that
    # this sale was not out of it yet.
    shopify.fake_clock.advance(later_s)
    shopify.place_order(SHOP, [(SKU, 2)], email="late@example.com")
    for _ in range(3):
        shopify.deliver_due()
        drain(rt)
    assert ledger(rt) == (10, 2)
    assert shopify_level(shopify) == (8, 10)
    assert "channel_edit" not in reasons(rt)


def test_a_paid_woocommerce_order_placed_before_the_first_import_counts_once(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    connect_woo(rt, woo, woo_url, browser, public_url)
    woo.place_order([(SKU, 2)])  # processing: WooCommerce takes the units at once
    assert woo_level(woo) == 8
    drain(rt)  # the import reads 8
    assert ledger(rt) == (8, 0)
    woo.deliver_webhooks()
    drain(rt)
    assert ledger(rt) == (10, 2)
    woo.deliver_webhooks()
    drain(rt)
    assert woo_level(woo) == 8
    assert "channel_edit" not in reasons(rt)


def test_a_paid_woocommerce_order_placed_after_the_import_reserves_from_its_level(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    woo.store.clock = FakeClock(start=float(int(woo.store.clock.now())))  # stopped: one second
    connect_woo(rt, woo, woo_url, browser, public_url)
    drain(rt)
    assert ledger(rt) == (10, 0)
    woo.place_order([(SKU, 2)])  # in the second of the level read: no open order held units then
    for _ in range(3):
        woo.deliver_webhooks()
        drain(rt)
    assert ledger(rt) == (10, 2)
    assert woo_level(woo) == 8
    assert "channel_edit" not in reasons(rt)


def test_a_pending_woocommerce_order_at_the_first_import_is_reserved_once_when_paid(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    connect_woo(rt, woo, woo_url, browser, public_url)
    clock = FakeClock(start=float(int(woo.store.clock.now())))
    woo.store.clock = clock
    order_id = woo.place_order([(SKU, 2)], status="pending")  # nothing taken yet: the level keeps it
    drain(rt)
    assert ledger(rt) == (10, 0)
    woo.deliver_webhooks()
    drain(rt)
    assert ledger(rt) == (10, 2)  # reserved from the level the import read
    woo.deliver_webhooks()
    drain(rt)
    assert woo_level(woo) == 8  # the ledger pushed what is left for sale
    clock.advance(2)
    assert woo.pay_order(order_id)  # WooCommerce takes the units now, from the level just pushed
    for _ in range(3):
        woo.deliver_webhooks()
        drain(rt)
    assert ledger(rt) == (10, 2)
    assert woo_level(woo) == 8  # its own sale taken back in: what the ledger publishes

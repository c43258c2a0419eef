"""A merchant's stock edit made while Waybill heard nothing survives the restart.

Issue 15, bug 2, as seen on a real store: during an outage (webhooks lost, Waybill
down) the merchant edits a level on one channel and both channels sell. At start the
scheduler fires every periodic job at once; the audit must not push the ledger's old
level over the edit. Reconciliation recovers the orders and the level change (as a
product/inventory webhook would have delivered it), so every channel and the ledger end
at the merchant's edit minus the sales. Everything but the storefronts is real: HTTP
receivers, inbox, queue, database, scheduler.
"""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import select

from db import stock
from db.models import CatalogLink, StockItem, Store
from sandbox.harness import Faults
from sandbox.woocommerce import WooCommerceSimulator
from settings import Schedule
from sync import stock_push, stock_settle
from sync.schedule import Scheduler
from tests.conftest import drain
from tests.e2e import test_inventory
from tests.e2e.conftest import SHOP, ShopifySandbox
from tests.e2e.test_inventory import LAST, flush, ledger, lose_webhooks, movements, shopify_level, woo_level

# The stock tests' fixtures: both storefronts of one merchant, settling at once.
config = test_inventory.config
channels = test_inventory.channels


def restart(rt: Any, shopify: ShopifySandbox, woo: WooCommerceSimulator) -> None:
    """Waybill comes back: webhooks arrive again and the scheduler's first tick fires
    every periodic job of the shipped config.yaml at once, as it does at start."""
    shopify.faults, woo.faults = Faults(), Faults()
    with open("config.yaml", encoding="utf-8") as fh:
        schedules = yaml.safe_load(fh)["schedules"]
    rt.settings.schedules.update({name: Schedule.model_validate(s) for name, s in schedules.items()})
    fired = Scheduler(rt).tick()
    assert {"reconcile_all", "inventory_audit_all"} <= set(fired)
    for _ in range(3):  # the jobs, the settles they schedule, the pushes those cause
        drain(rt)
        flush(shopify, woo, rt)


def test_a_woocommerce_edit_made_during_an_outage_survives_the_restart(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    _, woo_store = channels
    assert ledger(rt, LAST) == (10, 0)
    lose_webhooks(shopify, woo)
    (product,) = [pid for pid, p in woo.store.products.items() if p.get("sku") == LAST]
    woo.edit_product(product, stock_quantity=30)  # the merchant's edit in WP admin
    woo.place_order([(LAST, 2)])
    shopify.place_order(SHOP, [(LAST, 1)], email="outage@example.com")
    flush(shopify, woo, rt)  # nothing arrives
    assert (woo_level(woo, LAST), shopify_level(shopify, LAST)) == (28, 9)

    restart(rt, shopify, woo)

    assert ledger(rt, LAST) == (30, 3)  # the edit on hand, the three sold units reserved
    assert (woo_level(woo, LAST), shopify_level(shopify, LAST)) == (27, 27)
    (edit,) = movements(rt, "channel_edit")
    assert (edit.on_hand_delta, edit.store_id) == (20, woo_store.id)


def test_a_shopify_edit_made_during_an_outage_survives_the_restart(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    shop_store, _ = channels
    lose_webhooks(shopify, woo)
    shopify.set_inventory(SHOP, LAST, 4)  # the merchant's edit in the Shopify admin
    shopify.place_order(SHOP, [(LAST, 1)], email="outage@example.com")
    woo.place_order([(LAST, 2)])
    flush(shopify, woo, rt)
    assert (woo_level(woo, LAST), shopify_level(shopify, LAST)) == (8, 3)

    restart(rt, shopify, woo)

    assert ledger(rt, LAST) == (4, 3)
    assert (woo_level(woo, LAST), shopify_level(shopify, LAST)) == (1, 1)
    (edit,) = movements(rt, "channel_edit")
    assert (edit.on_hand_delta, edit.store_id) == (-6, shop_store.id)


def test_a_woocommerce_push_does_not_write_over_a_level_changed_behind_our_back(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    """WooCommerce has no compare-and-set: the push reads the levels first and leaves a
    changed one to the settle step, as Shopify's refused compare-and-set does."""
    _, woo_store = channels
    lose_webhooks(shopify, woo)
    (mug,) = [pid for pid, p in woo.store.products.items() if p.get("sku") == "MUG-12OZ"]
    woo.edit_product(mug, stock_quantity=7)  # unheard of
    with rt.session() as s:  # two damaged units written off: the ledger publishes 48
        item = s.scalar(select(StockItem).where(StockItem.sku == "MUG-12OZ"))
        assert item is not None
        stock.move(
            s,
            item,
            account_id=item.account_id,
            key="test:damaged",
            reason="manual_adjustment",
            source="operator:cli",
            on_hand=-2,
        )
        stock.mark_dirty(s, item.account_id, ["MUG-12OZ"])

    pushed = stock_push.push_stock(rt, store_id=woo_store.id)

    assert (pushed["written"], pushed["observed"]) == (0, 1)
    assert woo_level(woo, "MUG-12OZ") == 7
    with rt.session() as s:
        link = s.scalar(
            select(CatalogLink).where(CatalogLink.store_id == woo_store.id, CatalogLink.sku == "MUG-12OZ")
        )
        assert link is not None and (link.observed_qty, link.channel_qty) == (7, 50)

    assert stock_settle.settle_stock(rt, store_id=woo_store.id) == 1  # a merchant edit: 50 -> 7
    flush(shopify, woo, rt)
    assert ledger(rt, "MUG-12OZ") == (5, 0)
    assert (woo_level(woo, "MUG-12OZ"), shopify_level(shopify, "MUG-12OZ")) == (5, 5)

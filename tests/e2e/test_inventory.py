"""The stock ledger end to end: one Shopify shop and one WooCommerce store of one merchant.

Orders, merchant edits and audits travel through the real receivers, inbox, queue and
database; only the storefronts are simulated. Levels are read back from the simulators.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, update

from core.errors import Retryable
from db import stock
from db.models import (
    CatalogLink,
    InboxEvent,
    InboxState,
    Order,
    Platform,
    StockDirty,
    StockItem,
    StockMovement,
    Store,
    TimelineEntry,
)
from sandbox.harness import FakeClock, Faults
from sandbox.woocommerce import WooCommerceSimulator
from sync import catalog, reconcile, stock_audit, stock_push, stock_settle  # noqa: F401  (registers their jobs)
from sync.intake import process_inbox_event
from tests.conftest import drain, drain_until_quiet
from tests.e2e.conftest import (
    SHOP,
    ShopifySandbox,
    install_shopify,
    install_woocommerce,
    sign_in,
    stock_under_test,
    stores,
)

LAST = "LAST-UNITS"
ORDER_TOPICS = ("orders/create", "order.created", "order.updated")


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    return stock_under_test(config)


@pytest.fixture
def channels(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    browser: requests.Session,
    public_url: str,
) -> tuple[Store, Store]:
    """Both storefronts of one merchant, installed (Shopify first: its catalog seeds the ledger)."""
    shopify.add_product(SHOP, "Last units", [{"sku": LAST, "price": "30.00", "available": 10, "grams": 100}])
    woo.add_product("Last units", sku=LAST, price="30.00", stock=10)
    sign_in(browser, public_url, rt, "North Wind Trading")
    assert install_shopify(browser, public_url).status_code == 200
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    shop_store, woo_store = stores(rt)
    assert shop_store.platform is Platform.shopify and woo_store.platform is Platform.woocommerce
    flush(shopify, woo, rt)  # installing enqueued both catalog imports: the queue runs them
    return shop_store, woo_store


def flush(shopify: ShopifySandbox, woo: WooCommerceSimulator, rt: Any) -> None:
    """Deliver what both storefronts queued and run every job it caused, until quiet."""
    drain_until_quiet(rt, shopify.deliver_due, woo.deliver_webhooks)


def shopify_level(shopify: ShopifySandbox, sku: str) -> int:
    shop = shopify.shops[SHOP]
    variant = shop.variant_by_sku(sku)
    assert variant is not None
    return int(
        sum(level.available for (item, _), level in shop.levels.items() if item == variant.inventory_item_id)
    )


def woo_level(woo: WooCommerceSimulator, sku: str) -> int:
    (product,) = [p for p in woo.store.products.values() if p.get("sku") == sku]
    return int(product["stock_quantity"])


def ledger(rt: Any, sku: str) -> tuple[int, int]:
    with rt.session() as s:
        item = s.scalar(select(StockItem).where(StockItem.sku == sku))
        assert item is not None
        return item.on_hand, item.reserved


def movements(rt: Any, reason: str) -> list[StockMovement]:
    with rt.session() as s:
        rows = list(
            s.scalars(select(StockMovement).where(StockMovement.reason == reason).order_by(StockMovement.id))
        )
        s.expunge_all()
        return rows


def pending_order_events(rt: Any) -> list[int]:
    with rt.session() as s:
        return list(
            s.scalars(
                select(InboxEvent.id).where(
                    InboxEvent.state == InboxState.pending, InboxEvent.topic.in_(ORDER_TOPICS)
                )
            )
        )


def process(rt: Any, event_id: int) -> None:
    """One worker's attempts at an event (a concurrent insert of the same order asks for a retry)."""
    for _ in range(5):
        try:
            process_inbox_event(rt, event_id=event_id)
            return
        except Retryable:
            continue
    raise AssertionError(f"event {event_id} kept failing")


def test_the_first_channel_seeds_the_ledger_and_every_channel_is_linked(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    assert ledger(rt, LAST) == (10, 0)
    assert ledger(rt, "TEE-BLK-M") == (50, 0)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (10, 10)


def test_fifty_parallel_orders_for_the_last_ten_units_ship_at_most_ten(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    for n in range(25):
        shopify.place_order(SHOP, [(LAST, 1)], email=f"s{n}@example.com")
        woo.place_order(
            [(LAST, 1)], billing={"first_name": "W", "last_name": str(n), "email": f"w{n}@example.com"}
        )
    shopify.deliver_due()
    woo.deliver_webhooks()
    events = pending_order_events(rt)
    assert len(events) >= 50
    with ThreadPoolExecutor(max_workers=8) as pool:  # the orders race for the stock, as workers would
        list(pool.map(lambda event_id: process(rt, event_id), events))
    flush(shopify, woo, rt)

    with rt.session() as s:
        orders = list(s.scalars(select(Order)))
        approved = [o for o in orders if o.hold_reason is None]
        held = [o for o in orders if o.hold_reason is not None]
    assert len(orders) == 50
    assert len(approved) == 10
    assert len(held) == 40 and all(o.stage == "on_hold" and "oversold" in (o.hold_reason or "") for o in held)
    assert ledger(rt, LAST) == (10, 50)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (0, 0)
    assert movements(rt, "channel_edit") == []  # the channels' own sales were not read as merchant edits


def test_a_merchant_edit_reaches_the_other_channel_and_is_not_echoed(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    writes_before = len(shopify.shops[SHOP].inventory_writes)
    shopify.set_inventory(SHOP, "TEE-BLK-M", 42)
    flush(shopify, woo, rt)
    assert woo_level(woo, "TEE-BLK-M") == 42
    assert shopify_level(shopify, "TEE-BLK-M") == 42
    assert ledger(rt, "TEE-BLK-M") == (42, 0)
    assert len(shopify.shops[SHOP].inventory_writes) == writes_before  # nothing written back to Shopify
    (edit,) = movements(rt, "channel_edit")
    assert (edit.on_hand_delta, edit.on_hand_after) == (-8, 42)

    (mug,) = [pid for pid, p in woo.store.products.items() if p.get("sku") == "MUG-12OZ"]
    woo.edit_product(mug, stock_quantity=7)
    flush(shopify, woo, rt)
    assert shopify_level(shopify, "MUG-12OZ") == 7
    assert woo_level(woo, "MUG-12OZ") == 7
    assert ledger(rt, "MUG-12OZ") == (7, 0)
    assert len(movements(rt, "channel_edit")) == 2  # one per edit: the echoes changed nothing
    with rt.session() as s:
        assert (
            s.scalar(select(func.count(StockMovement.id)).where(StockMovement.reason == "channel_edit")) == 2
        )


@pytest.mark.parametrize("level_report", ["delivered", "lost"])
def test_a_level_read_back_in_the_second_of_a_sale_not_in_yet_counts_that_sale_once(
    rt: Any,
    channels: tuple[Store, Store],
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    level_report: str,
) -> None:
    """Orders on both storefronts at once (as right after a store is connected): the other
    channel's order makes Waybill push Shopify the level Shopify already shows after its own
    sale, whose order has not arrived. The compare-and-set is stale (Shopify sold one), the
    level read back equals the published one and carries the sale's second: it already
    counts that sale, which must not be taken off it again when its order arrives, nor read
    as the merchant raising stock by the settle step."""
    shop_store, _ = channels
    shopify.fake_clock.advance(2)  # the sale in a later second than the level the import read
    shop = shopify.shops[SHOP]
    unheard = {k: v for k, v in shop.subscriptions.items() if v.topic == "INVENTORY_LEVELS_UPDATE"}
    if level_report == "lost":
        for key in unheard:
            del shop.subscriptions[key]
    sale = shopify.place_order(SHOP, [(LAST, 1)], email="s@example.com")
    shop.subscriptions.update(unheard)
    woo.place_order([(LAST, 1)], billing={"email": "w@example.com"})
    woo.deliver_webhooks()
    drain(rt)  # the WooCommerce order only: 9 published, pushed to Shopify, which shows 9 already
    with rt.session() as s:
        link = s.scalar(
            select(CatalogLink).where(CatalogLink.store_id == shop_store.id, CatalogLink.sku == LAST)
        )
        assert link is not None
        # The level read back after the stale compare-and-set, in the second of the sale.
        sold_at = datetime.fromtimestamp(int(sale.created_at), UTC)
        assert (link.channel_qty, link.channel_qty_at) == (9, sold_at)
    assert ledger(rt, LAST) == (10, 1)

    flush(shopify, woo, rt)  # Shopify's order (and its level report, when delivered)
    # What the push observed is settled by the settle_overdue schedule's sweep: as it would.
    stock_settle.schedule_settle(rt, shop_store.id, 0)
    flush(shopify, woo, rt)

    assert movements(rt, "channel_edit") == []  # Shopify's sale was not read as an edit
    assert ledger(rt, LAST) == (10, 2)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (8, 8)
    assert len(movements(rt, "channel_sale")) == 2


@pytest.mark.parametrize(
    ("unheard", "sold", "edited"), [("woocommerce", 1, None), ("shopify", 2, None), ("woocommerce", 1, 7)]
)
def test_a_level_lowered_by_a_sale_whose_order_is_not_in_is_not_read_as_a_merchant_edit(
    rt: Any,
    channels: tuple[Store, Store],
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    unheard: str,
    sold: int,
    edited: int | None,
) -> None:
    """A channel sells while its webhooks are lost (R7's blackout; under load, an order
    webhook overtaken by everything else). The other channel's order makes Waybill push this
    one, which shows a lower level than expected: WooCommerce's read before the write, or
    Shopify's stale compare-and-set. No inbox event says an order is on its way, yet the
    difference is those sales, not the merchant lowering stock: taken as an edit, they would
    be counted twice once their orders are recovered (channels below the truth). A merchant
    edit made meanwhile (``edited``, unheard too) is still taken in whole."""
    shop_store, woo_store = channels
    shopify.fake_clock.advance(2)  # the sales in later seconds than the levels the imports read
    woo.store.clock = FakeClock(start=float(int(time.time())) + 2)
    if unheard == "woocommerce":
        woo.faults = Faults(webhook_drop_rate=1.0)
        if edited is not None:
            (product,) = [pid for pid, p in woo.store.products.items() if p.get("sku") == LAST]
            woo.edit_product(product, stock_quantity=edited)
        woo.place_order([(LAST, sold)], billing={"email": "lost@example.com"})
        woo.deliver_webhooks()  # dropped
        woo.faults = Faults()
        shopify.place_order(SHOP, [(LAST, 1)], email="heard@example.com")
    else:
        shopify.faults = Faults(webhook_drop_rate=1.0)
        shopify.place_order(SHOP, [(LAST, sold)], email="lost@example.com")
        shopify.deliver_due()  # dropped
        shopify.faults = Faults()
        woo.place_order([(LAST, 1)], billing={"email": "heard@example.com"})
    flush(shopify, woo, rt)  # the heard order, its push to the other channel and the settle
    stock_settle.schedule_settle(rt, shop_store.id if unheard == "shopify" else woo_store.id, 0)
    flush(shopify, woo, rt)
    reconcile.reconcile_store(rt, store_id=shop_store.id if unheard == "shopify" else woo_store.id)
    flush(shopify, woo, rt)  # what the reconciliation recovered, if anything was left

    edits = [(m.store_id, m.on_hand_delta) for m in movements(rt, "channel_edit")]
    levels = (shopify_level(shopify, LAST), woo_level(woo, LAST))
    on_hand = 10 if edited is None else edited
    expected_edits = [] if edited is None else [(woo_store.id, edited - 10)]
    left = on_hand - sold - 1
    assert (edits, ledger(rt, LAST), levels) == (expected_edits, (on_hand, sold + 1), (left, left))


def test_a_level_whose_sales_are_still_queued_waits_for_them_without_polling_the_store(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    """Under load a level report is looked at while the order behind it is a webhook still
    queued (received after the report, before the level is read). The settle waits for the
    store's events and reads the level again; it does not poll the store's orders, which
    fed each such order a second time and, on a busy shop, paged through its throttle."""
    _, woo_store = channels
    woo.store.clock = FakeClock(start=float(int(time.time())) + 2)
    with rt.session() as s:
        link = s.scalar(
            select(CatalogLink).where(CatalogLink.store_id == woo_store.id, CatalogLink.sku == LAST)
        )
        assert link is not None and link.channel_qty == 10
        assert stock_settle.observe(link, 8, datetime.now(UTC))  # the sale's level report, first
    woo.place_order([(LAST, 2)], billing={"email": "queued@example.com"})
    polls = len(woo.request_log)
    assert woo.deliver_webhooks()  # its order webhook: in the inbox, not processed yet

    assert stock_settle.settle_stock(rt, woo_store.id) == 0  # waits: reads the level, polls nothing
    looked = [r for r in woo.request_log[polls:] if r["method"] == "GET"]
    assert looked and not [r for r in looked if r["path"].endswith("/orders")], looked
    flush(shopify, woo, rt)  # the order, then the settle's next look: the level matches

    with rt.session() as s:
        fed = s.scalar(select(func.count()).where(InboxEvent.topic == "reconcile/order"))
    assert not [r for r in woo.request_log[polls:] if r["path"].endswith("/orders")]
    assert (fed, movements(rt, "channel_edit"), ledger(rt, LAST)) == (0, [], (10, 2))
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (8, 8)


def test_a_level_whose_store_stays_behind_is_decided_by_the_order_poll(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    """The wait for queued events is bounded (``stock_settle.SETTLE_QUEUE_WAIT``): under a
    steady stream of events the store's queue is never empty up to the moment a level is
    read, and a settle that only waited would run out of ``SETTLE_WAIT_MAX`` and read the sale
    behind the level as a merchant edit. Past the bound, the store's orders are polled: the
    sale whose webhook was lost is fed and counted once, and no edit is taken. The next look
    does not poll again while the version fed is still queued."""
    _, woo_store = channels
    woo.store.clock = FakeClock(start=float(int(time.time())) + 2)
    woo.faults = Faults(webhook_drop_rate=1.0)
    woo.place_order([(LAST, 2)], billing={"email": "lost@example.com"})
    woo.deliver_webhooks()  # dropped
    woo.faults = Faults()
    reported = datetime.now(UTC) - stock_settle.SETTLE_QUEUE_WAIT - timedelta(seconds=1)
    with rt.session() as s:
        link = s.scalar(
            select(CatalogLink).where(CatalogLink.store_id == woo_store.id, CatalogLink.sku == LAST)
        )
        assert link is not None and link.channel_qty == 10
        assert stock_settle.observe(link, 8, datetime.now(UTC), now=reported)
        behind = InboxEvent(  # an event of the store its workers have not reached yet
            platform=Platform.woocommerce,
            store_id=woo_store.id,
            account_id=woo_store.account_id,
            topic="product.updated",
            dedupe_key="still-queued",
            body=b"{}",
            headers={},
        )
        s.add(behind)
    polls = len(woo.request_log)

    assert stock_settle.settle_stock(rt, woo_store.id) == 0  # polls, feeds the lost order, waits
    assert [r for r in woo.request_log[polls:] if r["method"] == "GET" and r["path"].endswith("/orders")]
    polls = len(woo.request_log)
    assert stock_settle.settle_stock(rt, woo_store.id) == 0  # its next look: the fed order is queued
    assert not [r for r in woo.request_log[polls:] if r["path"].endswith("/orders")]  # no second poll
    with rt.session() as s:
        s.execute(
            update(InboxEvent).where(InboxEvent.dedupe_key == "still-queued").values(state=InboxState.done)
        )
        fed = s.scalar(select(func.count()).where(InboxEvent.topic == "reconcile/order"))
    flush(shopify, woo, rt)

    assert (fed, movements(rt, "channel_edit"), ledger(rt, LAST)) == (1, [], (10, 2))
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (8, 8)


def test_a_cancelled_order_releases_its_units_to_every_channel(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    order = shopify.place_order(SHOP, [(LAST, 3)], email="c@example.com")
    flush(shopify, woo, rt)
    assert ledger(rt, LAST) == (10, 3)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (7, 7)
    shopify.cancel_order(SHOP, order.id)
    flush(shopify, woo, rt)
    assert ledger(rt, LAST) == (10, 0)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (10, 10)
    assert movements(rt, "channel_edit") == []


@pytest.fixture
def woo_clock(woo: WooCommerceSimulator, channels: tuple[Store, Store]) -> FakeClock:
    """The WooCommerce store's dates on a clock the test moves (it keeps whole seconds)."""
    clock = FakeClock(start=float(int(time.time())))
    woo.store.clock = clock  # the next test's reset makes a new store on the wall clock again
    return clock


def pay_later(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    clock: FakeClock,
    qty: int = 1,
    order_first: bool = False,
) -> int:
    """A WooCommerce checkout paid later: created pending, the ledger pushes, then the payment.

    The payment's webhooks arrive as WooCommerce fires them (the product's level first),
    or with ``order_first`` the order's first and the product's after it.
    """
    order_id = woo.place_order([(LAST, qty)], status="pending")
    clock.advance(2)  # the push lands in a later second than the order's creation
    flush(shopify, woo, rt)
    assert ledger(rt, LAST) == (10, qty)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (10 - qty, 10 - qty)
    clock.advance(2)
    if order_first:
        woo.faults = Faults(webhook_drop_rate=1.0)  # the payment's own deliveries are lost...
    assert woo.pay_order(order_id)  # WooCommerce takes the units now, from the level just pushed
    flush(shopify, woo, rt)
    if order_first:
        woo.faults = Faults()  # ...and arrive again one after the other
        (product_id,) = [pid for pid, p in woo.store.products.items() if p.get("sku") == LAST]
        woo.store.on_event("order.updated", order_id)
        flush(shopify, woo, rt)
        woo.store.on_event("product.updated", product_id)
        flush(shopify, woo, rt)
    return order_id


@pytest.mark.parametrize("order_first", [False, True], ids=["level_first", "order_first"])
def test_a_pending_order_paid_after_a_push_costs_no_unit(
    rt: Any,
    channels: tuple[Store, Store],
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_clock: FakeClock,
    order_first: bool,
) -> None:
    pay_later(rt, shopify, woo, woo_clock, order_first=order_first)
    assert ledger(rt, LAST) == (10, 1)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (9, 9)
    assert movements(rt, "channel_edit") == []  # WooCommerce's own sale is not a merchant edit
    assert len(movements(rt, "channel_sale")) == 1


def test_a_paid_order_cancelled_gives_its_unit_back_once_and_replayed_webhooks_change_nothing(
    rt: Any,
    channels: tuple[Store, Store],
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_clock: FakeClock,
) -> None:
    order_id = pay_later(rt, shopify, woo, woo_clock, qty=2)
    assert ledger(rt, LAST) == (10, 2)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (8, 8)
    woo_clock.advance(2)
    woo.edit_order(order_id, status="cancelled")  # WooCommerce gives the 2 units back itself
    flush(shopify, woo, rt)
    assert ledger(rt, LAST) == (10, 0)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (10, 10)

    delivered = [
        d for d in woo.webhooks.log if d.status == 200 and d.topic.startswith(("order.", "product."))
    ]
    assert {d.topic for d in delivered} >= {"order.created", "order.updated", "product.updated"}
    for d in delivered:  # every order and product webhook of the story, delivered again
        assert requests.post(d.url, data=d.body, headers=d.headers, timeout=10).status_code == 200
    flush(shopify, woo, rt)
    assert ledger(rt, LAST) == (10, 0)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (10, 10)
    assert movements(rt, "channel_edit") == []
    assert (len(movements(rt, "channel_sale")), len(movements(rt, "channel_restock"))) == (1, 1)


def lose_webhooks(shopify: ShopifySandbox, woo: WooCommerceSimulator) -> None:
    """The storefronts' webhooks from now on never arrive."""
    shopify.faults, woo.faults = Faults(webhook_drop_rate=1.0), Faults(webhook_drop_rate=1.0)


def unpushed_adjustment(rt: Any, sku: str, delta: int) -> None:
    """The ledger moves and no push follows (a push lost for good): the channels know nothing new."""
    with rt.session() as s:
        item = s.scalar(select(StockItem).where(StockItem.sku == sku))
        assert item is not None
        stock.move(
            s,
            item,
            account_id=item.account_id,
            key=f"test:unpushed:{sku}:{delta}",
            reason="manual_adjustment",
            source="operator:cli",
            on_hand=delta,
        )


def test_an_audit_takes_in_every_level_changed_behind_our_back_and_never_pushes_over_it(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    shop_store, woo_store = channels
    lose_webhooks(shopify, woo)
    shopify.set_inventory(SHOP, "TEE-BLK-M", 3)
    shopify.set_inventory(SHOP, LAST, 99)
    (mug,) = [pid for pid, p in woo.store.products.items() if p.get("sku") == "MUG-12OZ"]
    woo.edit_product(mug, stock_quantity=0)
    flush(shopify, woo, rt)  # the webhooks are lost: Waybill has heard nothing
    assert ledger(rt, "TEE-BLK-M") == (50, 0)

    found = {
        store.id: stock_audit.inventory_audit(rt, store_id=store.id, heal="ledger") for store in channels
    }
    assert {
        (d["sku"], d["channel"], d["expected"], d["outcome"]) for d in found[shop_store.id]["discrepancies"]
    } == {("TEE-BLK-M", 3, 50, "observed"), (LAST, 99, 10, "observed")}
    assert [
        (d["sku"], d["channel"], d["expected"], d["outcome"]) for d in found[woo_store.id]["discrepancies"]
    ] == [("MUG-12OZ", 0, 50, "observed")]
    assert found[shop_store.id]["observed"] == 2 and found[woo_store.id]["observed"] == 1
    assert found[shop_store.id]["healed"] == 0 and found[woo_store.id]["healed"] == 0
    flush(shopify, woo, rt)
    # The channels changed after the ledger last knew them: merchant edits, taken in and
    # published to the other channel; nothing was pushed over them.
    assert (
        ledger(rt, "TEE-BLK-M") == (3, 0) and ledger(rt, LAST) == (99, 0) and ledger(rt, "MUG-12OZ") == (0, 0)
    )
    assert (shopify_level(shopify, "TEE-BLK-M"), shopify_level(shopify, LAST)) == (3, 99)
    assert (woo_level(woo, "TEE-BLK-M"), woo_level(woo, LAST), woo_level(woo, "MUG-12OZ")) == (3, 99, 0)
    assert shopify_level(shopify, "MUG-12OZ") == 0
    assert len(movements(rt, "channel_edit")) == 3
    with rt.session() as s:
        notes = list(s.scalars(select(TimelineEntry).where(TimelineEntry.action == "stock.discrepancy")))
        assert len(notes) == 3
    # A second audit finds nothing left.
    again = [stock_audit.inventory_audit(rt, store_id=store.id)["found"] for store in channels]
    assert again == [0, 0]


def test_an_audit_pushes_the_ledger_where_the_channel_has_nothing_new(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    shop_store, woo_store = channels
    unpushed_adjustment(rt, "TEE-BLK-M", -7)
    found = {
        store.id: stock_audit.inventory_audit(rt, store_id=store.id, heal="ledger") for store in channels
    }
    drain(rt)
    for store in (shop_store, woo_store):
        assert [
            (d["sku"], d["channel"], d["expected"], d["outcome"]) for d in found[store.id]["discrepancies"]
        ] == [("TEE-BLK-M", 50, 43, "pushed")]
        assert found[store.id]["healed"] == 1
    assert (shopify_level(shopify, "TEE-BLK-M"), woo_level(woo, "TEE-BLK-M")) == (43, 43)
    assert ledger(rt, "TEE-BLK-M") == (43, 0)
    assert movements(rt, "channel_edit") == []
    again = [stock_audit.inventory_audit(rt, store_id=store.id)["found"] for store in channels]
    assert again == [0, 0]


def test_an_audit_that_trusts_the_channel_moves_the_ledger_and_the_other_channel(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    shop_store, _ = channels
    unpushed_adjustment(rt, "TEE-BLK-M", -6)

    result = stock_audit.inventory_audit(rt, store_id=shop_store.id, heal="channel")
    drain(rt)
    assert [(d["sku"], d["outcome"]) for d in result["discrepancies"]] == [("TEE-BLK-M", "taken")]
    assert ledger(rt, "TEE-BLK-M") == (50, 0)
    assert woo_level(woo, "TEE-BLK-M") == 50
    (edit,) = movements(rt, "channel_edit")
    assert (edit.on_hand_delta, edit.store_id) == (6, shop_store.id)


def test_an_audit_in_report_mode_changes_nothing(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    shop_store, _ = channels
    lose_webhooks(shopify, woo)
    shopify.set_inventory(SHOP, "MUG-12OZ", 1)
    flush(shopify, woo, rt)
    writes = len(shopify.shops[SHOP].inventory_writes)

    result = stock_audit.inventory_audit(rt, store_id=shop_store.id, heal="report")
    drain(rt)
    assert [(d["sku"], d["channel"], d["outcome"]) for d in result["discrepancies"]] == [
        ("MUG-12OZ", 1, "reported")
    ]
    assert result["healed"] == 0
    assert shopify_level(shopify, "MUG-12OZ") == 1
    assert len(shopify.shops[SHOP].inventory_writes) == writes
    assert ledger(rt, "MUG-12OZ") == (50, 0)


def test_the_audit_command_reports_and_heals_every_store(
    app: Any, rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    lose_webhooks(shopify, woo)
    shopify.set_inventory(SHOP, "MUG-12OZ", 4)
    flush(shopify, woo, rt)
    runner = app.test_cli_runner()

    reported = runner.invoke(args=["sync", "inventory-audit", "--heal", "report", "--json"])
    assert reported.exit_code == 0, reported.output
    by_store = {r["platform"]: r for r in json.loads(reported.output)}
    assert [d["sku"] for d in by_store["shopify"]["discrepancies"]] == ["MUG-12OZ"]
    assert by_store["woocommerce"]["found"] == 0
    assert shopify_level(shopify, "MUG-12OZ") == 4

    healed = runner.invoke(args=["sync", "inventory-audit"])
    assert healed.exit_code == 0, healed.output
    # The shop changed the level after the ledger last knew it: a merchant edit, not pushed over.
    assert "MUG-12OZ: channel 4, ledger publishes 50 -> observed" in healed.output
    flush(shopify, woo, rt)
    assert (shopify_level(shopify, "MUG-12OZ"), woo_level(woo, "MUG-12OZ")) == (4, 4)
    assert ledger(rt, "MUG-12OZ") == (4, 0)

    bad = runner.invoke(args=["sync", "inventory-audit", "--heal", "guess"])
    assert bad.exit_code != 0


def test_a_settle_that_finds_no_edit_marks_only_a_channel_that_needs_a_push(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    """The ledger did not move: a channel showing the published level gets no push, and
    neither does the other channel; a link whose mark was kept while it waited to be
    settled is marked again (alone)."""
    shop_store, _ = channels
    shopify.place_order(SHOP, [(LAST, 1)], email="s@example.com")
    flush(shopify, woo, rt)
    assert ledger(rt, LAST) == (10, 1)
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (9, 9)

    def observe_again(kept_mark: bool) -> None:
        """A report of the level the channel shows, not settled yet (e.g. one sent twice)."""
        with rt.session() as s:
            link = s.scalar(
                select(CatalogLink).where(CatalogLink.store_id == shop_store.id, CatalogLink.sku == LAST)
            )
            assert link is not None and link.channel_qty == 9
            link.observed_qty, link.observed_at = 9, datetime.now(UTC)
            link.observed_received_at = datetime.now(UTC)
            assert s.scalar(select(func.count()).select_from(StockDirty)) == 0
            if kept_mark:
                s.add(StockDirty(store_id=shop_store.id, sku=LAST, marked_at=datetime.now(UTC)))

    def marks() -> list[tuple[int, str]]:
        with rt.session() as s:
            return [(m.store_id, m.sku) for m in s.scalars(select(StockDirty))]

    observe_again(kept_mark=False)
    assert stock_settle.settle_stock(rt, store_id=shop_store.id) == 0
    assert marks() == []
    observe_again(kept_mark=True)
    assert stock_settle.settle_stock(rt, store_id=shop_store.id) == 0
    assert marks() == [(shop_store.id, LAST)]
    flush(shopify, woo, rt)
    assert marks() == []
    assert movements(rt, "channel_edit") == []
    assert (shopify_level(shopify, LAST), woo_level(woo, LAST)) == (9, 9)

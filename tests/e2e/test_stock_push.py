"""Stock push end to end: the ledger's published levels reach the sandbox storefronts in the fewest calls.

Calls are counted at the simulators (their per-operation counters and Shopify's
``inventory_writes``), never by replacing Waybill code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from connectors.shopify import storefront_stock as shopify_stock
from core.errors import Retryable
from db.models import (
    CatalogLink,
    Effect,
    InboxEvent,
    InboxState,
    StockBuffer,
    StockDirty,
    StockItem,
    StockMovement,
    Store,
    TimelineEntry,
)
from db.stock import find_item, mark_dirty, move, published_levels
from sandbox.harness import Faults
from sandbox.woocommerce import WooCommerceSimulator
from sync import catalog, intake, stock_push, stock_settle
from sync.jobs import safe_job_id
from sync.queue import follow_up_id
from tests.conftest import drain
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, install_woocommerce, sign_in, stores
from tests.procs import wait_for

LOCATION = "default"


# --- helpers --------------------------------------------------------------------------------


def connect_shopify(rt: Any, browser: requests.Session, public_url: str) -> Store:
    sign_in(browser, public_url, rt, "North Wind Trading")
    assert install_shopify(browser, public_url).status_code == 200
    (store,) = [s for s in stores(rt) if s.domain == SHOP]
    catalog.import_catalog(rt, store_id=store.id)
    drain(rt)
    return store


def set_ledger(rt: Any, store: Store, levels: dict[str, int], tag: str) -> set[int]:
    """Count corrections setting each SKU's on-hand; marks the SKUs dirty on every channel."""
    with rt.session() as s:
        for sku, on_hand in levels.items():
            item = find_item(s, store.account_id, sku, LOCATION)
            assert item is not None, sku
            move(
                s,
                item,
                account_id=store.account_id,
                key=f"test:{tag}:{sku}",
                reason="count_correction",
                source="test",
                on_hand=on_hand - item.on_hand,
            )
        return mark_dirty(s, store.account_id, levels)


def expected_levels(rt: Any, store: Store, skus: list[str]) -> dict[str, int]:
    with rt.session() as s:
        row = s.get(Store, store.id)
        assert row is not None
        return published_levels(s, row, skus, LOCATION)


def shop_levels(shopify: ShopifySandbox) -> dict[str, int]:
    shop = shopify.shops[SHOP]
    main = min(shop.locations)
    return {item.sku: shop.levels[(item.id, main)].available for item in shop.items.values()}


def marks(rt: Any, store_id: int) -> dict[str, datetime]:
    with rt.session() as s:
        return {
            m.sku: m.marked_at for m in s.scalars(select(StockDirty).where(StockDirty.store_id == store_id))
        }


def links(rt: Any, store_id: int) -> dict[str, CatalogLink]:
    with rt.session() as s:
        rows = list(s.scalars(select(CatalogLink).where(CatalogLink.store_id == store_id)))
        s.expunge_all()
    return {row.sku: row for row in rows}


def push(rt: Any, store_id: int) -> None:
    """Enqueue the push the way movements do, and run the queue."""
    stock_push.schedule_push(rt, [store_id])
    drain(rt)


def add_shopify_skus(shopify: ShopifySandbox, count: int, available: int = 5) -> list[str]:
    # The simulator's clock stands still here, so its bucket never refills: a Plus shop's
    # bucket (20,000 points) covers the catalog import and the pushes of a test.
    shopify.shops[SHOP].plan = "plus"
    shopify.buckets.pop(SHOP, None)
    skus = [f"BULK-{i:03d}" for i in range(count)]
    for start in range(0, count, 100):  # Shopify allows 100 variants a product
        shopify.add_product(
            SHOP,
            f"Bulk {start}",
            [
                {"sku": sku, "title": sku, "price": "3.00", "available": available}
                for sku in skus[start : start + 100]
            ],
        )
    return skus


# --- Shopify --------------------------------------------------------------------------------


def test_shopify_full_push_uses_the_fewest_calls_and_shows_the_published_levels(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    skus = add_shopify_skus(shopify, 300)
    store = connect_shopify(rt, browser, public_url)
    assert marks(rt, store.id) == {}  # the ledger was seeded from this shop: nothing to write
    with rt.session() as s:
        s.add(
            StockBuffer(
                account_id=store.account_id,
                store_id=store.id,
                sku="BULK-007",
                kind="absolute",
                value=Decimal(3),
            )
        )
    wanted = {sku: 10 + i % 7 for i, sku in enumerate(skus)}
    assert set_ledger(rt, store, wanted, "full") == {store.id}
    before = shopify.calls["inventorySetQuantities"]

    push(rt, store.id)

    assert shopify.calls["inventorySetQuantities"] - before == 2  # ceil(300 / 250)
    expected = expected_levels(rt, store, skus)
    assert expected["BULK-007"] == wanted["BULK-007"] - 3  # the buffer is held back
    shown = shop_levels(shopify)
    assert {sku: shown[sku] for sku in skus} == expected
    writes = shopify.shops[SHOP].inventory_writes
    assert len(writes) == 300 and all(w["name"] == "available" for w in writes)
    assert {w["change_from_quantity"] for w in writes} == {5}  # compare-and-set on what the link knew
    assert marks(rt, store.id) == {}
    for sku, link in links(rt, store.id).items():
        if sku not in expected:
            continue  # the fixture's catalog, not written
        assert (link.channel_qty, link.last_pushed) == (expected[sku], expected[sku])
        assert link.channel_qty_at is not None and link.channel_qty_at.tzinfo is not None
        assert link.pushed_at is not None

    # Nothing changed: a second push writes nothing.
    assert set_ledger(rt, store, wanted, "again") == {store.id}
    push(rt, store.id)
    assert shopify.calls["inventorySetQuantities"] - before == 2
    assert marks(rt, store.id) == {}


def test_a_stale_compare_and_set_leaves_an_observation_and_pushes_the_rest(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    skus = add_shopify_skus(shopify, 5)
    store = connect_shopify(rt, browser, public_url)
    shopify.set_inventory(SHOP, "BULK-002", 1)  # the merchant, behind our back (webhook not delivered)
    set_ledger(rt, store, {sku: 20 for sku in skus}, "stale")
    before = shopify.calls["inventorySetQuantities"]

    push(rt, store.id)

    # The first call is refused whole; the second one writes the other four.
    assert shopify.calls["inventorySetQuantities"] - before == 2
    shown = shop_levels(shopify)
    assert {sku: shown[sku] for sku in skus} == {**{sku: 20 for sku in skus}, "BULK-002": 1}
    stale = links(rt, store.id)["BULK-002"]
    assert (stale.observed_qty, stale.channel_qty) == (1, 5)
    assert stale.observed_at is not None and stale.observed_received_at is not None
    assert set(marks(rt, store.id)) == {"BULK-002"}  # kept until the observation is settled
    with rt.session() as s:
        actions = list(
            s.scalars(select(TimelineEntry.action).where(TimelineEntry.subject == f"store:{store.id}"))
        )
    assert "stock.push_stale" in actions

    # A push meanwhile leaves the SKU alone (it is not written over the merchant's edit).
    push(rt, store.id)
    assert shopify.calls["inventorySetQuantities"] - before == 2


def test_a_lost_answer_is_replayed_not_written_twice(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    skus = add_shopify_skus(shopify, 3)
    store = connect_shopify(rt, browser, public_url)
    set_ledger(rt, store, {sku: 9 for sku in skus}, "lost")
    shopify.faults = Faults(lost_response_rate=1.0, lost_response_ops=("inventorySetQuantities",), hang_s=0)

    # Shopify applies the write, then the answer is lost: the job fails and the marks stay.
    with pytest.raises(Retryable):
        stock_push.push_stock(rt, store_id=store.id)
    assert len(shopify.shops[SHOP].inventory_writes) == 3
    assert set(marks(rt, store.id)) == set(skus)
    with rt.session() as s:
        (effect,) = s.scalars(select(Effect).where(Effect.kind == "stock_push"))
        assert effect.state.value == "unknown"

    # The retry sends the same call with the same @idempotent key: Shopify replays its answer.
    shopify.faults = Faults()
    stock_push.push_stock(rt, store_id=store.id)
    assert len(shopify.shops[SHOP].inventory_writes) == 3
    assert shopify.calls["inventorySetQuantities"] == 2
    shown = shop_levels(shopify)
    assert {sku: shown[sku] for sku in skus} == {sku: 9 for sku in skus}
    assert marks(rt, store.id) == {}
    assert {link.channel_qty for link in links(rt, store.id).values() if link.sku in skus} == {9}


def test_a_level_report_of_a_write_whose_answer_was_lost_is_not_read_as_an_edit(
    rt: Any,
    shopify: ShopifySandbox,
    browser: requests.Session,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skus = add_shopify_skus(shopify, 3)
    store = connect_shopify(rt, browser, public_url)
    set_ledger(rt, store, {sku: 9 for sku in skus}, "start")
    stock_push.push_stock(rt, store_id=store.id)
    shopify.deliver_due()
    drain(rt)  # the level reports of that push: our own write, nothing to settle
    monkeypatch.setattr(rt.settings.inventory, "settle_s", 0)
    set_ledger(rt, store, {"BULK-001": 7}, "sale")  # two sold elsewhere: the ledger publishes 7

    # Shopify sets 7, then the answer is lost; the shop reports the level it now shows.
    shopify.faults = Faults(lost_response_rate=1.0, lost_response_ops=("inventorySetQuantities",), hang_s=0)
    with pytest.raises(Retryable):
        stock_push.push_stock(rt, store_id=store.id)
    shopify.faults = Faults()
    assert shopify.deliver_due()
    with rt.session() as s:
        reports = list(s.scalars(select(InboxEvent.id).where(InboxEvent.state == InboxState.pending)))
    assert reports
    for event_id in reports:
        intake.process_inbox_event(rt, event_id=event_id)
    assert links(rt, store.id)["BULK-001"].observed_qty == 7  # an observation to settle

    # While the write is in doubt, the report is not settled: 7 is not "9 edited to 7".
    assert stock_settle.settle_stock(rt, store.id) == 0
    stock_push.push_stock(rt, store_id=store.id)  # the retry: Shopify replays its answer
    assert stock_settle.settle_stock(rt, store.id) == 0
    with rt.session() as s:
        item = find_item(s, store.account_id, "BULK-001", LOCATION)
        assert item is not None and item.on_hand == 7
        edits = s.scalars(select(StockMovement).where(StockMovement.reason == "channel_edit"))
        assert list(edits) == []
    assert shop_levels(shopify)["BULK-001"] == 7
    assert links(rt, store.id)["BULK-001"].channel_qty == 7


def test_pages_planned_while_calls_are_out_still_fill_every_call(
    rt: Any,
    shopify: ShopifySandbox,
    browser: requests.Session,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(shopify_stock, "PLAN_PAGE", 100)  # six pages for 600 marks
    skus = add_shopify_skus(shopify, 600, available=5)
    store = connect_shopify(rt, browser, public_url)
    # Every sixth SKU keeps the level the shop shows: its mark is cleared, nothing written.
    wanted = {sku: 5 if i % 6 == 0 else 8 for i, sku in enumerate(skus)}
    assert set_ledger(rt, store, wanted, "paged") == {store.id}
    before = shopify.calls["inventorySetQuantities"]

    summary = stock_push.push_stock(rt, store_id=store.id)

    # 500 writes in two full calls, though no page held more than 84 of them.
    assert shopify.calls["inventorySetQuantities"] - before == 2
    assert (summary["written"], summary["cleared"], summary["rounds"]) == (500, 100, 1)
    shown = shop_levels(shopify)
    assert {sku: shown[sku] for sku in skus} == wanted
    assert marks(rt, store.id) == {}


def test_calls_in_flight_together_commit_what_answered_and_leave_the_rest_marked(
    rt: Any,
    shopify: ShopifySandbox,
    browser: requests.Session,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skus = add_shopify_skus(shopify, 700)  # three calls: 250, 250, 200
    store = connect_shopify(rt, browser, public_url)
    set_ledger(rt, store, {sku: 4 for sku in skus}, "in-flight")
    # The second batch's answer (BULK-250 to BULK-499) is lost after Shopify wrote it. The two
    # first calls race to the simulator, so the lost one is told by its body, not its arrival.
    variant = shopify.shops[SHOP].variant_by_sku("BULK-250")
    assert variant is not None
    second = f'"gid://shopify/InventoryItem/{variant.inventory_item_id}"'.encode()
    serve: Callable[[Request], Response] = shopify.dispatch
    body = threading.local()
    sent: list[bool] = []

    def remember_body(request: Request) -> Response:
        body.data = request.get_data()
        return serve(request)

    def lose_the_second(op: str) -> bool:
        if op != "inventorySetQuantities":
            return False
        lost = second in body.data and not any(sent)
        sent.append(lost)
        return lost

    monkeypatch.setattr(shopify, "dispatch", remember_body)
    monkeypatch.setattr(shopify, "lose_response", lose_the_second)
    with pytest.raises(Retryable):
        stock_push.push_stock(rt, store_id=store.id)
    # Every call was sent (the third once the first was answered) and Shopify applied all.
    assert sent.count(True) == 1 and len(sent) == 3 and len(shopify.shops[SHOP].inventory_writes) == 700
    left = set(marks(rt, store.id))
    assert left == set(skus[250:500])  # only the lost call's SKUs stay marked
    pushed = links(rt, store.id)
    assert all(pushed[sku].last_pushed == 4 for sku in set(skus) - left)
    assert all(pushed[sku].last_pushed != 4 for sku in left)

    # The retry replays the lost call under its @idempotent key: nothing is written twice.
    stock_push.push_stock(rt, store_id=store.id)
    assert len(sent) == 4 and len(shopify.shops[SHOP].inventory_writes) == 700
    assert marks(rt, store.id) == {}
    shown = shop_levels(shopify)
    assert {sku: shown[sku] for sku in skus} == {sku: 4 for sku in skus}


def test_after_a_failed_call_the_prepared_calls_are_not_sent_and_free_their_keys(
    rt: Any,
    shopify: ShopifySandbox,
    browser: requests.Session,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skus = sorted(add_shopify_skus(shopify, 1_500))  # six calls of 250, in SKU order
    shopify.shops[SHOP].plan = "enterprise"  # a bucket for importing 1,500 variants on a still clock
    shopify.buckets.pop(SHOP, None)
    store = connect_shopify(rt, browser, public_url)
    set_ledger(rt, store, {sku: 6 for sku in skus}, "gate")
    assert (shopify_stock.IN_FLIGHT, shopify_stock.READY) == (2, 2)
    # The first call to reach Shopify loses its answer at once; the other call out answers
    # only once that failure is recorded (its effect left unknown, after the failed call
    # closed the gate), so the two prepared calls are still waiting for a slot then.
    serve: Callable[[Request], Response] = shopify.dispatch
    lock, arrived, second = threading.Lock(), threading.local(), threading.Event()
    sent: list[bytes] = []

    def failure_recorded() -> bool:
        with rt.session() as s:
            states = s.scalars(select(Effect.state).where(Effect.kind == "stock_push"))
            return any(state.value == "unknown" for state in states)

    def slow_but_the_first(request: Request) -> Response:
        data = request.get_data()
        arrived.first = False
        if b"inventorySetQuantities" in data:
            with lock:
                sent.append(data)
                arrived.first = len(sent) == 1
            if arrived.first:
                second.wait(10)  # fail once both calls are out
            else:
                second.set()
                wait_for(failure_recorded, 30, "the first call's failure to be recorded", ignoring=())
        return serve(request)

    monkeypatch.setattr(shopify, "dispatch", slow_but_the_first)
    monkeypatch.setattr(shopify, "lose_response", lambda op: op == "inventorySetQuantities" and arrived.first)
    monkeypatch.setattr(shopify.faults, "hang_s", 0.0)  # lost at once: a 504
    with pytest.raises(Retryable):
        stock_push.push_stock(rt, store_id=store.id)
    assert len(sent) == 2  # the failed call and the one out beside it; the prepared ones never left
    left = set(marks(rt, store.id))
    written = [sku for sku in skus if sku not in left]
    assert len(written) == 250 and skus.index(written[-1]) - skus.index(written[0]) == 249  # one batch
    shown = shop_levels(shopify)
    assert {shown[sku] for sku in written} == {6}
    with rt.session() as s:
        states = sorted(e.state.value for e in s.scalars(select(Effect).where(Effect.kind == "stock_push")))
    assert states == ["done", "unknown"]  # the prepared calls' claims were released

    monkeypatch.setattr(shopify, "dispatch", serve)
    monkeypatch.setattr(shopify, "lose_response", lambda op: False)
    stock_push.push_stock(rt, store_id=store.id)
    assert marks(rt, store.id) == {}
    shown = shop_levels(shopify)
    assert {sku: shown[sku] for sku in skus} == {sku: 6 for sku in skus}


def _due_in_s(rt: Any, job_id: str) -> float | None:
    """How long until the queued job ``job_id`` is due (None: not waiting in the queue)."""
    from sync.embedded_queue import EmbeddedJobQueue

    if isinstance(rt.queue, EmbeddedJobQueue):
        due = [at for at, _, msg in rt.queue._heap if msg.job_id == job_id]
        return due[0] - time.monotonic() if due else None
    for queue in rt.queue.queues.values():
        at = rt.queue.connection.zscore(queue.scheduled_job_registry.key, job_id)
        if at is not None:
            return float(at) - time.time()
    return None


def test_a_push_waits_its_delay_and_writes_every_sale_made_meanwhile_in_one_call(
    rt: Any,
    shopify: ShopifySandbox,
    browser: requests.Session,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skus = add_shopify_skus(shopify, 3)
    store = connect_shopify(rt, browser, public_url)
    stock_push.push_stock(rt, store_id=store.id)  # the catalog's levels, as imported
    writes = shopify.calls["inventorySetQuantities"]
    monkeypatch.setattr(rt.settings.inventory, "push_delay_s", 30)
    job_id = safe_job_id("push-stock", store.id)
    for n, sku in enumerate(skus[:2]):  # two sales, each scheduling the push
        set_ledger(rt, store, {sku: 4}, f"sale-{n}")
        stock_push.schedule_push(rt, [store.id])
    # One push is queued, to run 30 s after the first sale (RQ schedules in whole seconds).
    due = _due_in_s(rt, job_id)
    assert due is not None and 28 <= due <= 31, due
    assert not rt.queue.is_live(follow_up_id(job_id))
    assert shopify.calls["inventorySetQuantities"] == writes  # nothing written yet
    stock_push.push_stock(rt, store_id=store.id)  # as the queued job will when it is due
    assert shopify.calls["inventorySetQuantities"] == writes + 1
    shown = shop_levels(shopify)
    assert {sku: shown[sku] for sku in skus} == {"BULK-000": 4, "BULK-001": 4, "BULK-002": 5}


def test_a_mark_refreshed_during_a_push_is_pushed_next_round(
    rt: Any,
    shopify: ShopifySandbox,
    browser: requests.Session,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skus = add_shopify_skus(shopify, 3)
    store = connect_shopify(rt, browser, public_url)
    set_ledger(rt, store, {sku: 8 for sku in skus}, "first")
    serve: Callable[[Request], Response] = shopify.dispatch
    sold: list[bool] = []

    def during_the_write(request: Request) -> Response:
        response = serve(request)
        if b"inventorySetQuantities" in request.get_data() and not sold:
            sold.append(True)  # an order arrives while the first write is in flight
            set_ledger(rt, store, {"BULK-001": 6}, "sale")
        return response

    monkeypatch.setattr(shopify, "dispatch", during_the_write)
    stock_push.push_stock(rt, store_id=store.id)

    assert shopify.calls["inventorySetQuantities"] == 2
    shown = shop_levels(shopify)
    assert {sku: shown[sku] for sku in skus} == {"BULK-000": 8, "BULK-001": 6, "BULK-002": 8}
    assert marks(rt, store.id) == {}
    assert [w["change_from_quantity"] for w in shopify.shops[SHOP].inventory_writes][-1] == 8


# --- WooCommerce ----------------------------------------------------------------------------


def test_woocommerce_push_batches_simple_products_and_each_parents_variations(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    simple = [f"S-{i:03d}" for i in range(150)]
    for sku in simple:
        woo.add_product(sku, sku=sku, stock=4)
    variations: list[str] = []
    for parent in range(2):
        pid = woo.add_product(f"Parent {parent}", type="variable")
        for i in range(120):
            sku = f"V{parent}-{i:03d}"
            woo.add_variation(pid, sku, stock=4, attributes=[{"name": "Size", "option": str(i)}])
            variations.append(sku)
    sign_in(browser, public_url, rt, "North Wind Trading")
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    (store,) = stores(rt)
    catalog.import_catalog(rt, store_id=store.id)
    drain(rt)
    skus = simple + variations
    wanted = {sku: 30 + i % 5 for i, sku in enumerate(skus)}
    set_ledger(rt, store, wanted, "woo")
    # One item that WooCommerce refuses: its variation is gone.
    gone = links(rt, store.id)["V1-119"]
    with woo.lock:
        woo.store.products.pop(int(gone.variant_id or 0))
        woo.store.products[gone.product_id]["variations"].remove(gone.variant_id)
    before = (woo.calls["products.batch"], woo.calls["variations.batch"])

    push(rt, store.id)

    assert woo.calls["products.batch"] - before[0] == 2  # ceil(150 / 100)
    assert woo.calls["variations.batch"] - before[1] == 4  # 2 parents x ceil(120 / 100)
    by_sku = {p["sku"]: p for p in woo.store.products.values() if p.get("sku")}
    assert {sku: int(by_sku[sku]["stock_quantity"]) for sku in skus if sku != "V1-119"} == {
        sku: wanted[sku] for sku in skus if sku != "V1-119"
    }
    assert set(marks(rt, store.id)) == {"V1-119"}  # kept for a retry
    now = links(rt, store.id)
    assert now["S-000"].channel_qty == wanted["S-000"] and now["S-000"].channel_qty_at is not None
    assert now["V1-119"].channel_qty == 4
    with rt.session() as s:
        failed = list(
            s.scalars(
                select(TimelineEntry).where(
                    TimelineEntry.subject == f"store:{store.id}", TimelineEntry.action == "stock.push_failed"
                )
            )
        )
        assert len(failed) == 1 and "V1-119" in failed[0].data["skus"]
        assert s.scalar(select(StockItem.on_hand).where(StockItem.sku == "S-000")) == wanted["S-000"]


def test_the_sweep_pushes_marks_left_behind(
    rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str
) -> None:
    skus = add_shopify_skus(shopify, 2)
    store = connect_shopify(rt, browser, public_url)
    with rt.session() as s:
        for sku in skus:
            item = find_item(s, store.account_id, sku, LOCATION)
            assert item is not None
            move(
                s,
                item,
                account_id=store.account_id,
                key=f"t:{sku}",
                reason="count_correction",
                source="t",
                on_hand=2,
            )
        mark_dirty(s, store.account_id, skus)
        for row in s.scalars(select(StockDirty)):
            row.marked_at = row.marked_at.replace(year=2000)  # no push job was enqueued for these

    result = stock_push.sweep_stock(rt)
    drain(rt)

    assert result == 1  # one store had marks left behind
    assert marks(rt, store.id) == {}
    shown = shop_levels(shopify)
    assert {sku: shown[sku] for sku in skus} == {sku: 7 for sku in skus}

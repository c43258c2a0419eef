"""No order missed, none twice: 100 orders through lossy, duplicated, reordered webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.netguard import AddressPolicy
from connectors.shopify.client import ShopifyClient
from connectors.shopify.orders import order_from_graphql
from connectors.storefront.orders import POLLED_ORDER_TOPIC, EventKind
from connectors.woocommerce.orders import order_from_rest
from core.orders import Order
from db.models import InboxEvent, Platform, Store
from db.models import Order as OrderRow
from sandbox.harness import FakeClock, Faults, RunningServer, serve
from sandbox.shopify import ShopifySimulator
from sandbox.woocommerce import WooCommerceSimulator
from sync.reconcile import reconcile_store
from sync.storefronts import storefront
from sync.stores import ensure_webhooks, save_store
from telemetry import RECONCILE_REPAIRS
from tests.conftest import drain, drain_until_quiet
from tests.procs import free_port

SHOP, TOKEN = "lossy.myshopify.com", "shpat_" + "1" * 32
APP_KEY, APP_SECRET = "app-key", "app-secret"
SKUS = [("TEE", "19.00"), ("MUG", "14.50"), ("CAP", "24.00")]


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    # Intake is under test: approved orders wait in ready_to_ship instead of being shipped, so
    # the storefronts send no fulfilment updates of their own.
    config["shipping"] = {"auto_ship": False}
    return config


@pytest.fixture
def platforms() -> Iterator[tuple[ShopifySimulator, WooCommerceSimulator, RunningServer, RunningServer]]:
    shopify = ShopifySimulator(api_key=APP_KEY, api_secret=APP_SECRET)
    shopify.add_shop(SHOP, token=TOKEN, plan="plus")
    woo = WooCommerceSimulator(allow_http_callback=True, allow_unsafe_delivery_urls=True)
    for sku, price in SKUS:
        shopify.add_product(SHOP, sku, [{"sku": sku, "price": price, "available": 1000, "grams": 200}])
        woo.add_product(sku, sku=sku, price=price, stock=1000)
    shop_server, woo_server = serve(shopify), serve(woo)
    woo.bind(woo_server.url)
    yield shopify, woo, shop_server, woo_server
    shop_server.stop()
    woo_server.stop()


@pytest.fixture
def waybill(config: dict[str, Any], platforms: Any) -> Iterator[Any]:
    """Waybill served over HTTP (the simulators deliver webhooks to it) on the test's backend."""
    from app import create_app
    from db.session import upgrade

    port = free_port()
    config.update(
        sandbox=True,
        public_url=f"http://127.0.0.1:{port}",
        shopify={"api_key": APP_KEY, "api_secret": APP_SECRET, "base_url": platforms[2].url},
    )
    if config.get("mode") == "production":
        upgrade(config["database_url"])
    app = create_app(config)
    server = serve(app, port=port)
    yield app.extensions["waybill"]
    server.stop()
    app.extensions["waybill"].close()


def connect(rt: Any, woo: WooCommerceSimulator, woo_url: str) -> tuple[int, int]:
    shop_id = save_store(rt, Platform.shopify, SHOP, {"access_token": TOKEN}, None, account_name="m")
    ck, cs = woo.create_key("read_write")
    woo_id = save_store(
        rt,
        Platform.woocommerce,
        woo_url,
        {"consumer_key": ck, "consumer_secret": cs},
        "read_write",
        account_name="m",
    )
    assert ensure_webhooks(rt, shop_id) and ensure_webhooks(rt, woo_id)
    woo.deliver_webhooks()  # the creation pings
    return shop_id, woo_id


def place(shopify: ShopifySimulator, woo: WooCommerceSimulator, n: int) -> None:
    sku, _ = SKUS[n % len(SKUS)]
    address = {
        "first_name": "Buyer",
        "last_name": str(n),
        "address1": f"{n} Main St",
        "city": "Springfield",
        "province_code": "IL",
        "zip": "62701",
        "country_code": "US",
    }
    shopify.place_order(SHOP, [(sku, 1 + n % 3)], email=f"buyer{n}@example.com", shipping_address=address)
    woo.place_order(
        [(sku, 1 + n % 3)],
        billing={"first_name": "Buyer", "last_name": str(n), "email": f"buyer{n}@example.com"},
        shipping={
            "first_name": "Buyer",
            "last_name": str(n),
            "address_1": f"{n} Main St",
            "city": "Springfield",
            "state": "IL",
            "postcode": "62701",
            "country": "US",
        },
        shipping_total="4.00",
    )


def held_orders(rt: Any) -> dict[tuple[int, str], Order]:
    with rt.session() as s:
        return {
            (r.store_id, r.platform_order_id): Order.from_dict(r.data) for r in s.scalars(select(OrderRow))
        }


def essentials(order: Order) -> dict[str, Any]:
    """The whole canonical order: a webhook and a read of the same order must agree on every field.

    Nothing is excluded: the Shopify documents select every field the webhook carries
    (``tests/sandbox/shopify/test_order_parity.py``), and no order here changes after it is placed.
    """
    return order.to_dict()


def test_100_orders_survive_duplicated_reordered_and_dropped_webhooks(waybill: Any, platforms: Any) -> None:
    rt = waybill
    shopify, woo, shop_server, woo_server = platforms
    shop_id, woo_id = connect(rt, woo, woo_server.url)
    lossy = {"seed": 11, "webhook_drop_rate": 0.2, "webhook_duplicates": 2, "webhook_reorder": True}
    shopify.faults, woo.faults = Faults(**lossy), Faults(**lossy)
    for n in range(45):
        place(shopify, woo, n)
    shopify.faults, woo.faults = Faults(webhook_drop_rate=1.0), Faults(webhook_drop_rate=1.0)
    for n in range(45, 50):  # these orders' webhooks never arrive at all
        place(shopify, woo, n)
    shopify.deliver_due()
    woo.deliver_webhooks()
    drain(rt)
    before = held_orders(rt)
    assert len(before) <= 90  # at least the ten silent orders are missing

    shopify.faults, woo.faults = Faults(), Faults()
    recovered = RECONCILE_REPAIRS.labels("shopify", "orders_recovered")._value.get()
    reconcile_store(rt, shop_id)
    reconcile_store(rt, woo_id)
    drain(rt)
    assert RECONCILE_REPAIRS.labels("shopify", "orders_recovered")._value.get() - recovered >= 5

    held = held_orders(rt)
    with rt.session() as s:
        assert s.scalar(select(func.count(OrderRow.id))) == 100
        assert s.scalar(select(func.count(func.distinct(OrderRow.platform_order_id)))) == 100
    client = ShopifyClient(SHOP, TOKEN, base_url=shop_server.url, policy=AddressPolicy(allow_loopback=True))
    for order_id in shopify.shops[SHOP].orders:
        node = client.execute("order", {"id": f"gid://shopify/Order/{order_id}"})["order"]
        assert essentials(held[(shop_id, str(order_id))]) == essentials(order_from_graphql(node))
    woo_ids = [int(k) for k in woo.snapshot()["orders"]]
    assert len(woo_ids) == 50
    for order_id in woo_ids:
        assert essentials(held[(woo_id, str(order_id))]) == essentials(order_from_rest(woo.order(order_id)))


def test_reconciliation_repairs_deleted_subscriptions_and_disabled_webhooks(
    waybill: Any, platforms: Any
) -> None:
    rt = waybill
    shopify, woo, _shop_server, woo_server = platforms
    shop_id, woo_id = connect(rt, woo, woo_server.url)
    shop = shopify.shops[SHOP]
    shop.subscriptions.clear()  # Shopify removed them (e.g. after failed deliveries)
    hook_id = int(next(iter(woo.snapshot()["webhooks"])))
    _disable(woo, hook_id)

    shop_result = reconcile_store(rt, shop_id)
    woo_result = reconcile_store(rt, woo_id)

    assert len(shop_result["webhooks_repaired"]) == len(shop.subscriptions) > 0
    assert {s.uri for s in shop.subscriptions.values()} == {f"{rt.settings.public_url}/webhooks/shopify"}
    assert [r for r in woo_result["webhooks_repaired"] if "re-enabled" in r]
    assert woo.webhook(hook_id)["status"] == "active"
    with rt.session() as s:
        store = s.get(Store, woo_id)
        assert store is not None and store.settings["webhooks"]["ok"] is True


def _disable(woo: WooCommerceSimulator, hook_id: int) -> None:
    """The store disabled the webhook after repeated delivery failures."""
    with woo._lock:
        woo.hub.hooks[hook_id]["status"] = "disabled"


def test_a_poll_leaves_what_the_stores_queue_may_hold_to_the_next_poll(waybill: Any, platforms: Any) -> None:
    """While the store's queue is behind, a version changed after its oldest unprocessed event
    may be a webhook still queued: a poll does not feed it (in a burst, feeding those doubled
    the work the queue was behind on) and keeps its cursor before it. A version older than the
    queue is fed at once; a lost one among the recent is fed by the next poll."""
    rt = waybill
    _, woo, _, woo_server = platforms
    _, woo_id = connect(rt, woo, woo_server.url)
    woo.store.clock = FakeClock(start=time.time() - 60)
    woo.faults = Faults(webhook_drop_rate=1.0)
    old_lost = woo.place_order([("MUG", 1)])  # a minute ago, its webhooks lost
    woo.store.clock = FakeClock(start=time.time())
    new_lost = woo.place_order([("MUG", 2)])  # now, lost too
    woo.deliver_webhooks()
    woo.faults = Faults()
    queued = woo.place_order([("MUG", 3)])
    assert woo.deliver_webhooks()  # in the inbox, not processed yet

    first = reconcile_store(rt, woo_id)
    fed_first = polled_events(rt)
    drain_until_quiet(rt, woo.deliver_webhooks)
    second = reconcile_store(rt, woo_id)
    fed_second = polled_events(rt)[len(fed_first) :]
    drain_until_quiet(rt, woo.deliver_webhooks)
    third = reconcile_store(rt, woo_id)

    assert (first["queued"], first["deferred"], fed_first) == (1, 2, [str(old_lost)])
    assert (second["queued"], second["deferred"], fed_second) == (1, 0, [str(new_lost)])
    assert (third["queued"], third["deferred"]) == (0, 0)
    assert {oid for (store, oid) in held_orders(rt) if store == woo_id} == {
        str(old_lost),
        str(new_lost),
        str(queued),
    }


def polled_events(rt: Any) -> list[str]:
    """The orders fed by polls (``reconcile/order`` events), by platform id."""
    with rt.session() as s:
        bodies = s.scalars(
            select(InboxEvent.body).where(InboxEvent.topic == POLLED_ORDER_TOPIC).order_by(InboxEvent.id)
        )
        return [str(json.loads(body)["id"]) for body in bodies]


def test_polling_never_stores_an_order_whose_lines_may_be_cut(waybill: Any, platforms: Any) -> None:
    rt = waybill
    shopify, woo, _shop_server, woo_server = platforms
    shop_id, _ = connect(rt, woo, woo_server.url)
    many = [(f"PART-{i}", 1) for i in range(12)]
    for sku, _qty in many:
        shopify.add_product(SHOP, sku, [{"sku": sku, "price": "1.00", "available": 10}])
    shopify.faults = Faults(webhook_drop_rate=1.0)
    shopify.place_order(SHOP, many)
    shopify.place_order(SHOP, [("TEE", 1)])
    shopify.deliver_due()
    shopify.faults = Faults()
    result = reconcile_store(rt, shop_id)
    drain(rt)
    assert (result["found"], result["queued"], result["incomplete"]) == (2, 1, 1)
    assert [o.line_items[0].sku for o in held_orders(rt).values()] == ["TEE"]


def test_one_order_read_from_the_store_is_what_a_poll_reads_of_it(waybill: Any, platforms: Any) -> None:
    """The read that settles a second seen with two contents (``reread_order``), on both
    simulators: the order as ``orders_since`` gives it, in one call; None for an order the
    store does not have."""
    rt = waybill
    shopify, woo, _shop_server, woo_server = platforms
    shop_id, woo_id = connect(rt, woo, woo_server.url)
    shop_order = shopify.place_order(SHOP, [("TEE", 2)])
    woo_order = woo.place_order([("MUG", 1)])
    with rt.session() as s:
        stores = {store.id: store for store in s.scalars(select(Store))}
        s.expunge_all()
    for store_id, order_id in ((shop_id, str(shop_order.id)), (woo_id, str(woo_order))):
        front = storefront(rt, stores[store_id])
        polled = {p.order_id: p for p in front.orders_since(datetime.now(UTC) - timedelta(hours=1))}
        one = front.order_now(order_id)
        assert one is not None and one.body is not None
        assert (one.order_id, one.updated_at) == (order_id, polled[order_id].updated_at)
        kind = EventKind.order_polled
        assert front.parse_order(kind, json.loads(one.body)) == front.parse_order(
            kind, json.loads(polled[order_id].body or b"")
        )
        assert front.order_now("987654321") is None


def captured(sim: ShopifySimulator | WooCommerceSimulator) -> list[tuple[str, dict[str, str], bytes]]:
    """The deliveries the simulator has queued, built now (WooCommerce builds a payload when it
    sends it: building at once keeps each version of the order), and taken off its queue."""
    return [(p.url, *p.build()) for p in sim.webhooks._take_due(everything=True)]


def life_of_an_order(shopify: ShopifySimulator, woo: WooCommerceSimulator, n: int, cancel: bool) -> list[Any]:
    """One order on each storefront, changed after it was placed (paid, note, tags, perhaps
    cancelled); returns every webhook delivery that life sends, each built when it was sent."""
    deliveries: list[Any] = []
    address = {"address1": f"{n} Main St", "city": "Springfield", "province_code": "IL", "zip": "62701"}
    order = shopify.place_order(SHOP, [("TEE", 1)], email=f"life{n}@example.com", shipping_address=address)
    deliveries += captured(shopify)
    shopify.update_order(SHOP, order.id, note=f"Leave with neighbour {n}")
    shopify.update_order(SHOP, order.id, tags=["gift", f"life-{n}"])
    if cancel:
        shopify.cancel_order(SHOP, order.id)
    deliveries += captured(shopify)
    ship = {"first_name": "Buyer", "last_name": str(n), "address_1": f"{n} Main St", "city": "Springfield"}
    ship |= {"state": "IL", "postcode": "62701", "country": "US"}
    billing = {"first_name": "Buyer", "last_name": str(n), "email": f"life{n}@example.com"}
    woo_id = woo.place_order([("MUG", 2)], billing=billing, shipping=ship, status="pending")
    for change in (
        lambda: woo.pay_order(woo_id),
        lambda: woo.edit_order(woo_id, customer_note=f"Ring twice {n}"),
        *([lambda: woo.edit_order(woo_id, status="cancelled")] if cancel else []),
    ):
        deliveries += captured(woo)
        change()
    return deliveries + captured(woo)


_life = iter(range(1000, 100_000))


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_permutation_of_an_orders_webhooks_ends_in_the_platforms_state(
    waybill: Any, platforms: Any, data: st.DataObject
) -> None:
    """Issue 21's R2 in the suite: an order's deliveries (created, paid, updated, cancelled)
    in any order leave Waybill holding what the platform holds at the end."""
    rt = waybill
    shopify, woo, shop_server, woo_server = platforms
    with rt.session() as s:
        connected = s.scalar(select(func.count(Store.id)))
    shop_id, woo_id = connect(rt, woo, woo_server.url) if not connected else (1, 2)
    shopify.faults = woo.faults = Faults()
    n = next(_life)
    deliveries = life_of_an_order(shopify, woo, n, cancel=data.draw(st.booleans(), label="cancel"))
    http = requests.Session()
    for url, headers, body in data.draw(st.permutations(deliveries), label="deliveries"):
        assert http.post(url, data=body, headers=headers, timeout=10).status_code < 300
    drain(rt)
    held = held_orders(rt)
    client = ShopifyClient(SHOP, TOKEN, base_url=shop_server.url, policy=AddressPolicy(allow_loopback=True))
    shop_order_id = max(shopify.shops[SHOP].orders)
    node = client.execute("order", {"id": f"gid://shopify/Order/{shop_order_id}"})["order"]
    assert essentials(held[(shop_id, str(shop_order_id))]) == essentials(order_from_graphql(node))
    woo_order_id = max(int(k) for k in woo.snapshot()["orders"])
    assert essentials(held[(woo_id, str(woo_order_id))]) == essentials(
        order_from_rest(woo.order(woo_order_id))
    )

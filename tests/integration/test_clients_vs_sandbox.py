"""The Shopify and WooCommerce clients against the served sandbox simulators.

The Shopify simulator runs on a fake clock that the client's ``sleep`` advances, so
pacing and throttling play out exactly and instantly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests

from connectors.errors import AuthError, NotFound, Rejected
from connectors.netguard import AddressPolicy
from connectors.shopify import inventory as shopify_inventory
from connectors.shopify.client import (
    GRAPHQL_DIR,
    ShopifyClient,
    exchange_code,
    is_mutation,
    load_document,
)
from connectors.shopify.throttle import REGISTRY
from connectors.woocommerce import inventory as woo_inventory
from connectors.woocommerce.client import WooClient
from sandbox.harness import FakeClock, RunningServer, serve
from sandbox.shopify import ShopifySimulator
from sandbox.shopify.cost import PLANS, Plan
from sandbox.woocommerce import WooCommerceSimulator
from tests.sandbox.shopify.support import document

SANDBOX = AddressPolicy(allow_loopback=True)  # the simulators listen on loopback

SHOP = "demo.myshopify.com"
TOKEN = "shpat_integration_token"
API_KEY = "integration-api-key"
API_SECRET = "integration-api-secret"
SINCE = "updated_at:>'2020-01-01T00:00:00Z'"
# Query documents that need no id from an earlier answer, with the variables to run them.
QUERIES_WITHOUT_IDS: dict[str, dict[str, Any]] = {
    "shop_and_locations": {"first": 10},
    "orders_updated_since": {"first": 5, "query": SINCE},
    "inventory_levels": {"first": 10, "levelsFirst": 5},
    "webhook_subscriptions": {"first": 10},
    "catalog_variants": {"first": 10, "levelsFirst": 5},
}
NEEDS_AN_ID = {
    "order",
    "order_fulfillment_orders",
    "order_fulfillments",
    "inventory_item_levels",
    "location_levels_updated_since",
    "fulfillment_events",
    "order_returns",
    "order_refunds",
    "return_lines",
}


# A query of the tests' own (tests/fixtures/shopify_graphql): variants, 2 + first x 3 points.
VARIANTS = document("product_variants")


def _variants(client: ShopifyClient, first: int) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = client.query(VARIANTS, {"first": first})["productVariants"]["nodes"]
    return nodes


# -- Shopify fixtures


@pytest.fixture(scope="module")
def shopify_server() -> Iterator[tuple[ShopifySimulator, FakeClock, RunningServer]]:
    clock = FakeClock()
    sim = ShopifySimulator(api_key=API_KEY, api_secret=API_SECRET, clock=clock)
    with serve(sim) as server:
        yield sim, clock, server


@pytest.fixture
def shopify(shopify_server: tuple[ShopifySimulator, FakeClock, RunningServer]) -> ShopifySimulator:
    sim, _, _ = shopify_server
    sim.reset()
    sim.throttle_mode = "graphql"
    REGISTRY.forget()
    sim.add_shop(SHOP, token=TOKEN)
    sim.add_product(SHOP, "Canvas Tote", [{"sku": "TOTE-RED", "price": "20.00", "available": 7}])
    return sim


@pytest.fixture
def clock(shopify_server: tuple[ShopifySimulator, FakeClock, RunningServer]) -> FakeClock:
    return shopify_server[1]


@pytest.fixture
def shopify_url(shopify_server: tuple[ShopifySimulator, FakeClock, RunningServer]) -> str:
    return shopify_server[2].url


@pytest.fixture
def tiny_plan(monkeypatch: pytest.MonkeyPatch) -> str:
    """A plan with a 100-point bucket refilling 10 points/s, so a short burst runs it dry."""
    monkeypatch.setitem(PLANS, "tiny", Plan(bucket_size=100, restore_rate=10))
    return "tiny"


def add_tiny_shop(sim: ShopifySimulator, domain: str, token: str, plan: str) -> None:
    """A shop on ``plan`` with ten variants, so ``productVariants(first: 10)`` really costs 32 points."""
    sim.add_shop(domain, token=token, plan=plan)
    sim.add_product(domain, "Sticker", [{"sku": f"STK-{i}", "price": "1.00"} for i in range(10)])


def client_for(url: str, clock: FakeClock, shop: str = SHOP, token: str = TOKEN) -> ShopifyClient:
    return ShopifyClient(shop, token, base_url=url, clock=clock.now, sleep=clock.advance, policy=SANDBOX)


# -- Shopify


def test_every_query_document_without_ids_runs(
    shopify: ShopifySimulator, shopify_url: str, clock: FakeClock
) -> None:
    queries = {p.stem for p in GRAPHQL_DIR.glob("*.graphql") if not is_mutation(load_document(p.stem))}
    assert queries - NEEDS_AN_ID == set(QUERIES_WITHOUT_IDS)
    order = shopify.place_order(SHOP, [("TOTE-RED", 2)])
    client = client_for(shopify_url, clock)
    data = {name: client.execute(name, variables) for name, variables in QUERIES_WITHOUT_IDS.items()}
    assert data["shop_and_locations"]["shop"]["myshopifyDomain"] == SHOP
    assert [n["name"] for n in data["shop_and_locations"]["locations"]["nodes"]] == ["Main Warehouse"]
    assert [n["sku"] for n in _variants(client, 10)] == ["TOTE-RED"]
    [fetched] = data["orders_updated_since"]["orders"]["nodes"]
    assert (fetched["legacyResourceId"], fetched["name"]) == (str(order.id), "#1001")
    assert [(li["sku"], li["quantity"]) for li in fetched["lineItems"]["nodes"]] == [("TOTE-RED", 2)]
    [item] = data["inventory_levels"]["inventoryItems"]["nodes"]
    quantities = item["inventoryLevels"]["nodes"][0]["quantities"]
    assert (item["sku"], quantities) == (
        "TOTE-RED",
        [{"name": "available", "quantity": 5}, {"name": "on_hand", "quantity": 7}],
    )
    assert data["webhook_subscriptions"]["webhookSubscriptions"]["nodes"] == []
    [variant] = data["catalog_variants"]["productVariants"]["nodes"]
    levels = variant["inventoryItem"]["inventoryLevels"]["nodes"]
    assert (variant["sku"], variant["inventoryItem"]["tracked"]) == ("TOTE-RED", True)
    # The order of 2 placed above is committed: still on hand, out of available.
    assert levels[0]["quantities"] == [
        {"name": "available", "quantity": 5},
        {"name": "committed", "quantity": 2},
    ]
    item_gid = variant["inventoryItem"]["id"]
    one = client.execute("inventory_item_levels", {"id": item_gid, "levelsFirst": 5})["inventoryItem"]
    assert one["inventoryLevels"]["nodes"][0]["quantities"] == [{"name": "available", "quantity": 5}]
    assert client.throttle is not None and client.throttle.maximum_available == 2000.0


def test_levels_changed_since_lists_the_levels_updated_after_the_time(
    shopify: ShopifySimulator, shopify_url: str, clock: FakeClock
) -> None:
    shopify.add_product(SHOP, "Lamp", [{"sku": "LAMP-1", "price": "5.00", "available": 4}])
    shop = shopify.shops[SHOP]
    lamp = shop.variant_by_sku("LAMP-1")
    assert lamp is not None
    location_id = min(shop.locations)
    clock.advance(60)
    since = datetime.fromtimestamp(int(clock.now()), UTC)
    clock.advance(1)
    shopify.set_inventory(SHOP, "LAMP-1", 11)  # the merchant's edit in the admin
    client = client_for(shopify_url, clock)

    changed = shopify_inventory.levels_changed_since(client, location_id, since)

    # TOTE-RED's level is older than the time: only the edited level is listed, with its time.
    assert [(c.inventory_item_id, c.location_id, c.quantity) for c in changed] == [
        (lamp.inventory_item_id, location_id, 11)
    ]
    assert changed[0].at == since + timedelta(seconds=1)
    assert shopify_inventory.levels_changed_since(client, location_id, since + timedelta(seconds=1)) == []


def test_webhook_subscription_create_then_listed(
    shopify: ShopifySimulator, shopify_url: str, clock: FakeClock
) -> None:
    client = client_for(shopify_url, clock)
    variables = {
        "topic": "ORDERS_CREATE",
        "webhookSubscription": {"uri": "https://waybill.example/webhooks/shopify", "format": "JSON"},
    }
    created = client.execute("webhook_subscription_create", variables)
    assert created["webhookSubscriptionCreate"]["userErrors"] == []
    sub_id = created["webhookSubscriptionCreate"]["webhookSubscription"]["id"]
    listed = client.execute("webhook_subscriptions", {"first": 10})["webhookSubscriptions"]["nodes"]
    assert [(s["id"], s["topic"], s["uri"], s["format"]) for s in listed] == [
        (sub_id, "ORDERS_CREATE", "https://waybill.example/webhooks/shopify", "JSON")
    ]


def _throttled_count(url: str, shop: str, name: str, variables: dict[str, Any], calls: int) -> int:
    """Send a burst with plain requests (no pacing) and count THROTTLED answers."""
    body = {"query": document(name), "variables": variables}
    headers = {"X-Shopify-Access-Token": "shpat_control", "Host": shop}
    answers = [
        requests.post(f"{url}/admin/api/2026-10/graphql.json", json=body, headers=headers, timeout=5).json()
        for _ in range(calls)
    ]
    return sum(
        1 for a in answers if a.get("errors", [{}])[0].get("extensions", {}).get("code") == "THROTTLED"
    )


def test_burst_on_a_small_bucket_is_paced_with_no_throttled_error(
    shopify: ShopifySimulator, shopify_url: str, clock: FakeClock, tiny_plan: str
) -> None:
    variables = {"first": 10}  # 2 + 10 x 3 = 32 points requested each, 20 x 32 = 640 for a 100-point bucket
    add_tiny_shop(shopify, "control.myshopify.com", "shpat_control", tiny_plan)
    assert _throttled_count(shopify_url, "control.myshopify.com", "product_variants", variables, 20) > 0
    add_tiny_shop(shopify, "tiny.myshopify.com", "shpat_tiny", tiny_plan)
    client = client_for(shopify_url, clock, "tiny.myshopify.com", "shpat_tiny")
    started = clock.now()
    for _ in range(20):
        nodes = _variants(client, variables["first"])
        assert [n["sku"] for n in nodes] == [f"STK-{i}" for i in range(10)]
    graphql_requests = [r for r in shopify.request_log if r["endpoint"] == "graphql"]
    assert len(graphql_requests) == 20 + 20  # the control burst, then ours: not one throttled retry
    # 640 points from a bucket holding 100 and refilling 10/s: 54 s of waiting, and not much more.
    assert 54.0 <= clock.now() - started < 54.1


def test_threads_sharing_a_shop_all_complete(
    shopify: ShopifySimulator, shopify_url: str, clock: FakeClock, tiny_plan: str
) -> None:
    add_tiny_shop(shopify, "busy.myshopify.com", "shpat_busy", tiny_plan)
    results: list[int] = []
    failures: list[Exception] = []

    def worker() -> None:
        client = client_for(shopify_url, clock, "busy.myshopify.com", "shpat_busy")  # one client per thread
        try:
            for _ in range(8):
                results.append(len(_variants(client, 10)))
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    assert failures == []
    assert results == [10] * 32


def test_http_429_is_retried_after_retry_after(
    shopify: ShopifySimulator, shopify_url: str, clock: FakeClock, tiny_plan: str
) -> None:
    shopify.throttle_mode = "http"
    add_tiny_shop(shopify, "tiny.myshopify.com", "shpat_tiny", tiny_plan)
    client = client_for(shopify_url, clock, "tiny.myshopify.com", "shpat_tiny")
    for _ in range(3):
        _variants(client, 10)
    REGISTRY.forget()  # as if another process had spent the points: no estimate to pace on
    started = clock.now()
    _variants(client, 30)  # 2 + 30 x 3 = 92 requested, 100 - 3 x 32 = 4 left
    assert clock.now() - started == 9.0  # Retry-After: ceil((92 - 4) / 10) s, then nothing more to wait
    assert [r["endpoint"] for r in shopify.request_log].count("graphql") == 5


def test_wrong_token_is_an_auth_error(shopify: ShopifySimulator, shopify_url: str, clock: FakeClock) -> None:
    with pytest.raises(AuthError, match="HTTP 401"):
        client_for(shopify_url, clock, token="shpat_wrong").execute("shop_and_locations", {"first": 1})


def _authorize(url: str, scope: str) -> str:
    answer = requests.get(
        f"{url}/admin/oauth/authorize",
        params={
            "client_id": API_KEY,
            "scope": scope,
            "redirect_uri": "https://waybill.example/cb",
            "state": "n1",
            "shop": SHOP,
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def test_exchange_code_against_the_simulator_oauth(shopify: ShopifySimulator, shopify_url: str) -> None:
    code = _authorize(shopify_url, "read_orders,write_fulfillments")
    assert exchange_code(SHOP, API_KEY, API_SECRET, code, base_url=shopify_url, policy=SANDBOX) == (
        TOKEN,
        "read_orders,write_fulfillments",
    )
    with pytest.raises(Rejected, match="invalid_request"):  # the code was already used
        exchange_code(SHOP, API_KEY, API_SECRET, code, base_url=shopify_url, policy=SANDBOX)
    with pytest.raises(Rejected, match="invalid_client"):
        exchange_code(
            SHOP,
            API_KEY,
            "wrong-secret",
            _authorize(shopify_url, "read_orders"),
            base_url=shopify_url,
            policy=SANDBOX,
        )


# -- WooCommerce fixtures


class QueryRecorder:
    """WSGI middleware in front of the simulator that keeps every request's raw query string."""

    def __init__(self, app: WooCommerceSimulator) -> None:
        self.app = app
        self.queries: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.queries.append(environ.get("QUERY_STRING", ""))
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def woo_server() -> Iterator[tuple[WooCommerceSimulator, QueryRecorder, RunningServer]]:
    sim = WooCommerceSimulator(https=False)  # plain http: only OAuth 1.0a is accepted
    recorder = QueryRecorder(sim)
    with serve(recorder) as server:
        sim.bind(server.url)
        yield sim, recorder, server


@pytest.fixture
def woo(
    woo_server: tuple[WooCommerceSimulator, QueryRecorder, RunningServer],
) -> tuple[WooCommerceSimulator, WooClient]:
    sim, recorder, server = woo_server
    sim.reset()
    recorder.queries.clear()
    ck, cs = sim.create_key("read_write")
    return sim, WooClient(server.url, ck, cs, timeout_s=5, policy=SANDBOX)


# -- WooCommerce


def test_iterate_reads_250_products_in_three_pages(
    woo: tuple[WooCommerceSimulator, WooClient], woo_server: Any
) -> None:
    sim, client = woo
    ids = [sim.add_product(f"Mug {i}", sku=f"MUG-{i:03d}") for i in range(250)]
    got = list(client.iterate("products", {"orderby": "id", "order": "asc"}))
    assert [p["id"] for p in got] == ids
    assert sim.calls["products.list"] == 3
    recorder: QueryRecorder = woo_server[1]
    for page, query in enumerate(recorder.queries, start=1):
        names = [name for name, _ in parse_qsl(query)]
        assert len(names) == len(set(names)), f"a parameter arrived twice: {query}"
        assert dict(parse_qsl(query))["page"] == str(page)
        assert dict(parse_qsl(query))["per_page"] == "100"


def test_get_page_filters_by_sku_list(woo: tuple[WooCommerceSimulator, WooClient]) -> None:
    sim, client = woo
    for sku in ("A-1", "B-2", "C-3"):
        sim.add_product(sku, sku=sku)
    items, total, pages = client.get_page(
        "products", {"sku": ["A-1", "C-3"], "orderby": "id", "order": "asc"}
    )
    assert ([p["sku"] for p in items], total, pages) == (["A-1", "C-3"], 2, 1)


def test_put_updates_the_product(woo: tuple[WooCommerceSimulator, WooClient]) -> None:
    sim, client = woo
    product_id = sim.add_product("Lamp", sku="LAMP-1", price="30.00", stock=3)
    answer = client.put(f"products/{product_id}", {"regular_price": "27.50", "stock_quantity": 9})
    assert (answer["regular_price"], answer["stock_quantity"]) == ("27.50", 9)
    assert (sim.product(product_id)["regular_price"], sim.product(product_id)["stock_quantity"]) == (
        "27.50",
        9,
    )


def test_missing_product_is_not_found_and_forced_delete_removes(
    woo: tuple[WooCommerceSimulator, WooClient],
) -> None:
    sim, client = woo
    with pytest.raises(NotFound, match=r"woocommerce_rest_product_invalid_id$"):
        client.get("products/987654")
    product_id = sim.add_product("Old", sku="OLD-1")
    assert client.delete(f"products/{product_id}", force=True)["id"] == product_id
    with pytest.raises(NotFound):
        client.get(f"products/{product_id}")


def test_wrong_secret_is_an_auth_error(woo: tuple[WooCommerceSimulator, WooClient], woo_server: Any) -> None:
    sim, _ = woo
    ck, _ = sim.create_key("read")
    with pytest.raises(AuthError, match="woocommerce_rest_authentication_error"):
        WooClient(woo_server[2].url, ck, "cs_wrong", timeout_s=5, policy=SANDBOX).get("products")


@pytest.fixture(scope="module")
def woo_clocked_server() -> Iterator[tuple[WooCommerceSimulator, FakeClock, RunningServer]]:
    """A store two hours east of UTC on a fake clock (dates in GMT must not shift by the zone),
    started at the wall clock: OAuth 1.0a timestamps are checked against it."""
    clock = FakeClock(float(int(time.time())))
    sim = WooCommerceSimulator(clock, utc_offset_hours=2)
    with serve(sim) as server:
        sim.bind(server.url)
        yield sim, clock, server


def test_levels_changed_since_lists_edits_sales_and_variations_modified_after_the_time(
    woo_clocked_server: tuple[WooCommerceSimulator, FakeClock, RunningServer],
) -> None:
    sim, clock, server = woo_clocked_server
    sim.reset()
    ck, cs = sim.create_key("read_write")
    client = WooClient(server.url, ck, cs, timeout_s=5, policy=SANDBOX)
    lamp = sim.add_product("Lamp", sku="LAMP-1", stock=5)
    sim.add_product("Stool", sku="STOOL-1", stock=4)
    tee = sim.add_product("Tee", type="variable")
    small = sim.add_variation(tee, "TEE-S", stock=3)
    large = sim.add_variation(tee, "TEE-L", stock=2)
    clock.advance(60)
    since = datetime.fromtimestamp(int(clock.now()), UTC)
    clock.advance(1)
    sim.edit_product(lamp, stock_quantity=9)  # the merchant's edit in WP admin
    sim.place_order([("TEE-L", 1)])  # paid: the variation's stock is saved

    changed = woo_inventory.levels_changed_since(client, since, [tee])

    assert {(c.product_id, c.variation_id, c.quantity) for c in changed} == {(lamp, None, 9), (tee, large, 1)}
    assert {c.at for c in changed} == {since + timedelta(seconds=1)}
    assert small not in {c.variation_id for c in changed}
    # modified_after is strictly after, in whole seconds.
    assert woo_inventory.levels_changed_since(client, since + timedelta(seconds=1), [tee]) == []

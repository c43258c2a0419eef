"""bench/pipeline's platforms: sandbox Shopify, WooCommerce and EasyPost in a process of their own.

Run as a child process (``start``), so the simulators' CPU is theirs and not counted as
Waybill's. The parent drives it through a pipe: place orders, read what the platforms hold.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from bench._child import Child, answer

SHOP = "bench-pipeline.myshopify.com"
API_KEY, API_SECRET = "bench-pipeline-key", "bench-pipeline-secret"
EP_KEY, EP_WEBHOOK_SECRET = "EZTK-sandbox-bench-pipeline", "bench-pipeline-easypost-secret"
BOOK, MUG, CRATE = "BOOK-PB", "MUG-12OZ", "CRATE-XL"  # two crates need two parcels
CATALOG = (
    (BOOK, "Paperback", "12.00", 300),
    (MUG, "Enamel mug", "14.50", 400),
    (CRATE, "Crate", "30.00", 4000),
)
STOCK = 100_000


def order_lines(n: int) -> list[tuple[str, int]]:
    """Order ``n``'s cart: one in ten is two crates (two parcels), the rest one or two small items."""
    if n % 10 == 4:
        return [(CRATE, 2)]
    if n % 3 == 0:
        return [(BOOK, 1), (MUG, 1)]
    return [(BOOK if n % 2 else MUG, 1 + n % 2)]


def parcels_of(n: int) -> int:
    return 2 if n % 10 == 4 else 1


def start() -> Child:
    """The platforms' process; ``info`` holds their URLs and the credentials Waybill needs."""
    return Child(_main, name="bench-pipeline-sandbox")


def _main(conn: Connection) -> None:
    shopify, woo, easypost = platforms("Bench Pipeline")
    serve_platforms(conn, shopify, woo, easypost, {})


def platforms(shop_name: str, clock: Any = None) -> tuple[Any, Any, Any]:
    """The simulators, stocked with the catalog: Shopify (one Standard shop), WooCommerce and
    EasyPost (on ``clock`` if given, else its own)."""
    from sandbox.easypost import EasyPostSimulator
    from sandbox.shopify import ShopifySimulator
    from sandbox.woocommerce import WooCommerceSimulator

    shopify = ShopifySimulator(api_key=API_KEY, api_secret=API_SECRET)
    shopify.add_shop(SHOP, plan="standard", name=shop_name)
    woo = WooCommerceSimulator(allow_http_callback=True, allow_unsafe_delivery_urls=True)
    for sku, title, price, grams in CATALOG:
        shopify.add_product(SHOP, title, [{"sku": sku, "price": price, "available": STOCK, "grams": grams}])
        woo.add_product(title, sku=sku, price=price, stock=STOCK, weight=str(grams / 1000))
    easypost = EasyPostSimulator(api_keys=[EP_KEY], webhook_secret=EP_WEBHOOK_SECRET, clock=clock)
    return shopify, woo, easypost


def serve_platforms(
    conn: Connection, shopify: Any, woo: Any, easypost: Any, methods: dict[str, Callable[..., Any]]
) -> None:
    """Serve the simulators, send the parent their URLs and credentials, then answer its calls
    (``place``, ``stats`` and ``methods``) until it stops the process."""
    from sandbox.harness import serve

    servers = {"shopify": serve(shopify), "woocommerce": serve(woo), "easypost": serve(easypost)}
    woo.bind(servers["woocommerce"].url)
    for server in servers.values():
        server.app.webhooks.start(poll_s=0.005)
    key, secret = woo.create_key()
    conn.send(
        {
            "urls": {name: server.url for name, server in servers.items()},
            "shopify_token": shopify.shops[SHOP].token,
            "woo_key": key,
            "woo_secret": secret,
        }
    )
    own: dict[str, Callable[..., Any]] = {
        "place": lambda start, count: _place(shopify, woo, start, count),
        "stats": lambda: _stats(shopify, woo, easypost),
    }
    try:
        answer(conn, own | methods)
    finally:
        for server in servers.values():
            server.app.webhooks.stop()
            server.stop()


def _place(shopify: Any, woo: Any, start: int, count: int) -> list[tuple[str, int, int]]:
    """``count`` orders on each storefront, interleaved; returns (platform, order id, parcels)."""
    placed = []
    for n in range(start, start + count):
        lines = order_lines(n)
        address = {
            "name": f"Buyer {n}",
            "address1": f"{100 + n} Market Street",
            "city": "San Francisco",
            "provinceCode": "CA",
            "zip": "94107",
            "countryCode": "US",
        }
        order = shopify.place_order(SHOP, lines, email=f"s{n}@example.com", shipping_address=address)
        placed.append(("shopify", int(order.id), parcels_of(n)))
        ship = {"first_name": "Buyer", "last_name": str(n), "address_1": f"{200 + n} Fifth Avenue"}
        ship |= {"city": "New York", "state": "NY", "postcode": "10001", "country": "US"}
        billing = {"first_name": "Buyer", "last_name": str(n), "email": f"w{n}@example.com", "country": "US"}
        placed.append(
            ("woocommerce", int(woo.place_order(lines, billing=billing, shipping=ship)), parcels_of(n))
        )
    return placed


def _stats(shopify: Any, woo: Any, easypost: Any) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with shopify._lock:
        fulfilled = sorted({f.order_id for f in shopify.shops[SHOP].fulfillments.values()})
        shopify_calls = sum(shopify.calls.values())
    with woo._lock:
        completed = sorted(oid for oid, o in woo.store.orders.items() if o["status"] == "completed")
        woo_calls = sum(woo.calls.values())
    with easypost._lock:
        labels = {sid: int(n) for sid, n in easypost.shipping.label_counts.items()}
        purchases = easypost.label_purchases
        easypost_calls = sum(easypost.calls.values())
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "shopify_fulfilled": fulfilled,
        "woo_completed": completed,
        "label_purchases": purchases,
        "labels_per_shipment": labels,
        "calls": {"shopify": shopify_calls, "woocommerce": woo_calls, "easypost": easypost_calls},
    }

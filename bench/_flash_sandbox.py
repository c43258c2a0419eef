"""bench/flash_sale's platforms: one sandbox Shopify with a shop per merchant, a WooCommerce
store per merchant and EasyPost, in a process of their own (as ``bench/_pipeline_sandbox``).

The sale itself runs here too (``sell``): a thread places each order of the plan at its
time, as a buyer checking out: a line whose SKU the channel shows too few of is refused
(sold out on that channel), as a storefront that does not sell past its stock would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from bench import _pipeline_sandbox as base
from bench._child import Child, answer

HOT = "DROP-TEE"  # the flash sale's SKU: its stock runs out during the sale
HOT_GRAMS = 250
# (merchant, platform, lines, parcels) of one order, placed at the plan's offset (s)
Planned = tuple[float, int, str, list[tuple[str, int]], int]


def shop_domain(m: int) -> str:
    return f"flash-{m}.myshopify.com"


def start(merchants: int, hot_stock: list[int]) -> Child:
    """The platforms' process; ``info`` holds their URLs and credentials, per merchant."""
    return Child(_main, merchants, hot_stock, name="bench-flash-sandbox")


def _main(conn: Connection, merchants: int, hot_stock: list[int]) -> None:
    from sandbox.easypost import EasyPostSimulator
    from sandbox.harness import serve
    from sandbox.shopify import ShopifySimulator
    from sandbox.woocommerce import WooCommerceSimulator

    shopify = ShopifySimulator(api_key=base.API_KEY, api_secret=base.API_SECRET)
    woos = [
        WooCommerceSimulator(allow_http_callback=True, allow_unsafe_delivery_urls=True)
        for _ in range(merchants)
    ]
    for m, woo in enumerate(woos):
        # The merchant with most of the traffic is on Shopify Plus, the others on Standard.
        shopify.add_shop(shop_domain(m), plan="plus" if m == 0 else "standard", name=f"Flash {m}")
        stocked = [(sku, title, price, grams, base.STOCK) for sku, title, price, grams in base.CATALOG]
        for sku, title, price, grams, stock in [
            *stocked,
            (HOT, "Drop tee", "25.00", HOT_GRAMS, hot_stock[m]),
        ]:
            shopify.add_product(
                shop_domain(m), title, [{"sku": sku, "price": price, "available": stock, "grams": grams}]
            )
            woo.add_product(title, sku=sku, price=price, stock=stock, weight=str(grams / 1000))
    easypost = EasyPostSimulator(api_keys=[base.EP_KEY], webhook_secret=base.EP_WEBHOOK_SECRET)
    servers = [serve(shopify), serve(easypost), *(serve(woo) for woo in woos)]
    for woo, server in zip(woos, servers[2:], strict=True):
        woo.bind(server.url)
    # Shopify sends the twenty shops' webhooks from many delivery workers, as the platform does
    # (one sender would queue every shop behind the busiest); each WooCommerce store has its own.
    for server, senders in zip(servers, [8, 2, *[1] * merchants], strict=True):
        server.app.webhooks.start(poll_s=0.01, threads=senders)
    keys = [woo.create_key() for woo in woos]
    conn.send(
        {
            "urls": {"shopify": servers[0].url, "easypost": servers[1].url},
            "woo_urls": [server.url for server in servers[2:]],
            "shopify_tokens": [shopify.shops[shop_domain(m)].token for m in range(merchants)],
            "woo_keys": keys,
        }
    )
    sale = Sale(shopify, woos)
    own: dict[str, Callable[..., Any]] = {
        "sell": sale.start,
        "progress": sale.progress,
        "placed": sale.placed,
        "stats": lambda: _stats(shopify, woos, easypost, merchants),
    }
    try:
        answer(conn, own)
    finally:
        for server in servers:
            server.app.webhooks.stop()
            server.stop()


class Sale:
    """Places the plan's orders at their times, in a thread; a buyer sees the channel's level."""

    def __init__(self, shopify: Any, woos: list[Any]) -> None:
        self.shopify, self.woos = shopify, woos
        self.records: list[dict[str, Any]] = []
        self.refused = 0
        self.done = threading.Event()

    def start(self, plan: list[Planned]) -> float:
        """Start placing ``plan``; returns the sale's start (Unix time)."""
        self.records, self.refused = [], 0
        self.done.clear()
        t0 = time.time() + 0.2
        threading.Thread(target=self._run, args=(plan, t0), daemon=True).start()
        return t0

    def _run(self, plan: list[Planned], t0: float) -> None:
        for offset, m, platform, lines, parcels in plan:
            wait = t0 + offset - time.time()
            if wait > 0:
                time.sleep(wait)
            placed = self._place(m, platform, lines, len(self.records) + self.refused)
            if placed is None:
                self.refused += 1
                continue
            self.records.append(
                {
                    "merchant": m,
                    "platform": platform,
                    "id": placed,
                    "at": time.time(),
                    "lines": lines,
                    "parcels": parcels,
                }
            )
        self.done.set()

    def _place(self, m: int, platform: str, lines: list[tuple[str, int]], n: int) -> int | None:
        if platform == "shopify":
            shop = self.shopify.shops[shop_domain(m)]
            with self.shopify._lock:
                for sku, qty in lines:
                    variant = shop.variant_by_sku(sku)
                    if shop.levels[(variant.inventory_item_id, min(shop.locations))].available < qty:
                        return None
                address = {
                    "name": f"Buyer {n}",
                    "address1": f"{100 + n} Market Street",
                    "city": "San Francisco",
                }
                address |= {"provinceCode": "CA", "zip": "94107", "countryCode": "US"}
                order = self.shopify.place_order(
                    shop_domain(m), lines, email=f"s{n}@example.com", shipping_address=address
                )
            return int(order.id)
        woo = self.woos[m]
        with woo._lock:
            for sku, qty in lines:
                if (woo.store.find_by_sku(sku)["stock_quantity"] or 0) < qty:
                    return None
            ship = {"first_name": "Buyer", "last_name": str(n), "address_1": f"{200 + n} Fifth Avenue"}
            ship |= {"city": "New York", "state": "NY", "postcode": "10001", "country": "US"}
            billing = {
                "first_name": "Buyer",
                "last_name": str(n),
                "email": f"w{n}@example.com",
                "country": "US",
            }
            return int(woo.place_order(lines, billing=billing, shipping=ship))

    def progress(self) -> dict[str, Any]:
        return {"placed": len(self.records), "refused": self.refused, "done": self.done.is_set()}

    def placed(self) -> list[dict[str, Any]]:
        return list(self.records)


def _stats(shopify: Any, woos: list[Any], easypost: Any, merchants: int) -> dict[str, Any]:
    """What the platforms hold: fulfilled/completed orders and their units, the channels' hot
    levels, every label bought (its shipment's reference and when)."""
    shipped: dict[int, dict[str, int]] = {m: {} for m in range(merchants)}
    fulfilled: dict[str, list[int]] = {"shopify": [], "woocommerce": []}
    levels: dict[int, list[int]] = {}
    with shopify._lock:
        for m in range(merchants):
            shop = shopify.shops[shop_domain(m)]
            done = {f.order_id for f in shop.fulfillments.values()}
            fulfilled["shopify"] += sorted(done)
            for oid in done:
                for item in shop.orders[oid].line_items:
                    shipped[m][item.sku] = shipped[m].get(item.sku, 0) + item.quantity
            variant = shop.variant_by_sku(HOT)
            levels[m] = [shop.levels[(variant.inventory_item_id, min(shop.locations))].available]
    for m, woo in enumerate(woos):
        with woo._lock:
            for oid, order in woo.store.orders.items():
                if order["status"] != "completed":
                    continue
                fulfilled["woocommerce"].append(oid)
                for item in order["line_items"]:
                    shipped[m][item["sku"]] = shipped[m].get(item["sku"], 0) + item["quantity"]
            levels[m].append(woo.store.find_by_sku(HOT)["stock_quantity"])
    with easypost._lock:
        shipments = easypost.shipping.shipments
        labels = [(shipments[lb["shipment_id"]]["reference"], lb["at"]) for lb in easypost.shipping.labels]
        purchases = easypost.label_purchases
    return {
        "shipped": shipped,
        "fulfilled": fulfilled,
        "hot_levels": levels,
        "labels": labels,
        "label_purchases": purchases,
    }

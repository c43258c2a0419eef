"""The drills' platforms: sandbox Shopify (one shop per merchant), WooCommerce (one store per
merchant, each on its own port) and EasyPost, in a process of their own (``start``). Each simulator sends
its webhooks from ``senders`` threads, so deliveries reach Waybill concurrently.

Built on bench/pipeline's sandbox (its catalog, carts, credentials and ``bench._child``): the
parent drives the process through a pipe. Methods (``Child.call(name, ...)``):

- ``place(orders)``: ``orders`` is a list of ``(merchant, platform, n)``; order ``n``'s cart
  (``bench._pipeline_sandbox.order_lines``) is placed on that merchant's storefront, which
  sends its webhooks. Returns ``[(merchant, platform, order_id, parcels, lines)]``.
- ``faults(platform, plan)``: the :class:`sandbox.harness.Faults` plan (a dict) of
  ``shopify``, ``easypost`` or ``woocommerce`` (every store).
- ``hold()`` / ``release()``: webhook sending stopped (deliveries queue up) and started again.
- ``blackout()``: every store's webhook subscriptions deleted or disabled (``blackout_webhooks``).
- ``pending()``: webhook deliveries still queued on all simulators.
- ``observe()``: what the platforms hold, for ``drills.check`` (see :func:`_observe`).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from bench._child import Child, answer
from bench._pipeline_sandbox import (
    API_KEY,
    API_SECRET,
    CATALOG,
    EP_KEY,
    EP_WEBHOOK_SECRET,
    order_lines,
    parcels_of,
)

STOCK = 100_000


def shop_domain(merchant: int) -> str:
    return f"drill-merchant-{merchant}.myshopify.com"


def start(merchants: int, senders: int = 4) -> Child:
    """The platforms' process for ``merchants`` merchants; ``info`` holds their URLs and the
    credentials Waybill needs: ``{"shopify", "easypost", "woocommerce": [url per merchant],
    "shops": [(domain, token)], "woo_keys": [(key, secret)]}``."""
    return Child(_main, merchants, senders, name="drill-platforms")


def _main(conn: Connection, merchants: int, senders: int) -> None:
    from sandbox.easypost import EasyPostSimulator
    from sandbox.harness import Faults, serve
    from sandbox.shopify import ShopifySimulator
    from sandbox.woocommerce import WooCommerceSimulator

    shopify = ShopifySimulator(api_key=API_KEY, api_secret=API_SECRET)
    woos = [
        WooCommerceSimulator(allow_http_callback=True, allow_unsafe_delivery_urls=True)
        for _ in range(merchants)
    ]
    for m in range(merchants):
        shopify.add_shop(shop_domain(m), plan="standard", name=f"Drill merchant {m}")
        for sku, title, price, grams in CATALOG:
            shopify.add_product(
                shop_domain(m), title, [{"sku": sku, "price": price, "available": STOCK, "grams": grams}]
            )
            woos[m].add_product(title, sku=sku, price=price, stock=STOCK, weight=str(grams / 1000))
    easypost = EasyPostSimulator(api_keys=[EP_KEY], webhook_secret=EP_WEBHOOK_SECRET)
    servers = [serve(shopify), serve(easypost)] + [serve(w) for w in woos]
    for woo, server in zip(woos, servers[2:], strict=True):
        woo.bind(server.url)
    for server in servers:
        server.app.webhooks.start(poll_s=0.005, threads=senders)
    conn.send(
        {
            "shopify": servers[0].url,
            "easypost": servers[1].url,
            "woocommerce": [s.url for s in servers[2:]],
            "shops": [(shop_domain(m), shopify.shops[shop_domain(m)].token) for m in range(merchants)],
            "woo_keys": [w.create_key() for w in woos],
        }
    )
    sims: dict[str, list[Any]] = {"shopify": [shopify], "easypost": [easypost], "woocommerce": woos}

    def set_faults(platform: str, plan: dict[str, Any]) -> None:
        for sim in sims[platform]:
            sim.faults = Faults.from_dict(plan)

    methods: dict[str, Callable[..., Any]] = {
        "place": lambda orders: [_place(shopify, woos, *o) for o in orders],
        "faults": set_faults,
        "blackout": lambda: [shopify.blackout_webhooks()] + [w.blackout_webhooks() for w in woos],
        "pending": lambda: sum(s.app.webhooks.pending() for s in servers),
        "hold": lambda: [s.app.webhooks.stop() for s in servers] and None,
        "release": lambda: [s.app.webhooks.start(poll_s=0.005, threads=senders) for s in servers] and None,
        "observe": lambda: _observe(shopify, woos, easypost),
    }
    try:
        answer(conn, methods)
    finally:
        for server in servers:
            server.stop()


def _place(shopify: Any, woos: list[Any], merchant: int, platform: str, n: int) -> tuple[Any, ...]:
    lines = order_lines(n)
    if platform == "shopify":
        address = {"name": f"Buyer {n}", "address1": f"{100 + n} Market Street", "city": "San Francisco"}
        address |= {"provinceCode": "CA", "zip": "94107", "countryCode": "US"}
        order = shopify.place_order(
            shop_domain(merchant), lines, email=f"s{merchant}-{n}@example.com", shipping_address=address
        )
        return merchant, platform, int(order.id), parcels_of(n), lines
    ship = {"first_name": "Buyer", "last_name": str(n), "address_1": f"{200 + n} Fifth Avenue"}
    ship |= {"city": "New York", "state": "NY", "postcode": "10001", "country": "US"}
    billing = {"first_name": "Buyer", "last_name": str(n), "email": f"w{merchant}-{n}@example.com"}
    billing |= {"country": "US"}
    oid = woos[merchant].place_order(lines, billing=billing, shipping=ship)
    return merchant, platform, int(oid), parcels_of(n), lines


def _observe(shopify: Any, woos: list[Any], easypost: Any) -> dict[str, Any]:
    """Per merchant and platform, per order: ``fulfilments`` (Shopify fulfilments, or 1 for a
    completed WooCommerce order), ``tracking`` (tracking numbers written back, repeats kept),
    ``refunds``; per SKU the channel's ``levels``; ``subscriptions``: the webhook subscriptions
    (Shopify) or active webhooks (WooCommerce) of the store. EasyPost: ``labels`` (shipment id -> labels
    bought, tracking code). ``webhooks``: answers to every webhook delivery, by status;
    ``failed_deliveries``: deliveries not answered 2xx, by answer and topic; ``injected``:
    faults the simulators injected so far, by kind."""
    out: dict[str, Any] = {"shopify": [], "woocommerce": [], "webhooks": collections.Counter()}
    with shopify._lock:
        for m in range(len(woos)):
            shop = shopify.shops[shop_domain(m)]
            orders = {}
            for oid, order in shop.orders.items():
                fulfils = [shop.fulfillments[f] for f in order.fulfillment_ids if f in shop.fulfillments]
                numbers = [str(t.get("number")) for f in fulfils for t in f.tracking]
                orders[int(oid)] = {"fulfilments": len(fulfils), "tracking": numbers}
                orders[int(oid)]["refunds"] = len(order.refund_ids)
            main = min(shop.locations)
            levels = {i.sku: shop.levels[(i.id, main)].available for i in shop.items.values()}
            subscriptions = len(shop.subscriptions)
            out["shopify"].append({"orders": orders, "levels": levels, "subscriptions": subscriptions})
    for woo in woos:
        with woo.lock:
            orders = {}
            for oid, order in woo.store.orders.items():
                meta = [
                    m["value"]
                    for m in order.get("meta_data", [])
                    if m["key"] == "_wc_shipment_tracking_items"
                ]
                numbers = [str(item.get("tracking_number")) for items in meta for item in items or []]
                done = order["status"] == "completed"
                orders[int(oid)] = {"fulfilments": int(done), "tracking": numbers}
                orders[int(oid)]["refunds"] = len(order.get("refund_ids", []))
            levels = {
                p["sku"]: int(p["stock_quantity"])
                for p in woo.store.products.values()
                if p.get("sku") and p.get("stock_quantity") is not None
            }
            active = sum(1 for hook in woo.hub.hooks.values() if hook["status"] == "active")
            out["woocommerce"].append({"orders": orders, "levels": levels, "subscriptions": active})
    with easypost._lock:
        shipping = easypost.shipping
        out["labels"] = {
            sid: [int(n), shipping.shipments[sid].get("tracking_code")]
            for sid, n in shipping.label_counts.items()
        }
    injected: collections.Counter[str] = collections.Counter()
    for sim in [shopify, easypost, *woos]:
        with sim._lock:
            injected.update(sim.injected)
    out["injected"] = dict(injected)
    failed: collections.Counter[str] = collections.Counter()
    for server_app in [shopify, easypost, *woos]:
        for delivery in list(server_app.webhooks.log):
            if delivery.topic != "ping":
                answer = str(delivery.status or delivery.error)
                out["webhooks"][answer] += 1
                if not answer.startswith("2"):
                    failed[f"{answer} {delivery.topic}"] += 1
    out["webhooks"], out["failed_deliveries"] = dict(out["webhooks"]), dict(failed)
    return out

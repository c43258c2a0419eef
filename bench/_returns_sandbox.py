"""bench/returns' platforms: bench/pipeline's sandbox Shopify and WooCommerce, and an EasyPost
simulator whose trackers move on a fake clock that only the parent moves.

Run as a child process (``start``), so the simulators' CPU is theirs. The carrier's clock
starts ``lead_s`` in the past: the parcels' journeys (out to the customer and back) end
before the wall clock, so the times Waybill stamps itself (a return label bought) come
after the carrier's (the order delivered), as in production.
"""

from __future__ import annotations

import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from bench import _pipeline_sandbox as pipeline
from bench import _tracking_sandbox as tracking
from bench._child import Child, answer


def start(lead_s: float) -> Child:
    """The platforms' process; ``info`` holds their URLs and the credentials Waybill needs."""
    return Child(_main, lead_s, name="bench-returns-sandbox")


def _main(conn: Connection, lead_s: float) -> None:
    from sandbox.easypost import EasyPostSimulator
    from sandbox.harness import FakeClock, serve
    from sandbox.shopify import ShopifySimulator
    from sandbox.woocommerce import WooCommerceSimulator

    shopify = ShopifySimulator(api_key=pipeline.API_KEY, api_secret=pipeline.API_SECRET)
    shopify.add_shop(pipeline.SHOP, plan="standard", name="Bench Returns")
    woo = WooCommerceSimulator(allow_http_callback=True, allow_unsafe_delivery_urls=True)
    for sku, title, price, grams in pipeline.CATALOG:
        variant = {"sku": sku, "price": price, "available": pipeline.STOCK, "grams": grams}
        shopify.add_product(pipeline.SHOP, title, [variant])
        woo.add_product(title, sku=sku, price=price, stock=pipeline.STOCK, weight=str(grams / 1000))
    easypost = EasyPostSimulator(
        api_keys=[pipeline.EP_KEY],
        webhook_secret=pipeline.EP_WEBHOOK_SECRET,
        clock=FakeClock(start=time.time() - lead_s),
    )
    servers = {"shopify": serve(shopify), "woocommerce": serve(woo), "easypost": serve(easypost)}
    woo.bind(servers["woocommerce"].url)
    for server in servers.values():
        server.app.webhooks.start(poll_s=0.005)
    key, secret = woo.create_key()
    conn.send(
        {
            "urls": {name: server.url for name, server in servers.items()},
            "shopify_token": shopify.shops[pipeline.SHOP].token,
            "woo_key": key,
            "woo_secret": secret,
        }
    )
    try:
        answer(
            conn,
            {
                "place": lambda first, count: pipeline._place(shopify, woo, first, count),
                "stats": lambda: pipeline._stats(shopify, woo, easypost),
                "hook": lambda url: easypost.events.create_webhook("test", {"url": url})["id"],
                "advance": lambda seconds, step_s: tracking._advance(easypost, seconds, step_s),
                "journeys_left_s": lambda: tracking._journeys_left_s(easypost),
                "returns": lambda: _returns(shopify, woo, easypost),
            },
        )
    finally:
        for server in servers.values():
            server.app.webhooks.stop()
            server.stop()


def _returns(shopify: Any, woo: Any, easypost: Any) -> dict[str, Any]:
    """What the platforms hold of the returns: refunds per order on each storefront, and the
    return labels EasyPost sold (``is_return`` shipments bought; a shipment is bought once)."""
    with shopify._lock:
        shop_refunds = Counter(str(r.order_id) for r in shopify.shops[pipeline.SHOP].refunds.values())
    with woo._lock:
        woo_refunds = Counter(str(r["order_id"]) for r in woo.store.refunds.values())
    with easypost._lock:
        returning = {sid for sid, sh in easypost.shipping.shipments.items() if sh["is_return"]}
        return_labels = sum(1 for label in easypost.shipping.labels if label["shipment_id"] in returning)
    return {
        "refunds": {"shopify": dict(shop_refunds), "woocommerce": dict(woo_refunds)},
        "return_labels": return_labels,
    }

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
from bench._child import Child


def start(lead_s: float) -> Child:
    """The platforms' process; ``info`` holds their URLs and the credentials Waybill needs."""
    return Child(_main, lead_s, name="bench-returns-sandbox")


def _main(conn: Connection, lead_s: float) -> None:
    from sandbox.harness import FakeClock

    shopify, woo, easypost = pipeline.platforms("Bench Returns", FakeClock(start=time.time() - lead_s))
    methods = tracking.carrier_methods(easypost) | {"returns": lambda: _returns(shopify, woo, easypost)}
    pipeline.serve_platforms(conn, shopify, woo, easypost, methods)


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

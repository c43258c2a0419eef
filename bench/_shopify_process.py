"""A sandbox Shopify shop in a process of its own, for benchmarks that time calls to it.

In the benchmark's own process the simulator would share the GIL with Waybill's threads:
each would slow the other, and the time the simulator spends serving a call would count
its waits for Waybill. Here it has its own interpreter, as Shopify has its own servers.
The parent drives it through a pipe (``RemoteShopify``): seed the catalog, change the
plan, read levels, call counts and the time spent serving each operation.

Serving time per operation is kept three ways: ``busy_s``, the union of the spans during
which at least one call of that operation was being served (the server's occupancy:
what no client can go below, however many calls it keeps in flight); ``wall_s``, the sum
of the spans (counts overlapping calls twice); ``cpu_s``, the serving threads' CPU time.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection
from typing import Any

from werkzeug.wrappers import Request, Response

from bench._child import Child, answer
from sandbox.shopify import ShopifySimulator


class _TimedShopify(ShopifySimulator):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spans: dict[str, list[tuple[float, float]]] = {}
        self.cpu_s: dict[str, float] = {}

    def dispatch(self, request: Request) -> Response:
        started, started_cpu = time.perf_counter(), time.thread_time()
        response = super().dispatch(request)
        op = "inventorySetQuantities" if b"inventorySetQuantities" in request.get_data() else "other"
        ended, cpu = time.perf_counter(), time.thread_time() - started_cpu
        with self._lock:
            self.spans.setdefault(op, []).append((started, ended))
            self.cpu_s[op] = self.cpu_s.get(op, 0.0) + cpu
        return response


def union_s(spans: list[tuple[float, float]]) -> float:
    """Length of the union of ``spans``."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


class RemoteShopify(Child):
    """The parent's handle: each method is one round trip to the simulator's process."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        super().__init__(_main, api_key, api_secret, name="bench-shopify")
        self.url: str = self.info


def _main(conn: Connection, api_key: str, api_secret: str) -> None:
    from sandbox.harness import serve

    sim = _TimedShopify(api_key=api_key, api_secret=api_secret)
    server = serve(sim)
    conn.send(server.url)

    def seed(domain: str, plan: str, products: list[tuple[str, list[dict[str, Any]]]]) -> str:
        sim.add_shop(domain, plan=plan)
        for title, variants in products:
            sim.add_product(domain, title, variants)
        return str(sim.shops[domain].token)

    def set_plan(domain: str, plan: str) -> None:
        with sim._lock:
            sim.shops[domain].plan = plan
            sim.buckets.pop(domain, None)

    def bucket(domain: str) -> dict[str, Any]:
        return dict(sim.bucket(sim.shops[domain]).status())

    def levels(domain: str) -> dict[str, int]:
        shop = sim.shops[domain]
        main = min(shop.locations)
        with sim._lock:
            return {item.sku: shop.levels[(item.id, main)].available for item in shop.items.values()}

    def available(domain: str, sku: str) -> int:
        shop = sim.shops[domain]
        variant = shop.variant_by_sku(sku)
        assert variant is not None, sku
        with sim._lock:
            return int(shop.levels[(variant.inventory_item_id, min(shop.locations))].available)

    def served(op: str) -> dict[str, float]:
        with sim._lock:
            spans = list(sim.spans.get(op, []))
            return {
                "calls": sim.calls[op],
                "busy_s": union_s(spans),
                "wall_s": sum(b - a for a, b in spans),
                "cpu_s": sim.cpu_s.get(op, 0.0),
            }

    def webhooks(action: str) -> None:
        getattr(sim.webhooks, action)()

    methods = {
        "seed": seed,
        "set_plan": set_plan,
        "bucket": bucket,
        "levels": levels,
        "available": available,
        "served": served,
        "webhooks": webhooks,
        "plan": lambda domain: sim.shops[domain].plan,
    }
    try:
        answer(conn, methods)
    finally:
        sim.webhooks.stop()
        server.stop()

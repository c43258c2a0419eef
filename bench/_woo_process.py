"""A sandbox WooCommerce store in a process of its own, for bench/inventory.

Like ``bench._shopify_process``: the store runs on its own interpreter, as a merchant's
WooCommerce runs on its own server. In the benchmark's process its catalog (10,000
products and variations, some 200,000 objects) would share Waybill's heap, and every full
garbage collection in Waybill's process would walk it too. The parent drives it through a
pipe (``RemoteWoo``): seed the catalog, issue API keys, read levels and call counts,
place orders, start and stop webhook delivery.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from typing import Any

from bench._child import Child, answer


class RemoteWoo(Child):
    """The parent's handle: each method is one round trip to the store's process."""

    def __init__(self) -> None:
        super().__init__(_main, name="bench-woocommerce")
        self.url: str = self.info


def _main(conn: Connection) -> None:
    from sandbox.harness import serve
    from sandbox.woocommerce import WooCommerceSimulator

    sim = WooCommerceSimulator(allow_http_callback=True, allow_unsafe_delivery_urls=True)
    server = serve(sim)
    sim.bind(server.url)
    conn.send(server.url)

    def seed(
        skus: list[str], simple: int, per_parent: int, stock: int
    ) -> tuple[list[str], dict[int, list[str]]]:
        """``simple`` simple products, then variable products of ``per_parent`` variations."""
        simple_skus = skus[:simple]
        for sku in simple_skus:
            sim.add_product(sku, sku=sku, stock=stock)
        parents: dict[int, list[str]] = {}
        rest = skus[simple:]
        for start in range(0, len(rest), per_parent):
            group = rest[start : start + per_parent]
            pid = sim.add_product(f"Variable {start // per_parent}", type="variable")
            for n, sku in enumerate(group):
                sim.add_variation(pid, sku, stock=stock, attributes=[{"name": "Size", "option": str(n)}])
            parents[pid] = group
        return simple_skus, parents

    def levels() -> dict[str, int]:
        with sim.lock:
            return {
                p["sku"]: int(p["stock_quantity"])
                for p in sim.store.products.values()
                if p.get("sku") and p.get("stock_quantity") is not None
            }

    def batch_calls() -> int:
        return int(sim.calls["products.batch"] + sim.calls["variations.batch"])

    def webhooks(action: str) -> None:
        getattr(sim.webhooks, action)()

    methods: dict[str, Any] = {
        "seed": seed,
        "create_key": lambda: tuple(sim.create_key()),
        "levels": levels,
        "batch_calls": batch_calls,
        "place_order": lambda lines: sim.place_order([tuple(line) for line in lines]),
        "webhooks": webhooks,
    }
    try:
        answer(conn, methods)
    finally:
        sim.webhooks.stop()
        server.stop()

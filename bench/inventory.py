"""Full stock push to a sandbox Shopify shop (Standard plan) and a sandbox WooCommerce store,
then the propagation of single sales from WooCommerce to Shopify.

Setup (not timed; the Shopify catalog is imported at Enterprise limits, then the shop
moves to the Standard plan with a full bucket): one merchant, both channels connected
to Waybill (embedded mode: SQLite and the in-process queue, or ``--database-url`` for PostgreSQL) and their
catalogs imported: N Shopify variants, and the same N SKUs on WooCommerce as simple
products and variable products of 10 variations. A stock count then moves every SKU,
which marks it on both channels.

Push: ``push_stock`` for the Shopify shop, then for the WooCommerce store, timed. The
Shopify push starts on a full Standard bucket. Figures:

- ``shopify_calls_ratio``: ``inventorySetQuantities`` calls the simulator served / ceil(N / 250);
- ``woo_calls_ratio``: batch calls / (ceil(simple / 100) + sum over parents of ceil(variations / 100));
- ``time_ratio``: Shopify push wall time / its floor. The rate-limit floor is
  ``max(0, (min calls x cost of one call - bucket size) / restore rate)``; at 10 points a
  mutation a 10,000-SKU push needs 400 of the bucket's 2,000 points and that floor is 0,
  so the floor used is the larger of it and the time the simulator itself spent serving
  the push's calls (a client cannot be faster than the platform answers): the union of
  the spans during which it had at least one of them in hand, so calls kept in flight
  together are not counted twice. The Shopify simulator runs in a process of its own
  (as Shopify runs on its own servers); sharing the benchmark's interpreter, it and
  Waybill would slow each other. The detail line also gives the spans summed and the
  simulator's CPU time over them;
- ``failed_writes``: SKUs not showing the published level afterwards, plus writes the
  pushes reported failed or stale.

Propagation: the simulators deliver webhooks as they happen (background senders) to
Waybill served over HTTP, whose embedded queue runs the jobs on its worker threads. Each
sale is an order placed on WooCommerce for one unit of a fresh SKU; the time is from
placing it until the Shopify shop shows one unit less. Sales are one at a time.

    python -m bench.inventory [--skus N] [--simple N] [--per-parent N] [--pushes N] [--sales N]
                              [--database-url URL]

The full push runs ``--pushes`` times (default 3, each after its own recount); the last
line gives the worst calls ratios, the median time ratio and all failed writes.

Last line: shopify_calls_ratio=... woo_calls_ratio=... time_ratio=... failed_writes=...
propagation_p50_s=... propagation_p95_s=...
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from typing import Any

from bench._inventory_world import SHOP, World, recount, standard_plan, wait_for_full_bucket, world
from connectors.shopify.client import load_document
from connectors.shopify.throttle import REGISTRY
from db.models import Store
from db.stock import published_levels
from sandbox.shopify.cost import PLANS
from sync import stock_push
from sync.runtime import freeze_boot_heap

SHOPIFY_DOCUMENT = "inventory_set_quantities"


def _published(w: World, store_id: int, skus: list[str]) -> dict[str, int]:
    with w.rt.session() as s:
        store = s.get(Store, store_id)
        assert store is not None
        return published_levels(s, store, skus, "default")


def _shopify_levels(w: World) -> dict[str, int]:
    return dict(w.shopify.call("levels", SHOP))


def _woo_levels(w: World) -> dict[str, int]:
    return dict(w.woo.call("levels"))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def full_push(w: World, n: int = 0) -> dict[str, Any]:
    """Push ``n``: a recount moving every SKU (+7, then -3, +7...), then both pushes, timed."""
    with w.rt.session() as s:
        store = s.get(Store, w.shopify_store_id)
        assert store is not None
        account_id = store.account_id
    started = time.perf_counter()
    dirty = recount(w.rt, account_id, w.shopify_skus, -3 if n % 2 else 7, f"full-{n}")
    setup_s = time.perf_counter() - started
    assert dirty == {w.shopify_store_id, w.woo_store_id}, dirty
    standard_plan(w.shopify, w.rt.settings.shopify.base_url or "")
    waited = wait_for_full_bucket(w.shopify)
    before = w.shopify.call("served", "inventorySetQuantities")

    started = time.perf_counter()
    shop_summary = stock_push.push_stock(w.rt, store_id=w.shopify_store_id)
    shopify_s = time.perf_counter() - started
    after = w.shopify.call("served", "inventorySetQuantities")
    shop_calls = int(after["calls"] - before["calls"])
    busy, busy_wall, busy_cpu = (after[k] - before[k] for k in ("busy_s", "wall_s", "cpu_s"))

    woo_before = w.woo.call("batch_calls")
    started = time.perf_counter()
    woo_summary = stock_push.push_stock(w.rt, store_id=w.woo_store_id)
    woo_s = time.perf_counter() - started
    woo_calls = w.woo.call("batch_calls") - woo_before

    n = len(w.shopify_skus)
    shop_min = math.ceil(n / 250)
    woo_min = math.ceil(len(w.woo_simple) / 100) + sum(
        math.ceil(len(v) / 100) for v in w.woo_variations.values()
    )
    plan_name = w.shopify.call("plan", SHOP)
    plan = PLANS[plan_name]
    key = f"{w.rt.settings.shopify.base_url.rstrip('/')}|{SHOP}"
    cost = REGISTRY.expected_cost(key, load_document(SHOPIFY_DOCUMENT))
    rate_floor = max(0.0, (shop_min * cost - plan.bucket_size) / plan.restore_rate)
    service_floor = busy * shop_min / max(1, shop_calls)
    floor = max(rate_floor, service_floor)

    expected_shop = _published(w, w.shopify_store_id, w.shopify_skus)
    expected_woo = _published(w, w.woo_store_id, w.shopify_skus)
    shown_shop, shown_woo = _shopify_levels(w), _woo_levels(w)
    wrong = sum(1 for sku, q in expected_shop.items() if shown_shop.get(sku) != q)
    wrong += sum(1 for sku, q in expected_woo.items() if shown_woo.get(sku) != q)
    reported = sum(x["failed"] + x["observed"] for x in (shop_summary, woo_summary))
    print(
        f"setup: {n} SKUs recounted in {setup_s:.1f}s; waited {waited:.1f}s for the Shopify bucket to refill"
    )
    print(
        f"shopify: {shop_calls} calls (minimum {shop_min}) in {shopify_s:.2f}s; cost {cost} a call, "
        f"plan {plan_name} bucket {plan.bucket_size} restore {plan.restore_rate}/s -> rate floor "
        f"{rate_floor:.2f}s; simulator busy {busy:.2f}s (calls' spans summed {busy_wall:.2f}s, "
        f"its CPU {busy_cpu:.2f}s); "
        f"written {shop_summary['written']}"
    )
    print(
        f"woocommerce: {woo_calls} calls (minimum {woo_min}) in {woo_s:.2f}s; written "
        f"{woo_summary['written']}"
    )
    return {
        "shopify_calls_ratio": shop_calls / shop_min,
        "woo_calls_ratio": woo_calls / woo_min,
        "time_ratio": shopify_s / floor if floor > 0 else float("inf"),
        "failed_writes": wrong + reported,
        "shopify_s": shopify_s,
        "woo_s": woo_s,
        "floor_s": floor,
    }


def propagation(w: World, sales: int, timeout_s: float = 30.0) -> list[float]:
    """Seconds from a WooCommerce sale to the Shopify shop showing it, one sale at a time."""
    w.shopify.call("webhooks", "reset")  # the full push's own echoes are not part of this
    w.shopify.call("webhooks", "start")
    w.woo.call("webhooks", "reset")
    w.woo.call("webhooks", "start")
    w.rt.queue.start()  # type: ignore[attr-defined]  (the embedded queue's worker threads)
    times: list[float] = []
    for sku in w.woo_simple[:sales]:
        before = w.shopify.call("available", SHOP, sku)
        started = time.perf_counter()
        w.woo.call("place_order", [(sku, 1)])
        while (shown := w.shopify.call("available", SHOP, sku)) != before - 1:
            if time.perf_counter() - started > timeout_s:
                raise TimeoutError(f"{sku}: Shopify still shows {shown}, expected {before - 1}")
            time.sleep(0.002)
        times.append(time.perf_counter() - started)
    return times


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=10_000, help="SKUs on each channel")
    parser.add_argument(
        "--simple", type=int, default=5_000, help="WooCommerce simple products (rest: variations)"
    )
    parser.add_argument(
        "--per-parent", type=int, default=10, help="variations per WooCommerce variable product"
    )
    parser.add_argument("--pushes", type=int, default=3, help="full pushes (time_ratio: their median)")
    parser.add_argument("--sales", type=int, default=30, help="single sales timed for propagation (0: skip)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: embedded SQLite)")
    return parser.parse_args()


def main() -> None:
    args = _args()
    with tempfile.TemporaryDirectory(prefix="wb-bench-inventory-") as tmp:
        started = time.perf_counter()
        with world(tmp, args.skus, args.simple, args.per_parent, args.database_url) as w:
            frozen = freeze_boot_heap()  # as worker.py and app.py do once started
            print(f"world ready in {time.perf_counter() - started:.1f}s; {frozen} start-up objects frozen")
            pushes = []
            for n in range(args.pushes):
                print(f"-- full push {n + 1} of {args.pushes}")
                pushes.append(full_push(w, n))
            times = propagation(w, args.sales) if args.sales else []
    p50, p95 = _percentile(times, 0.5), _percentile(times, 0.95)
    ratios = ", ".join(f"{p['time_ratio']:.2f}" for p in pushes)
    print(f"time_ratio of each push: {ratios} (median below); calls ratios and failed writes: worst, sum")
    if times:
        print(f"propagation: {len(times)} sales, p50 {p50:.3f}s p95 {p95:.3f}s max {max(times):.3f}s")
    print(
        f"shopify_calls_ratio={max(p['shopify_calls_ratio'] for p in pushes):.2f} "
        f"woo_calls_ratio={max(p['woo_calls_ratio'] for p in pushes):.2f} "
        f"time_ratio={statistics.median(p['time_ratio'] for p in pushes):.2f} "
        f"failed_writes={sum(p['failed_writes'] for p in pushes)} "
        f"propagation_p50_s={p50:.3f} propagation_p95_s={p95:.3f}"
    )


if __name__ == "__main__":
    main()

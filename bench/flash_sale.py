"""A flash sale on the production setup: many merchants, one with most of the traffic, the
hot SKU selling out, and fair scheduling across merchants.

Set up as ``bench.pipeline`` (gunicorn serving the webhook receivers, ``worker.py``
processes and the scheduler on Redis, a fresh PostgreSQL database per run, the simulators in
a process of their own at zero added latency), with ``--merchants`` merchants, each with a
Shopify shop and a WooCommerce store (one account, one stock ledger). Orders are placed at
``--rate`` orders a second for ``--duration`` seconds, each on either of its merchant's
storefronts; ``--big-share`` of them at merchant 0. Three in ten are the merchant's hot SKU,
whose stock (on both channels, one ledger) is six tenths of what the plan would sell of
it: it runs out during the sale, and a buyer is refused where the channel shows too few.

Runs, each on a fresh database and Redis db: the whole sale with each count of
``--workers``, and, just before the one with ``--fair-workers`` workers, the small
merchants' orders alone (the same plan without merchant 0) with as many workers.

- ``order_to_label_p95_s`` (and p50 on the detail lines): from an order placed at the
  simulator to its last parcel's label bought at EasyPost, in the ``--fair-workers`` run.
- ``drain_s_W``: with W workers, seconds from the last order placed until every order is
  fulfilled or held (the backlog's drain).
- ``small_merchant_p95_ratio``: the small merchants' order-to-label p95 during the whole
  sale over their p95 alone (same worker count); fair scheduling keeps it at most 2.
- ``oversold``: units of the hot SKU shipped (fulfilled on Shopify, completed on WooCommerce)
  beyond its stock, per merchant, summed over merchants and runs (must be 0). Orders the
  channels took beyond stock while a push was on its way are held by Waybill (``held``).

Every run also checks every order against the platforms: each order not held is fulfilled
on its storefront, and no parcel has two labels.

    python -m bench.flash_sale [--rate 10] [--duration 30] [--merchants 20] [--workers 1,2,4]
    make flash-sale   # the full size: 100 orders/s for 60 s

Last line:
orders=... order_to_label_p95_s=... drain_s_1=... drain_s_2=... drain_s_4=...
small_merchant_p95_ratio=... oversold=0 (one line)
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bench import _flash_sandbox as flash
from bench import _pipeline_sandbox as base
from bench.pipeline import service_options, waybill, working
from telemetry import configure_logging

HOT_SHARE, HOT_SOLD_OUT_AT = 0.3, 0.6  # hot orders' share; stock = this share of the plan's hot units
DONE = ("fulfilled", "on_hold", "cancelled", "rejected", "delivered")


def plan_sale(rate: float, duration: float, merchants: int, big_share: float, seed: int = 21) -> list[Any]:
    """The sale's orders: (offset s, merchant, platform, lines, parcels), ``rate`` a second."""
    rng = random.Random(seed)
    plan = []
    for n in range(int(rate * duration)):
        m = 0 if rng.random() < big_share else rng.randrange(1, merchants)
        platform = "shopify" if rng.random() < 0.5 else "woocommerce"
        if rng.random() < HOT_SHARE:
            lines, parcels = [(flash.HOT, 1)], 1
        else:
            lines, parcels = base.order_lines(n), base.parcels_of(n)
        plan.append((n / rate, m, platform, lines, parcels))
    return plan


def hot_stock(plan: list[Any], merchants: int) -> list[int]:
    wanted = [0] * merchants
    for _, m, _, lines, _ in plan:
        wanted[m] += sum(q for sku, q in lines if sku == flash.HOT)
    return [max(1, int(w * HOT_SOLD_OUT_AT)) for w in wanted]


def connect_merchants(env: dict[str, str], info: dict[str, Any]) -> Any:
    """Each merchant's shop and store on one account (merchant m is account m + 1)."""
    from db.models import Platform
    from settings import load_settings
    from sync import catalog
    from sync.runtime import build_runtime
    from sync.stores import ensure_webhooks, save_store

    rt = build_runtime(load_settings(environ=env), migrate=False)
    scopes = "read_orders,write_orders,read_inventory,write_inventory,read_fulfillments,write_fulfillments"
    for m, token in enumerate(info["shopify_tokens"]):
        account = f"Flash merchant {m}"
        shop = save_store(
            rt, Platform.shopify, flash.shop_domain(m), {"access_token": token}, scopes, account_name=account
        )
        key, secret = info["woo_keys"][m]
        creds = {"consumer_key": key, "consumer_secret": secret}
        woo = save_store(
            rt, Platform.woocommerce, info["woo_urls"][m], creds, "read_write", account_name=account
        )
        for store_id in (shop, woo):
            catalog.import_catalog(rt, store_id=store_id)
            ensure_webhooks(rt, store_id, actor="bench")
    return rt


def make_config(partitions: int | None) -> Any:
    from bench.pipeline import config

    def build(tmp: str, public_url: str, urls: dict[str, str]) -> str:
        import yaml

        path = config(tmp, public_url, urls)
        if partitions is not None:
            with open(path) as fh:
                data = yaml.safe_load(fh)
            data["queue"] = {"partitions": partitions}
            with open(path, "w") as fh:
                yaml.safe_dump(data, fh)
        return path

    return build


def run_once(
    plan: list[Any], stock: list[int], workers: int, args: argparse.Namespace, log: Any
) -> dict[str, Any]:
    from bench.pipeline import wait_idle

    merchants = len(stock)
    with (
        flash.start(merchants, stock) as platforms,
        waybill(
            platforms, args.database_url, args.redis_url, make_config(args.partitions), connect_merchants
        ) as site,
    ):
        rt = site.rt
        with working(workers, site.env, log) as procs:
            wait_idle(rt, procs, timeout_s=600)  # the install's own jobs (imports, first pushes)
            t0 = platforms.call("sell", plan)
            while not platforms.call("progress")["done"]:
                _check_alive(procs)
                time.sleep(0.2)
            placed = platforms.call("placed")
            sale_end = max(r["at"] for r in placed)
            wait_settled(rt, procs, len(placed), workers)
            drained = time.time()
            wait_idle(rt, procs, timeout_s=600)  # the last stock pushes: the levels settle
            stats = platforms.call("stats")
            refused = platforms.call("progress")["refused"]
        return measure(rt, placed, stats, stock, t0, sale_end, drained, refused, workers)


def wait_settled(rt: Any, procs: list[Any], count: int, workers: int, stall_s: float = 300.0) -> None:
    """Until ``count`` orders are fulfilled or held; fails when none settles for ``stall_s``
    (a slow machine only slows it down)."""
    settled, progress_at = 0, time.monotonic()
    while settled < count:
        _check_alive(procs)
        now = _settled(rt)
        if now > settled:
            settled, progress_at = now, time.monotonic()
        elif time.monotonic() - progress_at > stall_s:
            raise SystemExit(f"{workers} worker(s): no order settled for {stall_s:.0f} s: {_stages(rt)}")
        time.sleep(0.1)


def _check_alive(procs: list[Any]) -> None:
    if any(p.poll() is not None for p in procs):
        raise SystemExit("a worker exited")


def _stages(rt: Any) -> dict[str, int]:
    from db.models import Order

    with rt.session() as s:
        return {
            str(stage): n for stage, n in s.execute(select(Order.stage, func.count()).group_by(Order.stage))
        }


def _settled(rt: Any) -> int:
    return sum(n for stage, n in _stages(rt).items() if stage in DONE)


def measure(
    rt: Any,
    placed: list[dict[str, Any]],
    stats: dict[str, Any],
    stock: list[int],
    t0: float,
    sale_end: float,
    drained: float,
    refused: int,
    workers: int,
) -> dict[str, Any]:
    from db.models import Order, Store

    with rt.session() as s:
        stores = {st.id: (st.account_id, str(st.platform)) for st in s.scalars(select(Store))}
        orders = list(s.scalars(select(Order)))
        rows = {o.id: (stores[o.store_id], int(o.platform_order_id), str(o.stage)) for o in orders}
        stored = {o.id: unix(o.created_at) for o in orders}
    accounts = sorted({a for a, _ in stores.values()})
    merchant_of = {a: i for i, a in enumerate(accounts)}  # merchant m is the m-th account
    at = {(r["merchant"], r["platform"], r["id"]): r["at"] for r in placed}
    labelled: dict[int, float] = {}
    for reference, bought in stats["labels"]:
        order_id = int(reference.split(":")[1])
        labelled[order_id] = max(labelled.get(order_id, 0.0), bought)
    latency: dict[int, list[float]] = {}
    intake: list[float] = []  # the small merchants' orders: placed to stored by Waybill
    held = 0
    for order_id, ((account, platform), pid, stage) in rows.items():
        m = merchant_of[account]
        if stage == "on_hold":
            held += 1
        if (m, platform, pid) not in at:
            continue
        if m != 0:
            intake.append(stored[order_id] - at[(m, platform, pid)])
        if order_id in labelled:
            latency.setdefault(m, []).append(labelled[order_id] - at[(m, platform, pid)])
    problems = _problems(rows, placed, stats, merchant_of)
    oversold = sum(max(0, stats["shipped"][m].get(flash.HOT, 0) - stock[m]) for m in range(len(stock)))
    taken = [0] * len(stock)
    for r in placed:
        taken[r["merchant"]] += sum(q for sku, q in r["lines"] if sku == flash.HOT)
    everyone = [x for xs in latency.values() for x in xs]
    small = [x for m, xs in latency.items() if m != 0 for x in xs]
    return {
        "workers": workers,
        "orders": len(placed),
        "refused": refused,
        "held": held,
        "taken_beyond_stock": sum(max(0, t - s) for t, s in zip(taken, stock, strict=True)),
        "sale_s": sale_end - t0,
        "drain_s": drained - sale_end,
        "p50": percentile(everyone, 50),
        "p95": percentile(everyone, 95),
        "small_p95": percentile(small, 95),
        "big_p95": percentile(latency.get(0, []), 95),
        "small_intake_p95": percentile(intake, 95),
        "oversold": oversold,
        "hot_levels": stats["hot_levels"],
        "problems": problems,
    }


def _problems(
    rows: dict[int, Any], placed: list[dict[str, Any]], stats: dict[str, Any], merchant_of: dict[int, int]
) -> list[str]:
    problems = []
    held = {(merchant_of[a], p, pid) for (a, p), pid, stage in rows.values() if stage == "on_hold"}
    ours = {(merchant_of[a], p, pid) for (a, p), pid, _ in rows.values()}
    expected = {(r["merchant"], r["platform"], r["id"]) for r in placed}
    if ours != expected:
        problems.append(f"orders held by Waybill {len(ours)} != placed {len(expected)}")
    for platform in ("shopify", "woocommerce"):
        want = {pid for m, p, pid in expected - held if p == platform}
        got = set(stats["fulfilled"][platform])
        if want - got:
            problems.append(f"{len(want - got)} {platform} orders not fulfilled on the storefront")
    references = [reference for reference, _ in stats["labels"]]
    if len(references) != len(set(references)) or stats["label_purchases"] != len(references):
        problems.append(f"labels bought twice: {len(references) - len(set(references))}")
    return problems


def unix(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=10.0, help="orders placed a second (all merchants)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds the sale lasts")
    parser.add_argument("--merchants", type=int, default=20)
    parser.add_argument("--big-share", type=float, default=0.7, help="merchant 0's share of the orders")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, one whole sale each")
    parser.add_argument("--fair-workers", type=int, default=2, help="workers of the fairness comparison")
    parser.add_argument(
        "--partitions", type=int, default=None, help="queue.partitions (default: config.yaml's)"
    )
    parser.add_argument("--log", default="", help="a file for the workers' output (default: discarded)")
    service_options(parser, "WAYBILL_BENCH_FLASH_REDIS_URL", 12, per_run=True)
    args = parser.parse_args()
    configure_logging("WARNING")  # this process's own runtime (it connects the stores)
    counts = [int(w) for w in args.workers.split(",")]
    if args.fair_workers not in counts:
        counts.append(args.fair_workers)
    plan = plan_sale(args.rate, args.duration, args.merchants, args.big_share)
    stock = hot_stock(plan, args.merchants)
    print(
        f"{len(plan)} orders ({args.rate:g}/s for {args.duration:g} s) across {args.merchants} merchants, "
        f"merchant 0 {args.big_share:.0%}; hot stock {stock[0]} (merchant 0), {sum(stock[1:])} (others); "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    sales: dict[int, dict[str, Any]] = {}
    with open(args.log, "wb") if args.log else tempfile.TemporaryFile() as log:
        for workers in counts:
            if workers == args.fair_workers:  # the two runs compared, one after the other
                alone = run_once([o for o in plan if o[1] != 0], stock, workers, args, log)
                report("small merchants alone", alone)
            sales[workers] = run_once(plan, stock, workers, args, log)
            report("whole sale", sales[workers])
    runs = [alone, *sales.values()]
    fair = sales[args.fair_workers]
    ratio = fair["small_p95"] / alone["small_p95"]
    problems = [p for r in runs for p in r["problems"]]
    if problems:
        print("PROBLEMS: " + "; ".join(problems), flush=True)
    print(
        f"fairness ({args.fair_workers} workers): the small merchants' p95 {fair['small_p95']:.2f} s "
        "in the sale, "
        f"{alone['small_p95']:.2f} s alone: x{ratio:.2f}",
        flush=True,
    )
    print(
        f"orders={fair['orders']} order_to_label_p95_s={fair['p95']:.2f} "
        + " ".join(f"drain_s_{w}={r['drain_s']:.1f}" for w, r in sorted(sales.items()) if w in counts)
        + f" small_merchant_p95_ratio={ratio:.2f} oversold={sum(r['oversold'] for r in runs)}"
    )
    if problems:
        raise SystemExit(1)


def report(what: str, r: dict[str, Any]) -> None:
    print(
        f"{what}, {r['workers']} worker(s): {r['orders']} orders placed in {r['sale_s']:.1f} s "
        f"({r['refused']} refused: sold out), drained {r['drain_s']:.1f} s after the last; "
        f"order-to-label p50 {r['p50']:.2f} s p95 {r['p95']:.2f} s (merchant 0 {r['big_p95']:.2f} s, "
        f"others {r['small_p95']:.2f} s; the others' placed to stored p95 "
        f"{r['small_intake_p95']:.2f} s); held {r['held']} (taken beyond stock {r['taken_beyond_stock']}), "
        f"oversold {r['oversold']}; hot levels {r['hot_levels']}",
        flush=True,
    )


if __name__ == "__main__":
    main()

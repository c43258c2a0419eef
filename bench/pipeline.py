"""Orders per minute through the whole pipeline, with 1, 2 and 4 worker processes.

Sandbox Shopify (Standard plan), WooCommerce and EasyPost run in a process of their own
at zero added latency. Waybill runs as in production: gunicorn serving the app (the
webhook receivers), ``worker.py`` processes on Redis, PostgreSQL. For each worker count, on
a fresh database and Redis db, one merchant's shop and store are connected (webhooks
registered, catalogs imported); then ``--orders`` orders are placed on each storefront at
once. The clock runs from the first order placed until the last order is fulfilled on
Waybill's side (webhook received, risk verified with an EasyPost address check and the
verdict written back, stock reserved and pushed to both channels, parcels chosen, rates
compared, labels bought, trackers started, fulfilment or completion written back).

    python -m bench.pipeline [--orders N] [--workers 1,2,4] [--database-url URL] [--redis-url URL]
                             [--baseline [REF]] [--rounds K]

- ``orders_per_min_W``: orders fulfilled per minute with W worker processes.
- ``cpu_ms_per_order``: CPU milliseconds Waybill's own processes (gunicorn and the workers)
  spent per order, in the one-worker run; the simulators' process is excluded, and so are
  PostgreSQL's and Redis's servers (their share is printed on the detail lines).
- ``double_labels``: labels EasyPost sold beyond one per parcel, over all runs (goal 0). The
  run also checks every order against the storefronts: each Shopify order has a
  fulfilment and each WooCommerce order is completed.
- ``sandbox_cpu_ms_per_order``: the simulators' CPU per order in the same run: the control.

``--baseline REF`` first runs the same measurement (this tree's ``bench/``) on the code at git
ref REF, from a temporary worktree (bench/_baseline.py), then on this tree, and adds
``baseline_cpu_ms_per_order`` and ``cpu_ratio`` (this tree's over REF's) to the last line,
and ``sandbox_ratio``: the simulators' CPU per order in this run over REF's. Their code is
the same in both, so a ratio away from 1 means the machine changed speed between the two
(another workload, another clock): the pair does not compare. ``--rounds K`` alternates the
two K times, swapping which runs first each round, and reports medians (this tree's
figures, REF's CPU, the rounds' ratios) and ``rounds=K``: on a machine whose speed drifts by
a fifth within minutes, one pair's ratio can be off by as much.

Last line:
orders_per_min_1=... orders_per_min_2=... orders_per_min_4=... cpu_ms_per_order=... double_labels=...
sandbox_cpu_ms_per_order=... [baseline_cpu_ms_per_order=... cpu_ratio=... sandbox_ratio=... [rounds=K]]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml
from redis import Redis
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from bench import _baseline, _counting
from bench import _pipeline_sandbox as sandbox
from bench._baseline import parse_headline
from bench._ingest_setup import (
    ROOT,
    Gunicorn,
    backends_cpu_s,
    cpu_seconds,
    flushed_redis,
    free_port,
    fresh_database,
    serving,
    waybill_env,
)
from sync.handoff import HANDOFF_KEY

WEB = Gunicorn("gthread", 2, 4)
WARM = 3  # orders on each storefront before the clock starts
ACCOUNT = "Bench Pipeline Trading"


def service_options(parser: argparse.ArgumentParser, redis_var: str, redis_db: int, per_run: bool) -> None:
    """``--database-url`` (a PostgreSQL server, ``WAYBILL_BENCH_PG_URL``) and ``--redis-url``
    (``redis_var``, else Redis db ``redis_db`` on localhost): where a run's Waybill lives."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WAYBILL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL server (a throw-away database is created on it"
        + (" per run)" if per_run else ")"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get(redis_var, f"redis://127.0.0.1:6379/{redis_db}")
    )


def config(tmp: str, public_url: str, urls: dict[str, str]) -> str:
    """Waybill's config for the run (a WAYBILL_CONFIG file: the same for gunicorn and workers)."""
    data = {
        "sandbox": True,  # the WooCommerce store is plain http on loopback
        "public_url": public_url,
        "shopify": {
            "api_key": sandbox.API_KEY,
            "api_secret": sandbox.API_SECRET,
            "base_url": urls["shopify"],
        },
        "easypost": {
            "api_key": sandbox.EP_KEY,
            "webhook_secret": sandbox.EP_WEBHOOK_SECRET,
            "base_url": urls["easypost"],
        },
        # Every buyer is new and the 2 x N orders come from one test network: not a velocity attack.
        "risk": {"velocity_max_orders": 1_000_000},
        "shipping": {"item_dimensions": {sandbox.CRATE: [40, 30, 30], sandbox.BOOK: [20, 14, 3]}},
        "schedules": {},  # no periodic jobs: nothing but the orders' own jobs (and their retries) runs
    }
    path = os.path.join(tmp, "waybill.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)
    return path


def connect(env: dict[str, str], info: dict[str, Any]) -> Any:
    """The merchant's shop and store, saved, webhooks registered, catalogs imported."""
    from db.models import Platform
    from settings import load_settings
    from sync import catalog
    from sync.runtime import build_runtime
    from sync.stores import ensure_webhooks, save_store

    rt = build_runtime(load_settings(environ=env), migrate=False)
    shop_id = save_store(
        rt,
        Platform.shopify,
        sandbox.SHOP,
        {"access_token": info["shopify_token"]},
        "read_orders,write_orders,read_inventory,write_inventory,read_fulfillments,write_fulfillments",
        account_name=ACCOUNT,
    )
    woo_id = save_store(
        rt,
        Platform.woocommerce,
        info["urls"]["woocommerce"],
        {"consumer_key": info["woo_key"], "consumer_secret": info["woo_secret"]},
        "read_write",
        account_name=ACCOUNT,
    )
    for store_id in (shop_id, woo_id):
        catalog.import_catalog(rt, store_id=store_id)
        ensure_webhooks(rt, store_id, actor="bench")  # raises if the platform refuses
    return rt


def start_workers(n: int, env: dict[str, str], log: Any) -> list[subprocess.Popen[bytes]]:
    """``n`` workers and the scheduler process, which moves retries whose wait has passed
    back onto their queues (workers do not run RQ's scheduler)."""
    commands = [[sys.executable, "worker.py"]] * n + [[sys.executable, "worker.py", "--scheduler"]]
    return [subprocess.Popen(c, cwd=ROOT, env=env, stdout=log, stderr=log) for c in commands]


@contextmanager
def working(n: int, env: dict[str, str], log: Any) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``start_workers`` for the block, stopped when it ends."""
    procs = start_workers(n, env, log)
    try:
        yield procs
    finally:
        stop_workers(procs)


def processes_cpu_s(procs: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds the processes ``procs`` have used so far."""
    pids = {p.pid for p in procs}
    return cpu_seconds(lambda pid, _ppid, _cmd: pid in pids)


@dataclass
class Site:
    """Waybill as a run sets it up (see ``waybill``)."""

    db_url: str
    public_url: str
    env: dict[str, str]
    web: Any  # bench._ingest_setup's served gunicorn: its ``cpu_s()``
    rt: Any
    count_dir: str  # where the processes write their counts (bench/_counting.py)


@contextmanager
def waybill(
    platforms: Any,
    server_url: str,
    redis_url: str,
    make_config: Callable[[str, str, dict[str, str]], str] = config,
    connect_stores: Callable[[dict[str, str], dict[str, Any]], Any] | None = None,
) -> Iterator[Site]:
    """Waybill for the block: a fresh database on ``server_url``, a flushed Redis db, gunicorn
    serving the app (``WEB``) with ``make_config``'s config for ``platforms`` (a bench sandbox
    process), the merchant's shop and store connected (``connect_stores``, default
    ``connect``: it returns a runtime). No worker runs yet."""
    with (
        fresh_database(server_url) as db_url,
        flushed_redis(redis_url),
        tempfile.TemporaryDirectory() as tmp,
    ):
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        env = waybill_env(db_url, redis_url, tmp)
        env |= {"WAYBILL_CONFIG": make_config(tmp, public, platforms.info["urls"])}
        count_dir = counting(tmp)
        env |= {
            "SHOPIFY_API_SECRET": sandbox.API_SECRET,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.path.join(tmp, "site")]),
            "WAYBILL_BENCH_COUNT_DIR": count_dir,
        }
        with serving(WEB, "app:create_app()", env, "/readyz", port) as web:
            rt = (connect_stores or connect)(env, platforms.info)
            try:
                yield Site(db_url, public, env, web, rt, count_dir)
            finally:
                rt.close()


def counting(tmp: str) -> str:
    """``bench/_counting.py`` as the ``sitecustomize`` of the processes started with
    ``tmp/site`` on their path; returns the directory their counts are written to."""
    site, counts = os.path.join(tmp, "site"), os.path.join(tmp, "counts")
    os.makedirs(site)
    os.makedirs(counts)
    shutil.copy2(_counting.__file__, os.path.join(site, "sitecustomize.py"))
    return counts


def counts_now(count_dir: str) -> Counter[str]:
    """Statements, commits and job attempts of Waybill's processes so far (written every
    half second: the queues have been idle for a second when this is called)."""
    time.sleep(_counting.EVERY_S * 1.5)
    total: Counter[str] = Counter()
    for role, counts in _counting.snapshot(count_dir).items():
        if role in ("web", "worker", "scheduler"):
            total.update({f"{role}:{k}": v for k, v in counts.items()})
    return total


def per_order(before: Counter[str], after: Counter[str], orders: int) -> dict[str, float]:
    """What the counts grew by in the window, per order: statements and commits per role, the
    job attempts (all jobs; ``jobs:<name>`` each)."""
    grown = Counter({k: after[k] - before.get(k, 0) for k in after})
    out: dict[str, float] = {}
    for role in ("web", "worker", "scheduler"):
        for what in ("statements", "commits"):
            out[f"{role}_{what}"] = grown[f"{role}:{what}"] / orders
    jobs: Counter[str] = Counter()
    for key, n in grown.items():
        if ":job:" in key and n:
            jobs[key.split(":")[2]] += n
    out["jobs"] = sum(jobs.values()) / orders
    out |= {f"jobs:{name}": n / orders for name, n in sorted(jobs.items())}
    return out


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def queues_idle(rt: Any) -> bool:
    """Nothing queued, running or handed off, on any queue's partitions (one round trip)."""
    conn: Redis = rt.queue.connection
    now = time.time()
    with conn.pipeline(transaction=False) as pipe:
        for queue in rt.queue.queues.values():
            pipe.llen(queue.key)
            pipe.zcount(StartedJobRegistry(queue=queue).key, now, "+inf")  # not yet expired
        pipe.llen(HANDOFF_KEY)
        return not any(pipe.execute())


def wait_idle(rt: Any, procs: list[subprocess.Popen[bytes]], timeout_s: float = 120) -> None:
    """Until the queues have been empty, with nothing running, for a second."""
    deadline, quiet_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a worker exited")
        if queues_idle(rt):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 1.0:
                return
        else:
            quiet_since = None
        time.sleep(0.1)
    raise SystemExit("the queues did not go quiet")


# Seconds a run may wait for its orders (``--deadline-s``); None: 300, or 4 s an order if more.
DEADLINE_S: float | None = None


def until_fulfilled(rt: Any, procs: list[subprocess.Popen[bytes]], count: int) -> None:
    # Generous: a loaded machine is slow.
    deadline = time.monotonic() + (DEADLINE_S or max(300.0, count * 4.0))
    while True:
        by_stage = stages(rt)
        if by_stage.get("fulfilled", 0) >= count:
            return
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit(f"{len(procs)} worker(s): not all {count} fulfilled: {dict(by_stage)}")
        time.sleep(0.05)


def stages(rt: Any) -> Counter[str]:
    from db.models import Order

    with rt.session() as s:
        return Counter(
            {stage: n for stage, n in s.execute(select(Order.stage, func.count()).group_by(Order.stage))}
        )


def run_once(workers: int, per_store: int, server_url: str, redis_url: str, log: Any) -> dict[str, Any]:
    from db.models import Order, Platform, Shipment, Store

    with sandbox.start() as platforms, waybill(platforms, server_url, redis_url) as site:
        rt, web = site.rt, site.web
        with working(workers, site.env, log) as procs:
            wait_idle(rt, procs)  # the install's own jobs (catalog import, first pushes)
            # Warm-up: a few orders through every path, so imports and first connections
            # are not counted.
            warm = platforms.call("place", 0, WARM)
            until_fulfilled(rt, procs, len(warm))
            wait_idle(rt, procs)
            counts0, inbox0 = counts_now(site.count_dir), last_inbox_id(rt)
            web0, workers0, sched0 = web.cpu_s(), processes_cpu_s(procs[:-1]), processes_cpu_s(procs[-1:])
            db0, sandbox0 = backends_cpu_s(site.db_url), platforms.call("stats")["cpu_s"]
            started = time.perf_counter()
            placed = platforms.call("place", WARM, per_store)
            total = len(placed)
            until_fulfilled(rt, procs, len(warm) + total)
            elapsed = time.perf_counter() - started
            wait_idle(rt, procs)  # their stock pushes and trackers: CPU counted up to here
            web_cpu, worker_cpu = web.cpu_s() - web0, processes_cpu_s(procs[:-1]) - workers0
            sched_cpu = processes_cpu_s(procs[-1:]) - sched0  # start_workers: the scheduler comes last
            cpu = web_cpu + worker_cpu + sched_cpu
            db_cpu = backends_cpu_s(site.db_url) - db0
            counted = per_order(counts0, counts_now(site.count_dir), total)
            placed += warm
            stats = platforms.call("stats")
        with rt.session() as s:
            stores = {st.id: st.platform for st in s.scalars(select(Store))}
            ours_orders = {(stores[o.store_id], int(o.platform_order_id)) for o in s.scalars(select(Order))}
            labelled = s.scalar(select(func.count()).where(Shipment.tracking_code.is_not(None))) or 0
        inbox = inbox_per_order(rt, inbox0, total)
    expected = {(Platform(p), oid) for p, oid, _ in placed}
    parcels = sum(n for _, _, n in placed)  # warm-up included: the checks cover every order
    problems = []
    if ours_orders != expected:
        problems.append(f"orders held {len(ours_orders)} != placed {len(expected)}")
    shop_ids = {oid for p, oid, _ in placed if p == "shopify"}
    woo_ids = {oid for p, oid, _ in placed if p == "woocommerce"}
    if set(stats["shopify_fulfilled"]) != shop_ids:
        problems.append(f"Shopify fulfilments on {len(stats['shopify_fulfilled'])} of {len(shop_ids)} orders")
    if set(stats["woo_completed"]) != woo_ids:
        problems.append(f"WooCommerce completed {len(stats['woo_completed'])} of {len(woo_ids)} orders")
    if labelled != parcels:
        problems.append(f"parcels with labels {labelled} != parcels {parcels}")
    double = stats["label_purchases"] - parcels
    if problems:
        print("  PROBLEMS: " + "; ".join(problems), flush=True)
    return {
        "workers": workers,
        "orders": total,  # timed (the warm-up's are checked too, not counted)
        "parcels": sum(n for _, _, n in placed[:total]),
        "elapsed_s": elapsed,
        "orders_per_min": total / elapsed * 60,
        "cpu_ms_per_order": cpu * 1000 / total,
        "web_cpu_ms_per_order": web_cpu * 1000 / total,
        "worker_cpu_ms_per_order": worker_cpu * 1000 / total,
        "scheduler_cpu_ms_per_order": sched_cpu * 1000 / total,
        "db_cpu_ms_per_order": db_cpu * 1000 / total,
        "sandbox_cpu_ms_per_order": (stats["cpu_s"] - sandbox0) * 1000 / total,
        "double_labels": double,
        "calls": stats["calls"],
        "counted": counted,
        "inbox": inbox,
        "problems": problems,
    }


def last_inbox_id(rt: Any) -> int:
    from db.models import InboxEvent

    with rt.session() as s:
        return int(s.scalar(select(func.max(InboxEvent.id))) or 0)


def inbox_per_order(rt: Any, after_id: int, orders: int) -> dict[str, float]:
    """Inbound events stored after ``after_id``, per order, by ``platform topic state``."""
    from db.models import InboxEvent

    with rt.session() as s:
        rows = s.execute(
            select(InboxEvent.platform, InboxEvent.topic, InboxEvent.state, func.count())
            .where(InboxEvent.id > after_id)
            .group_by(InboxEvent.platform, InboxEvent.topic, InboxEvent.state)
        ).all()
    return {f"{p} {t} {st}": n / orders for p, t, st, n in sorted(rows, key=str)}


BASELINE_REF = "3adc380"  # main before issue 21's work on CPU per order


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=100, help="orders placed on each storefront per run")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, one run each")
    parser.add_argument(
        "--baseline",
        nargs="?",
        const=BASELINE_REF,
        metavar="REF",
        help=f"first run the same measurement on the code at git ref REF (default {BASELINE_REF})",
    )
    parser.add_argument(
        "--deadline-s",
        type=float,
        help="how long a run waits for its orders to be fulfilled (default 300 s, or 4 s an order "
        "if more): longer on a machine loaded by other work",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with --baseline: alternate the two measurements this many times (REF, this tree, "
        "this tree, REF, ...) and report medians: a machine whose speed drifts biases one pair",
    )
    service_options(parser, "WAYBILL_BENCH_PIPELINE_REDIS_URL", 13, per_run=True)
    args = parser.parse_args()
    global DEADLINE_S
    DEADLINE_S = args.deadline_s
    counts = [int(w) for w in args.workers.split(",")]
    if not args.baseline:
        print(measure(counts, args))
        return
    argv = ["--orders", str(args.orders), "--workers", args.workers]
    argv += ["--deadline-s", str(args.deadline_s)] if args.deadline_s else []
    argv += ["--database-url", args.database_url, "--redis-url", args.redis_url]
    pairs: list[tuple[dict[str, str], dict[str, str]]] = []
    for n in range(max(1, args.rounds)):
        halves: dict[str, dict[str, str]] = {}
        # Each round swaps which half runs first, so a drift in one direction favours neither.
        for half in ("baseline", "current") if n % 2 == 0 else ("current", "baseline"):
            if half == "baseline":
                print(f"round {n + 1}, baseline: the same measurement on {args.baseline}", flush=True)
                halves[half] = _baseline.at_ref(args.baseline, "bench.pipeline", argv)
            else:
                print(f"round {n + 1}, current: the same measurement on this tree ({ROOT})", flush=True)
                halves[half] = parse_headline(measure(counts, args))
        pairs.append((halves["baseline"], halves["current"]))
        base, now = pairs[-1]
        print(
            f"round {n + 1}: cpu_ms_per_order {now['cpu_ms_per_order']} now, {base['cpu_ms_per_order']} at "
            f"{args.baseline}; sandbox {now.get('sandbox_cpu_ms_per_order')} / "
            f"{base.get('sandbox_cpu_ms_per_order')}",
            flush=True,
        )
    print(compared(pairs))


def compared(pairs: list[tuple[dict[str, str], dict[str, str]]]) -> str:
    """The headline of ``--baseline``: this tree's figures (medians over the rounds), REF's CPU
    an order, ``cpu_ratio`` (the median of the rounds' ratios) and ``sandbox_ratio``: the
    simulators' CPU per order now over REF's (the same code in both: a ratio away from 1
    means the machine changed speed between the halves)."""

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    def of(half: int, key: str) -> list[float]:
        return [float(pair[half][key]) for pair in pairs if pair[half].get(key)]

    now = {k: median(of(1, k)) for k in pairs[-1][1] if of(1, k)}
    if "double_labels" in now:  # a label bought twice in any round counts
        now["double_labels"] = max(of(1, "double_labels") + of(0, "double_labels"))
    line = " ".join(f"{k}={v:.0f}" for k, v in now.items())
    ratios = [float(c["cpu_ms_per_order"]) / float(b["cpu_ms_per_order"]) for b, c in pairs]
    line += f" baseline_cpu_ms_per_order={median(of(0, 'cpu_ms_per_order')):.0f}"
    line += f" cpu_ratio={median(ratios):.2f}"
    sandbox = [
        float(c["sandbox_cpu_ms_per_order"]) / float(b["sandbox_cpu_ms_per_order"])
        for b, c in pairs
        if c.get("sandbox_cpu_ms_per_order") and b.get("sandbox_cpu_ms_per_order")
    ]
    if sandbox:
        line += f" sandbox_ratio={median(sandbox):.2f}"
    return line + (f" rounds={len(pairs)}" if len(pairs) > 1 else "")


def measure(counts: list[int], args: argparse.Namespace) -> str:
    """One run per worker count; prints the detail lines and returns the headline."""
    print(
        f"{args.orders} orders on each storefront per run; web: {WEB.describe()}; "
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryFile() as log:
        for workers in counts:
            r = run_once(workers, args.orders, args.database_url, args.redis_url, log)
            results.append(r)
            print(
                f"workers={workers}: {r['orders']} orders ({r['parcels']} parcels) in {r['elapsed_s']:.1f} s "
                f"= {r['orders_per_min']:.0f}/min; Waybill CPU {r['cpu_ms_per_order']:.0f} ms/order, "
                f"PostgreSQL {r['db_cpu_ms_per_order']:.0f} ms/order, "
                f"sandbox {r['sandbox_cpu_ms_per_order']:.0f} ms/order (web {r['web_cpu_ms_per_order']:.0f}, "
                f"workers {r['worker_cpu_ms_per_order']:.0f}, "
                f"scheduler {r['scheduler_cpu_ms_per_order']:.0f}); calls {r['calls']}; "
                f"double labels {r['double_labels']}",
                flush=True,
            )
            c = r["counted"]
            print(
                f"  per order: statements web {c['web_statements']:.1f} workers {c['worker_statements']:.1f} "
                f"scheduler {c['scheduler_statements']:.1f}; commits web {c['web_commits']:.1f} "
                f"workers {c['worker_commits']:.1f} scheduler {c['scheduler_commits']:.1f}; "
                f"jobs {c['jobs']:.2f} ("
                + ", ".join(f"{k[5:]} {v:.2f}" for k, v in c.items() if k.startswith("jobs:"))
                + ")",
                flush=True,
            )
            print(
                "  inbound events per order: " + ", ".join(f"{k} {v:.2f}" for k, v in r["inbox"].items()),
                flush=True,
            )
    base = results[0]["orders_per_min"]
    print("scaling: " + ", ".join(f"{r['workers']}w x{r['orders_per_min'] / base:.2f}" for r in results))
    if any(r["problems"] for r in results):
        print("problems: " + " | ".join("; ".join(r["problems"]) for r in results if r["problems"]))
    per_min = {r["workers"]: r["orders_per_min"] for r in results}
    one = next((r for r in results if r["workers"] == 1), results[0])
    return (
        " ".join(f"orders_per_min_{w}={v:.0f}" for w, v in per_min.items())
        + f" cpu_ms_per_order={one['cpu_ms_per_order']:.0f}"
        + f" double_labels={sum(r['double_labels'] for r in results)}"
        + f" sandbox_cpu_ms_per_order={one['sandbox_cpu_ms_per_order']:.0f}"
    )


if __name__ == "__main__":
    main()

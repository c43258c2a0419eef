"""Returns per minute end to end (request -> refunded), with 1 and 2 worker processes.

Set up as bench/pipeline (gunicorn serving the app, ``worker.py`` processes and the
scheduler process on Redis, PostgreSQL on a fresh database; sandbox Shopify, WooCommerce and
EasyPost in a process of their own at zero added latency; ``schedules: {}``). EasyPost's
trackers move on a fake clock that only this benchmark moves (started in the past, see
bench/_returns_sandbox.py), and its webhook points at Waybill's ``/webhooks/easypost``.
The returns policy is config.yaml's default (refund once the return parcel is delivered to
the warehouse; prepaid return labels), with the merchant's ``shipping.ship_from`` as the
return address.

For each worker count, on a fresh database and Redis db:

1. ``--orders`` orders on each storefront (bench/pipeline's carts), fulfilled, then the
   carrier's clock runs until every parcel is delivered and the queues are idle.
2. The clock starts. One return per order is asked through the merchant's API
   (``POST /api/v1/returns``: one unit of the order's first line, reason ``unwanted``); once
   every return has its label (bought at EasyPost, its tracker started), the carrier's
   clock runs through the return journeys at once (each scan's Event sent as fast as
   Waybill answers). The clock stops when every return is ``refunded``.
3. Checks at the simulators: exactly one refund per order on its storefront (Shopify
   refunds through the return, WooCommerce order refunds), one return label per return.

    python -m bench.returns [--orders N] [--workers 1,2] [--database-url URL] [--redis-url URL]

- ``returns_per_min_W``: returns refunded per minute with W worker processes.
- ``cpu_ms_per_return``: CPU milliseconds Waybill's own processes (gunicorn, the workers and
  the scheduler) spent per return in the timed part of the one-worker run; the simulators'
  process, PostgreSQL's and Redis's servers are excluded (PostgreSQL's share is printed).
- ``double_refunds``: refunds beyond one per order at the storefronts, over all runs (goal 0).

Last line:
returns_per_min_1=... returns_per_min_2=... cpu_ms_per_return=... double_refunds=...
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from typing import Any

import requests
import yaml
from sqlalchemy import func, select

from bench import _returns_sandbox as sandbox
from bench._ingest_setup import backends_cpu_s
from bench.pipeline import (
    ACCOUNT,
    WEB,
    config,
    processes_cpu_s,
    service_options,
    until_fulfilled,
    wait_idle,
    waybill,
    working,
)

DAY = 86400.0
HOUR = 3600.0
LEAD_S = 30 * DAY  # the carrier's clock starts this far back: both journeys end before now
SHIP_FROM = {
    "name": "Bench Returns",
    "street1": "1 Warehouse Way",
    "city": "Oakland",
    "state": "CA",
    "zip": "94607",
    "country": "US",
    "phone": "5105550100",
}


def returns_config(tmp: str, public_url: str, urls: dict[str, str]) -> str:
    """bench/pipeline's config with the merchant's address (the return labels' destination)."""
    path = config(tmp, public_url, urls)
    with open(path) as fh:
        data = yaml.safe_load(fh)
    data["shipping"]["ship_from"] = SHIP_FROM
    with open(path, "w") as fh:
        yaml.safe_dump(data, fh)
    return path


def first_lines(rt: Any) -> dict[int, str]:
    """Each order's id -> its first line's platform id (what a return asks for)."""
    from core.orders import Order as CoreOrder
    from db.models import Order

    with rt.session() as s:
        return {o.id: CoreOrder.from_dict(o.data).line_items[0].line_id for o in s.scalars(select(Order))}


def states(rt: Any) -> Counter[str]:
    from db.models import Return

    with rt.session() as s:
        return Counter(dict(s.execute(select(Return.state, func.count()).group_by(Return.state)).all()))


def until(rt: Any, procs: list[Any], done: Any, what: str, timeout_s: float) -> None:
    """Poll Waybill's returns until ``done(states)``; a worker exiting or time running out ends the run."""
    deadline = time.monotonic() + timeout_s
    while not done(states(rt)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit(f"{len(procs)} process(es): {what} not reached: {dict(states(rt))}")
        time.sleep(0.05)  # polling the benchmark's own progress, not synchronising a test


def token_for(rt: Any) -> str:
    from db.accounts import get_or_create_account, issue_token

    with rt.session() as s:
        return str(issue_token(s, get_or_create_account(s, ACCOUNT)))


def ask_returns(public_url: str, token: str, lines: dict[int, str]) -> None:
    """One return per order through the merchant's API (an Idempotency-Key each)."""
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        for order_id, line_id in sorted(lines.items()):
            body = {
                "order_id": order_id,
                "items": [{"line_id": line_id, "quantity": 1, "reason": "unwanted"}],
            }
            answer = http.post(
                f"{public_url}/api/v1/returns",
                json=body,
                headers={"Idempotency-Key": f"bench-{order_id}"},
                timeout=30,
            )
            if answer.status_code != 201 or answer.json().get("state") == "refused":
                raise SystemExit(f"return of order {order_id}: {answer.status_code} {answer.text[:300]}")


def timed_returns(rt: Any, procs: list[Any], platforms: Any, public_url: str) -> float:
    """Step 2 of the module's docstring; returns the seconds from the first request to the last refund."""
    lines = first_lines(rt)
    token = token_for(rt)
    count = len(lines)
    started = time.perf_counter()
    ask_returns(public_url, token, lines)
    labelled = ("label_sent", "in_transit", "received", "inspected", "refunded")
    until(rt, procs, lambda by: sum(by[s] for s in labelled) >= count, "every label bought", 60 + count)
    platforms.call("advance", platforms.call("journeys_left_s") + 60, HOUR)
    until(rt, procs, lambda by: by["refunded"] >= count, "every return refunded", 120 + 2 * count)
    return time.perf_counter() - started


def run_once(workers: int, per_store: int, server_url: str, redis_url: str, log: Any) -> dict[str, Any]:
    with (
        sandbox.start(LEAD_S) as platforms,
        waybill(platforms, server_url, redis_url, returns_config) as site,
    ):
        rt, web = site.rt, site.web
        platforms.call("hook", f"{site.public_url}/webhooks/easypost")
        with working(workers, site.env, log) as procs:
            wait_idle(rt, procs)
            placed = platforms.call("place", 0, per_store)
            until_fulfilled(rt, procs, len(placed))
            platforms.call("advance", platforms.call("journeys_left_s") + 60, HOUR)
            wait_idle(rt, procs)  # every order delivered
            web0, workers0, db0 = web.cpu_s(), processes_cpu_s(procs), backends_cpu_s(site.db_url)
            elapsed = timed_returns(rt, procs, platforms, site.public_url)
            web_cpu, worker_cpu = web.cpu_s() - web0, processes_cpu_s(procs) - workers0
            db_cpu = backends_cpu_s(site.db_url) - db0
            wait_idle(rt, procs)  # the write-backs after each refund (notes, closing)
            held = platforms.call("returns")
    return figures(workers, placed, held, elapsed, web_cpu, worker_cpu, db_cpu)


def figures(
    workers: int,
    placed: list[tuple[str, int, int]],
    held: dict[str, Any],
    elapsed: float,
    web_cpu: float,
    worker_cpu: float,
    db_cpu: float,
) -> dict[str, Any]:
    """The run's figures, and its problems as the simulators show them."""
    total = len(placed)
    counts = [held["refunds"][platform].get(str(order_id), 0) for platform, order_id, _ in placed]
    problems = []
    if any(n == 0 for n in counts):
        problems.append(f"{sum(n == 0 for n in counts)} orders without a refund")
    if held["return_labels"] != total:
        problems.append(f"{held['return_labels']} return labels for {total} returns")
    if problems:
        print("  PROBLEMS: " + "; ".join(problems), flush=True)
    return {
        "workers": workers,
        "returns": total,
        "elapsed_s": elapsed,
        "returns_per_min": total / elapsed * 60,
        "cpu_ms_per_return": (web_cpu + worker_cpu) * 1000 / total,
        "web_cpu_ms_per_return": web_cpu * 1000 / total,
        "worker_cpu_ms_per_return": worker_cpu * 1000 / total,
        "db_cpu_ms_per_return": db_cpu * 1000 / total,
        "double_refunds": sum(max(0, n - 1) for n in counts),
        "problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=30, help="orders (one return each) on each storefront")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated")
    service_options(parser, "WAYBILL_BENCH_RETURNS_REDIS_URL", 12, per_run=False)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    if args.orders < 1 or not counts or min(counts) < 1:
        parser.error("--orders and --workers must be positive")
    print(
        f"{args.orders} orders on each storefront, one return each; web: {WEB.describe()}; "
        f"workers {counts}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    runs = {}
    with tempfile.TemporaryFile() as log:
        for n in counts:
            r = run_once(n, args.orders, args.database_url, args.redis_url, log)
            runs[n] = r
            print(
                f"{n} worker(s): {r['returns']} returns in {r['elapsed_s']:.1f} s = "
                f"{r['returns_per_min']:.0f}/min; Waybill CPU {r['cpu_ms_per_return']:.1f} ms/return "
                f"(web {r['web_cpu_ms_per_return']:.1f}, workers and scheduler "
                f"{r['worker_cpu_ms_per_return']:.1f}), "
                f"PostgreSQL {r['db_cpu_ms_per_return']:.1f} ms/return; "
                f"double refunds {r['double_refunds']}",
                flush=True,
            )
    first = runs[min(runs)]
    rates = " ".join(f"returns_per_min_{n}={r['returns_per_min']:.0f}" for n, r in sorted(runs.items()))
    print(
        f"{rates} cpu_ms_per_return={first['cpu_ms_per_return']:.1f} "
        f"double_refunds={sum(r['double_refunds'] for r in runs.values())}"
    )


if __name__ == "__main__":
    main()

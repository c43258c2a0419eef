"""Carrier Event in -> storefront write-back done: latency at a steady rate, and one worker's rate.

Set up as bench/pipeline (gunicorn serving the app, ``worker.py`` processes on Redis,
PostgreSQL on a fresh database; sandbox Shopify, WooCommerce and EasyPost in a process of
their own at zero added latency; config ``schedules: {}``, ``tracking`` at its defaults),
with one worker and the scheduler process. EasyPost's trackers move on a fake clock that
only this benchmark moves, and its webhook points at Waybill's ``/webhooks/easypost``.

1. ``--orders`` orders on each storefront, all fulfilled (labels bought, trackers created,
   fulfilments written back); the carrier clock then passes the label scans (an Event per
   parcel, nothing to write back) and the queues go idle.
2. Steady rate: for ``--steady-s`` seconds, every ``1 / --rate`` s the carrier's clock moves
   to its next scan, so one Event goes out (``steady_events_per_s``: the rate achieved).
3. Latency, from Waybill's own records (wall clock both): for each tracking write-back
   (effects ledger key ``trackevt:<shipment>:<status>:<epoch>``, ``completed_at``), the
   earliest ``tracker.updated`` inbox row whose tracker carried the scan at ``<epoch>``
   (``received_at``). p50 and p95 over the Events of step 2.
4. Throughput: the carrier's clock runs through the rest of every journey at once (ticks of
   ``--step-s`` carrier seconds, so each scan gets its Event, sent as fast as Waybill answers);
   Events processed per second from the first received until the queues are idle.
5. Checks: no dead letters, every Event processed, no Shopify fulfilment event twice (same
   status and time), no WooCommerce customer note twice, every write-back on its storefront,
   every parcel and order delivered.

    python -m bench.tracking [--orders N] [--rate R] [--steady-s S] [--database-url URL] [--redis-url URL]

Last line:
event_to_storefront_p50_s=... event_to_storefront_p95_s=... events_per_s_1=... steady_events_per_s=...
writebacks_per_s_1=...
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, func, select, text

from bench import _tracking_sandbox as sandbox
from bench._ingest_setup import backends_cpu_s
from bench.pipeline import (
    WEB,
    processes_cpu_s,
    queues_idle,
    service_options,
    until_fulfilled,
    wait_idle,
    waybill,
    working,
)
from core.transit import nearest_rank

HOUR = 3600.0
WRITE_BACK = "trackevt:"


@dataclass
class Heard:
    """Waybill's tracker Events, read back from its inbox."""

    received: list[tuple[datetime, datetime | None, str]] = field(default_factory=list)  # at, done, state
    first: dict[tuple[str, int], datetime] = field(default_factory=dict)  # (tracker, scan epoch) -> at


@dataclass
class WriteBack:
    shipment_id: int
    status: str
    epoch: int
    completed_at: datetime


def utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def epoch_of(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


def heard(rt: Any) -> Heard:
    from db.models import InboxEvent, Platform

    found = Heard()
    query = select(InboxEvent).where(
        InboxEvent.platform == Platform.easypost, InboxEvent.topic == sandbox.TRACKER_UPDATED
    )
    with rt.session() as s:
        for event in s.scalars(query.execution_options(yield_per=500)):
            at = utc(event.received_at)
            done = utc(event.processed_at) if event.processed_at is not None else None
            found.received.append((at, done, str(event.state)))
            result = json.loads(event.body)["result"]
            for detail in result["tracking_details"]:
                key = (str(result["id"]), epoch_of(detail["datetime"]))
                if key not in found.first or at < found.first[key]:
                    found.first[key] = at
    return found


def write_backs(rt: Any) -> tuple[list[WriteBack], dict[int, tuple[str, str]]]:
    """Completed tracking write-backs, and each shipment's (tracker id, storefront platform)."""
    from db.models import Effect, EffectState, Shipment, Store

    done = []
    with rt.session() as s:
        query = select(Effect.key, Effect.completed_at).where(
            Effect.key.startswith(WRITE_BACK), Effect.state == EffectState.done
        )
        for key, completed in s.execute(query):
            shipment, status, epoch = key.removeprefix(WRITE_BACK).split(":")
            done.append(WriteBack(int(shipment), status, int(epoch), utc(completed)))
        parcels = {
            sid: (str(tracker), str(platform))
            for sid, tracker, platform in s.execute(
                select(Shipment.id, Shipment.tracker_id, Store.platform).join(
                    Store, Store.id == Shipment.store_id
                )
            )
        }
    return done, parcels


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in (0, 1]); NaN for no values."""
    return nearest_rank(values, share) if values else float("nan")


@dataclass
class Phases:
    """Wall-clock bounds of the steady phase and of the throughput one."""

    steady_from: datetime
    steady_to: datetime
    burst_from: datetime
    idle_at: datetime


def latencies(
    backs: list[WriteBack], parcels: dict[int, tuple[str, str]], events: Heard, phases: Phases
) -> tuple[dict[str, list[float]], int]:
    """Seconds from the first Event carrying each write-back's scan to the write-back done, for
    the Events of the steady phase, per storefront platform; and how many write-backs no Event
    carried."""
    steady: dict[str, list[float]] = {}
    unmatched = 0
    for back in backs:
        tracker, platform = parcels[back.shipment_id]
        at = events.first.get((tracker, back.epoch))
        if at is None:
            unmatched += 1
        elif phases.steady_from <= at < phases.steady_to:
            steady.setdefault(platform, []).append((back.completed_at - at).total_seconds())
    return steady, unmatched


def throughput(backs: list[WriteBack], events: Heard, since: datetime, idle_at: datetime) -> dict[str, Any]:
    """Events processed and write-backs done per second, from the first Event received after
    ``since`` until the queues went idle (``idle_at``: the trailing jobs of the last Events
    count too); also when the last Event was processed and the last write-back done."""
    burst = [(at, done) for at, done, _ in events.received if at >= since]
    if not burst:
        return {"events": 0, "write_backs": 0, "span_s": float("nan")}
    first = min(at for at, _ in burst)
    finished = [done for _, done in burst if done is not None]
    written = [b.completed_at for b in backs if b.completed_at >= first]
    return {
        "events": len(burst),
        "write_backs": len(written),
        "span_s": (idle_at - first).total_seconds(),
        "last_processed_s": (max(finished, default=first) - first).total_seconds(),
        "last_written_s": (max(written, default=first) - first).total_seconds(),
    }


def idle_from(rt: Any, procs: Any, timeout_s: float) -> datetime:
    """Wait until the queues have been idle for a second (as ``wait_idle``); when they went idle."""
    deadline, quiet_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a worker exited")
        if not queues_idle(rt):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now()
        elif (now() - quiet_since).total_seconds() >= 1.0:
            return quiet_since
        time.sleep(0.05)  # polling Redis, as bench/pipeline's wait_idle does
    raise SystemExit("the queues did not go quiet")


def storefront_problems(held: dict[str, Any], backs: list[WriteBack], parcels: dict[int, Any]) -> list[str]:
    problems = []
    twice = 0
    for events in held["shopify_events"].values():
        twice += sum(n - 1 for n in Counter(map(tuple, events)).values() if n > 1)
    if twice:
        problems.append(f"{twice} Shopify fulfilment event(s) written twice (same status and time)")
    if held["woo_duplicate_notes"]:
        problems.append(f"{held['woo_duplicate_notes']} WooCommerce tracking note(s) written twice")
    on_shopify = sum(len(events) for events in held["shopify_events"].values())
    ours = sum(1 for b in backs if parcels[b.shipment_id][1] == "shopify")
    if on_shopify != ours:
        problems.append(f"Shopify holds {on_shopify} fulfilment events, Waybill wrote {ours}")
    moving = {s: n for s, n in held["tracker_states"].items() if s != "delivered"}
    if moving:
        problems.append(f"trackers not delivered at the end: {moving}")
    return problems


def waybill_problems(rt: Any, events: Heard, unmatched: int) -> list[str]:
    from db.models import DeadLetter, Effect, EffectState, Order, Shipment

    problems = []
    with rt.session() as s:
        dead = s.scalar(select(func.count()).select_from(DeadLetter)) or 0
        unfinished = s.scalar(
            select(func.count()).where(Effect.key.startswith(WRITE_BACK), Effect.state != EffectState.done)
        )
        stages = Counter(str(st) for st in s.scalars(select(Order.stage)))
        undelivered = s.scalar(
            select(func.count()).where(Shipment.delivery_state.is_distinct_from("delivered"))
        )
    if dead:
        problems.append(f"{dead} dead letter(s)")
    if unfinished:
        problems.append(f"{unfinished} write-back(s) not done in the effects ledger")
    states = Counter(state for _, _, state in events.received)
    left = {state: n for state, n in states.items() if state not in ("done", "ignored")}
    if left:
        problems.append(f"tracker Events not processed: {left}")
    if unmatched:
        problems.append(f"{unmatched} write-back(s) with no Event carrying their scan")
    if undelivered:
        problems.append(f"{undelivered} parcel(s) not delivered in Waybill")
    if set(stages) != {"delivered"}:
        problems.append(f"orders by stage at the end: {dict(stages)}")
    return problems


def now() -> datetime:
    return datetime.now(UTC)


def transactions(db_url: str) -> int:
    """Transactions committed or rolled back in ``db_url``'s database so far (PostgreSQL's
    statistics: a backend flushes its counts when it exits, else within seconds of going idle)."""
    name = db_url.rsplit("/", 1)[1]
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :name")
            return int(conn.execute(query, {"name": name}).scalar_one())
    finally:
        engine.dispose()


def run(
    per_store: int, rate: float, steady_s: float, server_url: str, redis_url: str, log: Any
) -> dict[str, Any]:
    with sandbox.start() as platforms, waybill(platforms, server_url, redis_url) as site:
        platforms.call("hook", f"{site.public_url}/webhooks/easypost")
        with working(1, site.env, log) as procs:
            figures = phases(site.rt, procs, platforms, site.web, site.db_url, per_store, rate, steady_s)
        # read once the workers' backends have exited, which flushes their statistics
        figures["burst_transactions"] = transactions(site.db_url) - figures.pop("burst_transactions_from")
        figures |= analyse(site.rt, platforms, figures.pop("phases"))
    return figures


def phases(
    rt: Any, procs: Any, platforms: Any, web: Any, db_url: str, per_store: int, rate: float, steady_s: float
) -> dict[str, Any]:
    """Steps 1, 2 and 4 of the module's docstring; the phases' bounds and the detail figures."""
    wait_idle(rt, procs)  # the install's own jobs (catalog import, first pushes)
    placed = platforms.call("place", 0, per_store)
    until_fulfilled(rt, procs, len(placed))
    wait_idle(rt, procs)
    labels = platforms.call("advance", HOUR + 60, None)  # every parcel's label scan: one Event each
    wait_idle(rt, procs)
    print(f"  set-up: {len(placed)} orders fulfilled, {labels} label-scan Events handled", flush=True)
    steady_from = now()
    paced = platforms.call("steady", rate, steady_s)
    wait_idle(rt, procs)
    steady_to = now()
    web0, workers0 = web.cpu_s(), processes_cpu_s(procs)
    db0, xacts0 = backends_cpu_s(db_url), transactions(db_url)
    left = platforms.call("journeys_left_s")
    burst_from = now()
    sent = platforms.call("advance", left + 60, 900.0)
    idle_at = idle_from(rt, procs, timeout_s=max(120.0, sent * 0.5))
    workers_cpu = processes_cpu_s(procs) - workers0
    return {
        "phases": Phases(steady_from, steady_to, burst_from, idle_at),
        "orders": len(placed),
        "parcels": sum(n for _, _, n in placed),
        "steady_sent": paced["events"],
        "steady_wall_s": paced["wall_s"],
        "steady_late_max_s": paced["late_max_s"],
        "burst_sent": sent,
        "burst_carrier_h": (left + 60) / HOUR,
        "burst_web_cpu_s": web.cpu_s() - web0,
        "burst_workers_cpu_s": workers_cpu,
        "burst_db_cpu_s": backends_cpu_s(db_url) - db0,
        "burst_transactions_from": xacts0,
    }


def analyse(rt: Any, platforms: Any, bounds: Phases) -> dict[str, Any]:
    events = heard(rt)
    backs, parcels = write_backs(rt)
    steady, unmatched = latencies(backs, parcels, events, bounds)
    burst = throughput(backs, events, bounds.burst_from, bounds.idle_at)
    held = platforms.call("tracking")
    problems = waybill_problems(rt, events, unmatched) + storefront_problems(held, backs, parcels)
    if held["updates_sent"] != len(events.received):
        problems.append(
            f"the carrier sent {held['updates_sent']} Events, Waybill holds {len(events.received)}"
        )
    return {
        "latencies": steady,
        "events_total": len(events.received),
        "write_backs_total": len(backs),
        "burst": burst,
        "problems": problems,
        "shopify_event_calls": sum(held["shopify_event_calls"].values()),
        "shopify_events": sum(len(e) for e in held["shopify_events"].values()),
        "woo_event_notes": held["woo_event_notes"],
    }


def spread(values: list[float]) -> str:
    return (
        f"{len(values)} write-backs: p50 {percentile(values, 0.5):.3f} s, "
        f"p95 {percentile(values, 0.95):.3f} s, max {max(values, default=float('nan')):.3f} s"
    )


def report(r: dict[str, Any], rate: float) -> None:
    by_platform, burst = r["latencies"], r["burst"]
    lat = [v for values in by_platform.values() for v in values]
    steady_rate = r["steady_sent"] / r["steady_wall_s"]
    print(
        f"steady: {r['steady_sent']} Events in {r['steady_wall_s']:.1f} s = {steady_rate:.2f}/s "
        f"(asked {rate:g}/s, pace at most {r['steady_late_max_s'] * 1000:.0f} ms late); {spread(lat)}",
        flush=True,
    )
    for platform, values in sorted(by_platform.items()):
        print(f"  {platform}: {spread(values)}", flush=True)
    per_s = burst["events"] / burst["span_s"]

    def ms(cpu_s: float) -> str:
        return f"{cpu_s * 1000 / max(1, burst['events']):.1f}"

    backs_per_s = burst["write_backs"] / burst["span_s"]
    web_s, workers_s = r["burst_web_cpu_s"], r["burst_workers_cpu_s"]
    print(
        f"throughput: {burst['events']} Events ({r['burst_carrier_h']:.0f} carrier hours at once) and "
        f"{burst['write_backs']} write-backs in {burst['span_s']:.1f} s to idle queues (last Event processed "
        f"at {burst['last_processed_s']:.1f} s, last write-back at {burst['last_written_s']:.1f} s) = "
        f"{per_s:.1f} Events/s, "
        f"{backs_per_s:.1f} write-backs/s; Waybill CPU {ms(web_s + workers_s)} ms/Event "
        f"(web {ms(web_s)}, worker and scheduler {ms(workers_s)}), "
        f"PostgreSQL {ms(r['burst_db_cpu_s'])} ms/Event, "
        f"{r['burst_transactions'] / max(1, burst['events']):.0f} transactions/Event",
        flush=True,
    )
    print(
        f"totals: {r['orders']} orders, {r['parcels']} parcels, {r['events_total']} tracker Events, "
        f"{r['write_backs_total']} write-backs (Shopify {r['shopify_events']} fulfilment events from "
        f"{r['shopify_event_calls']} calls; WooCommerce {r['woo_event_notes']} customer notes)",
        flush=True,
    )
    if r["problems"]:
        print("problems: " + "; ".join(r["problems"]), flush=True)
    print(
        f"event_to_storefront_p50_s={percentile(lat, 0.5):.3f} "
        f"event_to_storefront_p95_s={percentile(lat, 0.95):.3f} events_per_s_1={per_s:.1f} "
        f"steady_events_per_s={steady_rate:.2f} writebacks_per_s_1={backs_per_s:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=60, help="orders placed on each storefront")
    parser.add_argument("--rate", type=float, default=5.0, help="tracker Events per second, steady phase")
    parser.add_argument("--steady-s", type=float, default=30.0, help="wall seconds of the steady phase")
    service_options(parser, "WAYBILL_BENCH_TRACKING_REDIS_URL", 11, per_run=False)
    args = parser.parse_args()
    if args.orders < 1 or args.rate <= 0 or args.steady_s <= 0:
        parser.error("--orders, --rate and --steady-s must be positive")
    print(
        f"{args.orders} orders on each storefront; steady {args.rate:g} Events/s for {args.steady_s:g} s; "
        f"web: {WEB.describe()}; 1 worker; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    started = time.monotonic()
    with tempfile.TemporaryFile() as log:
        r = run(args.orders, args.rate, args.steady_s, args.database_url, args.redis_url, log)
    print(f"  ({time.monotonic() - started:.0f} s in all)", flush=True)
    report(r, args.rate)


if __name__ == "__main__":
    main()

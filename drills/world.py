"""The production setup a drill runs against, started from the repository with no hand steps.

    with World(WorldConfig(merchants=2, workers=2)) as world:
        placed = world.place(world.orders(10))      # 10 orders per storefront, webhooks follow
        world.settle(placed)                         # until every order is done and all is quiet
        report = check(placed, world.observe())      # drills.check

What runs (each in its own process): a private PostgreSQL cluster and a private Redis
(``drills.servers``, AOF on), the platforms (``drills._platforms``: sandbox Shopify with one
shop per merchant, one WooCommerce store per merchant, EasyPost), gunicorn serving
``app:create_app()`` (as ``bench.pipeline``), ``workers`` ``worker.py`` processes and the
scheduler (``worker.py --scheduler``) with the schedules of ``WorldConfig.schedules`` (by
default production's short safety-net sweeps at 5 s, ``SAFETY_NET``; no reconciliation: a
drill that needs periodic reconciliations names them). Every merchant is
an account with a Shopify shop and a WooCommerce store connected through Waybill's own code
paths (``sync.stores.save_store``, catalog import, webhook registration).

The interface a drill uses:

- ``orders(per_store, start)`` / ``place(orders)``: the load driver (orders placed on the
  storefront simulators, which send their webhooks); ``place`` returns :class:`Placed` records,
  also kept in ``placed`` (every order of the world, which the checker covers).
- ``next_number()``: an order number no order of this world has used yet (it picks the cart).
- ``faults(platform, **plan)`` / ``clear_faults()``: the simulators' fault plans
  (:class:`sandbox.harness.Faults`); ``blackout()``: every subscription deleted or disabled.
- ``workers`` (the running ``worker.py`` processes), ``start_worker()``, ``stop_worker(i)``
  (SIGTERM, warm shutdown), ``kill_worker(i)`` (SIGKILL), ``respawn(i)``; ``scheduler``.
- ``settle(placed, timeout_s)``: until every placed order is in its final state at the
  platforms, the queues are idle (no delayed job or retry waiting either) and no webhook is
  pending (raises ``TimeoutError``).
- ``observe()``: what the platforms hold (``drills._platforms``); ``rt``: a Waybill runtime on
  the same database and Redis, for looking inside; ``postgres``/``redis``: the servers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bench._ingest_setup import ROOT, SECRET_KEY, Gunicorn, serving
from bench._pipeline_sandbox import API_KEY, API_SECRET, BOOK, CRATE, EP_KEY, EP_WEBHOOK_SECRET
from drills import _platforms
from drills.netns import Network
from drills.servers import PrivatePostgres, PrivateRedis, free_port, pg_bin

PLATFORMS = ("shopify", "woocommerce")
SHOPIFY_SCOPES = (
    "read_orders,write_orders,read_inventory,write_inventory,read_fulfillments,write_fulfillments"
)


# Production's short safety-net sweeps (config.yaml's ``schedules``), at drill speed. The
# reconciliation, audits and catalog imports are left out: a drill that needs one names it
# (R7 counts the one reconciliation it enqueues itself).
SAFETY_NET = {
    "sweep_inbox": 5.0,
    "requeue_dead_letters": 15.0,
    "sweep_stock": 5.0,
    "settle_overdue": 5.0,
    "resume_shipping": 5.0,
    "resume_verification": 5.0,
}


@dataclass
class WorldConfig:
    """How big the world is and which periodic jobs its scheduler runs (name -> seconds)."""

    merchants: int = 2
    workers: int = 2
    schedules: dict[str, float] = field(default_factory=lambda: dict(SAFETY_NET))
    web: Gunicorn = field(default_factory=lambda: Gunicorn("gthread", 2, 4))
    host: str = "127.0.0.1"  # where PostgreSQL and Redis listen
    # Workers and the scheduler each in a network namespace of their own (drills.netns, root):
    # PostgreSQL, Redis and the platforms then listen on the bridge's address, gunicorn on
    # loopback only, out of the workers' reach.
    # ``python -m drills --netns`` turns it on for every drill (WAYBILL_DRILL_NETNS=1).
    netns: bool = field(default_factory=lambda: os.environ.get("WAYBILL_DRILL_NETNS") == "1")
    extra_config: dict[str, Any] = field(default_factory=dict)  # merged into Waybill's config


@dataclass(frozen=True)
class Placed:
    """One order placed on a storefront: whose, where, its id there, parcels and cart."""

    merchant: int
    platform: str
    order_id: int
    parcels: int
    lines: tuple[tuple[str, int], ...]


class World:
    """The running setup; see the module's docstring. Use as a context manager."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        self._stack = ExitStack()
        self.workers: list[subprocess.Popen[bytes]] = []
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.rt: Any = None
        self._ended: set[int] = set()  # pids stopped or killed on purpose
        self.network: Network | None = None
        self.placed: list[Placed] = []
        self._numbers = 0  # every order placed in this world, for the checker

    def __enter__(self) -> World:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for i in range(len(self.workers)):
            self.stop_worker(i)
        if self.scheduler is not None:
            _stop(self.scheduler)
        self._stack.close()

    # -- start-up
    def _start(self) -> None:
        from db.session import upgrade

        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError(
                "PostgreSQL server programs (initdb, pg_ctl) not found; set WAYBILL_TEST_PG_BIN"
            )
        self.tmp = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="waybill-drill-")))
        host, platforms_host = self.config.host, "127.0.0.1"
        if self.config.netns:
            self.network = self._stack.enter_context(Network())
            host, platforms_host = self.network.address, "0.0.0.0"
        self.postgres = PrivatePostgres(bindir, host=host)
        self._stack.callback(self.postgres.close)
        self.redis = PrivateRedis(host=host)
        self._stack.callback(self.redis.close)
        upgrade(self.postgres.url())
        platforms = _platforms.start(self.config.merchants, host=platforms_host)
        self.platforms = self._stack.enter_context(platforms)
        port = free_port()
        self.public_url = f"http://127.0.0.1:{port}"
        self.env = self._env()
        web = serving(self.config.web, "app:create_app()", self.env, "/readyz", port)
        self.web = self._stack.enter_context(web)
        self._connect()
        for _ in range(self.config.workers):
            self.start_worker()
        self.scheduler = self._spawn("scheduler", "--scheduler")
        self.settle([])

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": self.postgres.url(), "REDIS_URL": self.redis.url(0)}
        env |= {"WAYBILL_MODE": "production", "WAYBILL_SECRET_KEY": SECRET_KEY, "PYTHONPATH": str(ROOT)}
        env |= {"SHOPIFY_API_SECRET": API_SECRET, "WAYBILL_VAR_DIR": str(self.tmp / "var")}
        # DRILL_LOG=INFO keeps the processes' info lines in their logs (default: warnings only).
        env |= {"WAYBILL_LOG_LEVEL": os.environ.get("DRILL_LOG", "WARNING")}
        env |= {"WAYBILL_CONFIG": self._write_config()}
        return env

    def _write_config(self) -> str:
        info = self.platforms.info
        data: dict[str, Any] = {
            "sandbox": True,  # the WooCommerce stores are plain http on loopback
            "public_url": self.public_url,
            "shopify": {"api_key": API_KEY, "api_secret": API_SECRET, "base_url": info["shopify"]},
            "easypost": {
                "api_key": EP_KEY,
                "webhook_secret": EP_WEBHOOK_SECRET,
                "base_url": info["easypost"],
            },
            # Every buyer is new and all orders come from one test network: not a velocity attack.
            "risk": {"velocity_max_orders": 1_000_000},
            "shipping": {"item_dimensions": {CRATE: [40, 30, 30], BOOK: [20, 14, 3]}},
            "schedules": dict(self.config.schedules),
        }
        data |= self.config.extra_config
        path = self.tmp / "waybill.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)

    def _connect(self) -> None:
        """Each merchant's shop and store saved, webhooks registered, catalogs imported."""
        from db.models import Platform
        from settings import load_settings
        from sync import catalog
        from sync.runtime import build_runtime
        from sync.stores import ensure_webhooks, save_store

        self.rt = build_runtime(load_settings(environ=self.env), migrate=False)
        self._stack.callback(self.rt.close)
        info = self.platforms.info
        self.store_ids: dict[tuple[int, str], int] = {}
        for m, ((domain, token), woo_url, (key, secret)) in enumerate(
            zip(info["shops"], info["woocommerce"], info["woo_keys"], strict=True)
        ):
            account = f"Drill merchant {m}"
            shop = save_store(
                self.rt,
                Platform.shopify,
                domain,
                {"access_token": token},
                SHOPIFY_SCOPES,
                account_name=account,
            )
            creds = {"consumer_key": key, "consumer_secret": secret}
            woo = save_store(
                self.rt, Platform.woocommerce, woo_url, creds, "read_write", account_name=account
            )
            self.store_ids |= {(m, "shopify"): shop, (m, "woocommerce"): woo}
        for store_id in self.store_ids.values():
            catalog.import_catalog(self.rt, store_id=store_id)
            ensure_webhooks(self.rt, store_id, actor="drill")  # raises if the platform refuses

    # -- processes
    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 (the process keeps it)
        self._stack.callback(log.close)
        argv = [sys.executable, "worker.py", *args]
        if self.network is not None:  # a namespace of its own, the platforms relayed into it
            ns = self.network.add()
            ns.relay(self.network.address, self._platform_ports(), log)
            argv = ns.argv(argv)
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=log)

    def _platform_ports(self) -> list[int]:
        info = self.platforms.info
        urls = [info["shopify"], info["easypost"], *info["woocommerce"]]
        return [int(urlsplit(url).port or 80) for url in urls]

    def start_worker(self) -> int:
        """One more ``worker.py``; returns its index in ``workers``."""
        self.workers.append(self._spawn(f"worker-{len(self.workers)}"))
        return len(self.workers) - 1

    def stop_worker(self, i: int) -> None:
        self._ended.add(self.workers[i].pid)
        _stop(self.workers[i])

    def kill_worker(self, i: int) -> None:
        """SIGKILL: the worker dies wherever it is (mid-job, mid-transaction)."""
        proc = self.workers[i]
        self._ended.add(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def respawn(self, i: int) -> None:
        """A fresh ``worker.py`` in slot ``i`` (the old one stopped first if still alive)."""
        self.stop_worker(i)
        self.workers[i] = self._spawn(f"worker-{i}")

    # -- load and faults
    def orders(self, per_store: int, start: int = 0) -> list[tuple[int, str, int]]:
        """``per_store`` orders on every storefront of every merchant, interleaved, numbered from
        ``start`` (the number picks the cart): the argument ``place`` takes."""
        self._numbers = max(self._numbers, start + per_store)
        return [
            (m, platform, start + n)
            for n in range(per_store)
            for m in range(self.config.merchants)
            for platform in PLATFORMS
        ]

    def next_number(self) -> int:
        return self._numbers

    def place(self, orders: list[tuple[int, str, int]]) -> list[Placed]:
        made = self.platforms.call("place", orders)
        placed = [Placed(m, p, oid, parcels, tuple(map(tuple, lines))) for m, p, oid, parcels, lines in made]
        self.placed += placed
        return placed

    def faults(self, platform: str, **plan: Any) -> None:
        """Set the fault plan of ``platform`` (``shopify``, ``woocommerce``: every store, ``easypost``)."""
        self.platforms.call("faults", platform, plan)

    def clear_faults(self) -> None:
        for platform in ("shopify", "woocommerce", "easypost"):
            self.faults(platform)

    def blackout(self) -> list[dict[str, int]]:
        return list(self.platforms.call("blackout"))

    def observe(self) -> dict[str, Any]:
        return dict(self.platforms.call("observe"))

    # -- waiting
    def settle(self, placed: list[Placed], timeout_s: float = 120.0, quiet_s: float = 1.0) -> float:
        """Until every order of ``placed`` is in its final state at the platforms, Waybill's
        queues are idle and no webhook is queued at the platforms, for ``quiet_s``; returns
        the seconds waited. Raises ``TimeoutError`` with what was still missing."""
        from drills.check import unfinished

        started = time.monotonic()
        quiet_since: float | None = None
        missing: list[Placed] = []
        while time.monotonic() - started < timeout_s:
            self._check_alive()
            missing = unfinished(placed, self.observe()) if placed else []
            if not missing and self.idle():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet_s:
                    return time.monotonic() - started
            else:
                quiet_since = None
            time.sleep(0.25)
        raise TimeoutError(
            f"not settled in {timeout_s:.0f} s: {len(missing)} orders unfinished {missing[:5]}, "
            f"not idle: {'; '.join(self.busy()) or 'nothing (idle at the last look)'}"
        )

    def idle(self) -> bool:
        """Nothing queued, running or waiting for its time in Waybill's queues (a delayed
        settle or push, a retry), nothing handed off, no webhook queued at the platforms,
        and no stock change still to be written to a channel (a mark left behind waits for
        the stock sweep: checking the channels before it would see a level not yet pushed)."""
        from bench.pipeline import queues_idle

        waiting = sum(q.scheduled_job_registry.count for q in self.rt.queue.queues.values())
        return (
            not waiting
            and bool(queues_idle(self.rt))
            and self.platforms.call("pending") == 0
            and not self.stock_marks()
        )

    def busy(self) -> list[str]:
        """What keeps :meth:`idle` false, named (for a settle that timed out): each queue
        partition with jobs queued, running (unexpired entries of its started registry, with
        their job ids) or scheduled, hand-offs not yet pumped, webhooks queued at the
        platforms, stock marks."""
        from rq.registry import StartedJobRegistry

        from sync.handoff import HANDOFF_KEY

        now, found = time.time(), []
        conn = self.rt.queue.connection
        for name, queue in self.rt.queue.queues.items():
            queued = conn.llen(queue.key)
            running = conn.zrangebyscore(StartedJobRegistry(queue=queue).key, now, "+inf")
            scheduled = queue.scheduled_job_registry.count
            if queued or running or scheduled:
                ids = [entry.decode() if isinstance(entry, bytes) else str(entry) for entry in running[:3]]
                found.append(f"{name}: queued={queued} running={len(running)} {ids} scheduled={scheduled}")
        handoffs = conn.llen(HANDOFF_KEY)
        pending = self.platforms.call("pending")
        marks = self.stock_marks()
        found += [f"hand-offs={handoffs}"] if handoffs else []
        found += [f"webhooks pending at the platforms={pending}"] if pending else []
        found += [f"stock marks={marks}"] if marks else []
        return found

    def stock_marks(self) -> int:
        """Stock changes not yet written to their channel (``StockDirty`` rows). A pooled
        connection the database dropped (R5 restarts it) is replaced: asked once more."""
        from sqlalchemy import func, select
        from sqlalchemy.exc import OperationalError

        from db.models import StockDirty

        for attempt in (1, 2):
            try:
                with self.rt.session() as s:
                    return int(s.scalar(select(func.count()).select_from(StockDirty)) or 0)
            except OperationalError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _check_alive(self) -> None:
        procs = [*self.workers, *([self.scheduler] if self.scheduler else [])]
        dead = [p.args for p in procs if p.poll() is not None and p.pid not in self._ended]
        if dead:
            raise RuntimeError(f"a Waybill process exited: {dead}; logs in {self.tmp}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

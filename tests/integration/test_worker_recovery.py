"""Fault drills on the production process model: real `worker.py` processes, the scheduler
and gunicorn against PostgreSQL and a Redis of the test's own (so it may be killed).

Each drill sends signed Shopify order webhooks and ends with every event processed, no
order lost and none stored twice; the recovery time it measured is printed (``-s``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import Engine, create_engine, text

from settings import load_settings
from sync.jobs import JobMessage
from sync.queue import partition_names
from sync.redis_queue import RedisJobQueue
from sync.rq_worker import LeanWorker
from tests.conftest import SECRET
from tests.procs import free_port, wait_for
from worker import build_worker

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "shopify" / "orders_create__basic.json"
SHOP = "drill.myshopify.com"
APP_SECRET = "app-secret"
SWEEP_S = 20  # the drills' sweep interval (schedules.sweep_inbox)


def partitions(queue: str) -> list[str]:
    """The RQ queues of ``queue`` (``queue.partitions`` of the config the drills' processes use)."""
    return partition_names([queue], load_settings({}, environ={}).queue.partitions)


def _redis_server() -> str:
    for folder in ["/usr/bin", *os.environ.get("PATH", "").split(":")]:
        if (Path(folder) / "redis-server").exists():
            return str(Path(folder) / "redis-server")
    pytest.skip("redis-server not installed (CI installs it)")


@dataclass
class Site:
    """PostgreSQL, a private Redis, and the Waybill processes a drill starts."""

    database_url: str
    tmp: Path
    redis_port: int = field(default_factory=free_port)
    redis: subprocess.Popen[bytes] | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    web: str = ""
    engine: Engine | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def start_redis(self) -> None:
        args = ["--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.redis = subprocess.Popen(
            [_redis_server(), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: Redis.from_url(self.redis_url).ping(), 10, "private redis")

    def kill_redis(self) -> None:
        assert self.redis is not None
        self.redis.kill()
        self.redis.wait()

    def env(self) -> dict[str, str]:
        site = self.tmp / "site.yaml"
        site.write_text(
            f"schedules:\n  sweep_inbox: {SWEEP_S}\n  reconcile_all: 86400\n  catalog_all: 86400\n"
            "  inventory_audit_all: 86400\ninbox:\n  sweep_after_s: 1\n"
        )
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "WAYBILL_SECRET_KEY": SECRET,
            "WAYBILL_CONFIG": str(site),
            "SHOPIFY_API_SECRET": APP_SECRET,
            "WAYBILL_VAR_DIR": str(self.tmp / "var"),
            "WAYBILL_LOG_LEVEL": "WARNING",
        }

    def prepare(self) -> None:
        self.start_redis()
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
            cwd=ROOT,
            env=self.env(),
            check=True,
            capture_output=True,
        )
        self.engine = create_engine(self.database_url)
        with self.engine.begin() as conn:
            conn.execute(text("INSERT INTO accounts (name, created_at) VALUES ('m', now())"))
            conn.execute(
                text(
                    "INSERT INTO stores (account_id, platform, domain, state, settings, created_at)"
                    f" SELECT id, 'shopify', '{SHOP}', 'active', '{{}}', now() FROM accounts"
                )
            )

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        self.procs[name] = proc
        return proc

    def start_web(self) -> None:
        port = free_port()
        self.spawn("web", "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "app:create_app()")
        self.web = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{self.web}/healthz", timeout=2).status_code == 200, 60, "web")

    def post_order(self, n: int) -> int:
        payload = json.loads(FIXTURE.read_text())
        payload["id"] = 7_000_000 + n
        payload["admin_graphql_api_id"] = f"gid://shopify/Order/{7_000_000 + n}"
        payload["name"] = f"#D{n}"
        body = json.dumps(payload).encode()
        sig = base64.b64encode(hmac.new(APP_SECRET.encode(), body, hashlib.sha256).digest()).decode()
        answer = requests.post(
            f"{self.web}/webhooks/shopify",
            data=body,
            timeout=10,
            headers={
                "X-Shopify-Hmac-Sha256": sig,
                "X-Shopify-Topic": "orders/create",
                "Content-Type": "application/json",
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Event-Id": f"drill-{n}",
            },
        )
        return answer.status_code

    def counts(self) -> tuple[int, int, int]:
        """(events not finished, orders stored, orders stored more than once)."""
        assert self.engine is not None
        with self.engine.connect() as conn:
            unfinished = conn.execute(
                text("SELECT count(*) FROM inbox_events WHERE state NOT IN ('done', 'ignored')")
            ).scalar_one()
            orders = conn.execute(text("SELECT count(*) FROM orders")).scalar_one()
            doubled = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT platform_order_id FROM orders"
                    " GROUP BY platform_order_id HAVING count(*) > 1) AS d"
                )
            ).scalar_one()
        return int(unfinished), int(orders), int(doubled)

    def describe(self) -> str:
        """The inbox's states and the queues' registries, for a drill that timed out."""
        assert self.engine is not None
        with self.engine.connect() as conn:
            states = conn.execute(text("SELECT state, count(*) FROM inbox_events GROUP BY state")).all()
            sessions = conn.execute(
                text(
                    "SELECT state, wait_event_type, left(query, 60) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
        redis = Redis.from_url(self.redis_url)
        queues = {}
        for name in [*partitions("intake"), *partitions("orders")]:
            queue = Queue(name, connection=redis)
            started = queue.started_job_registry.get_job_ids()
            if len(queue) or started or queue.scheduled_job_registry.count:
                queues[name] = (len(queue), started, queue.scheduled_job_registry.get_job_ids())
        return f"inbox {dict((str(a), b) for a, b in states)}; queues {queues}; sessions {sessions}"

    def all_processed(self, n: int) -> bool:
        unfinished, orders, _ = self.counts()
        return unfinished == 0 and orders == n

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait()
        if self.engine is not None:
            self.engine.dispose()


@pytest.fixture
def site(postgres_url: str, tmp_path: Path) -> Iterator[Site]:
    _redis_server()
    drill = Site(postgres_url, tmp_path)
    try:
        drill.prepare()
        yield drill
    finally:
        drill.stop()


def test_a_sigkilled_workers_job_is_processed_by_another_worker_within_60_s(site: Site) -> None:
    site.start_web()
    site.spawn("scheduler", "worker.py", "--scheduler")
    workers = [site.spawn(f"worker-{i}", "worker.py") for i in range(2)]
    redis = Redis.from_url(site.redis_url)
    assert site.engine is not None
    # Hold the orders table: each worker's order job stops at its first read of it (a
    # read, so that the killed worker's session holds nothing the re-run needs).
    with site.engine.connect() as blocker:
        blocker.execute(text("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"))
        for n in range(10):
            assert site.post_order(n) == 200
        # The intake queue's partitions (queue.partitions): the store's account's holds the jobs.
        started = [Queue(name, connection=redis).started_job_registry for name in partitions("intake")]

        def busy_workers() -> list[str] | None:
            ids = [j for registry in started for j in registry.get_job_ids()]
            names = [Job.fetch(j, connection=redis).worker_name or "" for j in ids]
            return names if len(names) == 2 else None

        names = wait_for(busy_workers, 30, "both workers to be inside an order job")
        victim_pid = int(redis.hget(f"rq:worker:{names[0]}", "pid") or 0)
        [victim] = [w for w in workers if w.pid == victim_pid]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic()
        blocker.rollback()
    try:
        wait_for(lambda: site.all_processed(10), 60, "every event processed after the kill")
    except AssertionError:
        raise AssertionError(site.describe()) from None
    recovered_s = time.monotonic() - killed_at
    print(f"\nSIGKILL drill: every event processed {recovered_s:.1f} s after the kill")
    unfinished, orders, doubled = site.counts()
    assert (unfinished, orders, doubled) == (0, 10, 0)
    assert [w.poll() for w in workers if w is not victim] == [None]


def test_redis_killed_and_restarted_empty_mid_burst_heals_within_one_sweep(site: Site) -> None:
    site.start_web()
    site.spawn("scheduler", "worker.py", "--scheduler")
    workers = [site.spawn(f"worker-{i}", "worker.py") for i in range(2)]
    wait_for(lambda: Redis.from_url(site.redis_url).scard("rq:workers") == 2, 30, "workers up")
    total = 240
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(site.post_order, range(0, 80))) == {200}
        site.kill_redis()  # jobs queued and running are lost with it
        assert set(pool.map(site.post_order, range(80, 160))) == {200}  # stored, not handed off
        time.sleep(3)
        site.start_redis()  # empty
        returned_at = time.monotonic()
        assert set(pool.map(site.post_order, range(160, total))) == {200}
    wait_for(lambda: site.all_processed(total), SWEEP_S, "every event processed after Redis returned")
    healed_s = time.monotonic() - returned_at
    print(f"\nRedis drill: every event processed {healed_s:.1f} s after Redis returned")
    unfinished, orders, doubled = site.counts()
    assert (unfinished, orders, doubled) == (0, total, 0)
    assert [w.poll() for w in workers] == [None, None]  # the workers outlived the outage


def test_an_idle_worker_picks_up_a_job_after_30_s_of_quiet_in_under_1_s(site: Site) -> None:
    worker = site.spawn("worker", "worker.py")
    redis = Redis.from_url(site.redis_url)
    queue = Queue("reconcile", connection=redis)

    def ping() -> Job:
        job_id = f"ping-{uuid.uuid4().hex}"
        msg = JobMessage(name="ping", kwargs={"token": job_id}, job_id=job_id, queue="reconcile")
        return queue.enqueue("sync.queue.rq_entry", asdict(msg), job_id=job_id, result_ttl=600)

    def finished(job: Job) -> Any:
        job.refresh()  # type: ignore[no-untyped-call]
        return job.ended_at if job.get_status() == "finished" else None

    first = ping()
    wait_for(lambda: finished(first), 60, "the worker to run a first job")  # the quiet starts now
    time.sleep(30)
    job = ping()
    wait_for(lambda: finished(job), 60, "the job after the quiet")
    assert job.started_at is not None and job.enqueued_at is not None
    waited_s = (job.started_at - job.enqueued_at).total_seconds()
    print(f"\nIdle drill: the job waited {waited_s:.3f} s for the worker after 30 s of quiet")
    assert waited_s < 1.0
    assert worker.poll() is None


def test_a_workers_blocking_dequeue_is_not_cut_short_by_the_hand_off_timeout(redis_url: str) -> None:
    """The idle stall's mechanism, in less time: hand-off connections with a 1 s socket
    timeout (5 s in production) made before the worker starts (by the pump thread of
    `worker.py` and whatever else used the pool), then 8 s of quiet. A worker whose
    blocking dequeue gets such a connection times out, backs off 1, 2, 4 s (the same
    connection comes back to it each time) and misses the job by seconds. In a running
    worker it gets one by chance, which is why the stall came and went."""
    handoff = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=1)
    queue = RedisJobQueue(load_settings({"redis_url": redis_url}, environ={}), connection=handoff)
    pumps = [threading.Thread(target=queue.pump, kwargs={"block_s": 0.2}) for _ in range(3)]
    for pump in pumps:  # the pool now holds three connections made with the 1 s timeout
        pump.start()
    for pump in pumps:
        pump.join()
    worker = build_worker(queue, ["reconcile"], LeanWorker)
    jobs = Queue("reconcile", connection=Redis.from_url(redis_url))
    sent: list[Job] = []

    def producer() -> None:  # the worker runs in this test's main thread (RQ's signals)
        sent.append(jobs.enqueue("time.time"))
        wait_for(lambda: sent[0].get_status(refresh=True) == "finished", 30, "a first job")
        time.sleep(8)
        sent.append(jobs.enqueue("time.time"))

    threading.Thread(target=producer, daemon=True).start()
    worker.work(max_jobs=2, max_idle_time=30, logging_level="ERROR")
    job = sent[-1]
    job.refresh()  # type: ignore[no-untyped-call]
    assert job.started_at is not None and job.enqueued_at is not None
    waited_s = (job.started_at - job.enqueued_at).total_seconds()
    print(f"\nIdle worker: the job waited {waited_s:.3f} s after 8 s of quiet")
    assert waited_s < 1.0
    worker.connection.close()
    queue.close()

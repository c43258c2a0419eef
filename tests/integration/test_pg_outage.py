"""PostgreSQL stops under the production setup (gunicorn, a worker, the scheduler, Redis).

While it is down the receivers answer 503, never 500, with one log line per request and
no traceback; jobs that were running wait for it without spending their retries. Once
it is back, every event committed before the outage and every event the platform sends
again is processed: none lost, none stored twice.

The PostgreSQL stopped is the module's own (``private_postgres``), never the shared one;
Redis is the test's own too, so no other test run on the machine can flush or drain it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from redis import Redis
from rq.worker_registration import REDIS_WORKER_KEYS
from sqlalchemy import create_engine, text

from settings import load_settings
from tests.conftest import BACKEND, SECRET, PrivatePostgres
from tests.procs import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "shopify" / "orders_cancelled__customer.json"
APP_SECRET = "outage-app-secret"
SHOP = "outage.myshopify.com"
BEFORE = 30  # events committed before the outage, still queued when it begins
DURING = 40  # events sent during the outage (each answered 503, then sent again)
OUTAGE_S = 8.0  # longer than the store cache (5 s) and than the intake jobs' retry budget


def order_body(n: int) -> bytes:
    order = json.loads(FIXTURE.read_text())
    order["id"] = 7_000_000 + n
    order["admin_graphql_api_id"] = f"gid://shopify/Order/{7_000_000 + n}"
    order["name"] = f"#O{n}"
    return json.dumps(order).encode()


def post(base: str, n: int) -> requests.Response:
    """Shopify's ``orders/cancelled`` for order ``n``, signed, event id ``ev-n`` (a resend
    of the same delivery has the same id)."""
    body = order_body(n)
    sig = base64.b64encode(hmac.new(APP_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return requests.post(
        f"{base}/webhooks/shopify",
        data=body,
        timeout=10,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": sig,
            "X-Shopify-Topic": "orders/cancelled",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Event-Id": f"ev-{n}",
            "X-Shopify-Webhook-Id": f"wh-{n}",
            "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Triggered-At": "2026-01-01T00:00:00Z",
        },
    )


class Processes:
    """The production processes, their stderr kept in files for the log checks."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        err = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=err
        )
        err.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def private_redis() -> Iterator[str]:
    """A Redis of this test's own: nothing else on the machine reads or flushes it."""
    server = shutil.which("redis-server")
    if server is None:
        if BACKEND == "services" or os.environ.get("CI") == "true":
            pytest.fail("redis-server not installed")
        pytest.skip("redis-server not installed (runs in CI's services pass)")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for(lambda: Redis.from_url(url).ping(), 10, "the private Redis")
        yield url
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def production(private_postgres: PrivatePostgres, private_redis: str, tmp_path: Path) -> Iterator[Any]:
    from db.session import upgrade

    url = private_postgres.url()
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (name, created_at) VALUES ('outage', now())"))
        conn.execute(
            text(
                "INSERT INTO stores (account_id, platform, domain, state, settings, created_at)"
                " SELECT id, 'shopify', :shop, 'active', '{}', now() FROM accounts"
            ),
            {"shop": SHOP},
        )
    site = tmp_path / "site.yaml"
    # Periodic jobs run once, at start: the sweeper must not hide a job lost during the
    # outage. A small retry budget: an outage spending it leaves the events committed
    # before it unprocessed. Short outage waits, so the backlog drains soon after.
    once = ", ".join(f"{name}: 3600" for name in load_settings().schedules)
    site.write_text(
        f"schedules: {{{once}}}\n"
        "inbox: {sweep_after_s: 86400}\n"
        "queue:\n"
        "  retry_by_queue:\n"
        "    intake: {max: 2, base_s: 1.0}\n"
        "  outage: {base_s: 0.5, max_s: 2.0}\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": private_redis,
        "WAYBILL_SECRET_KEY": SECRET,
        "WAYBILL_CONFIG": str(site),
        "SHOPIFY_API_SECRET": APP_SECRET,
        "WAYBILL_VAR_DIR": str(tmp_path / "var"),
        "WAYBILL_LOG_LEVEL": "WARNING",
    }
    procs = Processes(env, tmp_path)
    try:
        yield private_postgres, engine, procs, private_redis
    finally:
        procs.stop_all()
        engine.dispose()
        if not private_postgres.running():
            private_postgres.start()


def test_postgresql_outage_answers_503_and_loses_nothing(production: Any) -> None:
    server, engine, procs, redis_url = production
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = ["-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-k", "gthread", "-w", "1", "--threads", "4"]
    procs.start("web", *gunicorn, "app:create_app()")
    worker = procs.start("worker", "worker.py")
    procs.start("scheduler", "worker.py", "--scheduler")
    wait_for(lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 200, 60, "readyz 200")
    # The worker has started (its start-up checks the database) and registered with RQ.
    wait_for(lambda: Redis.from_url(redis_url).scard(REDIS_WORKER_KEYS) >= 1, 60, "the worker")

    # Events committed before the outage, whose jobs run only once it has begun: the
    # worker is paused (SIGSTOP), so their hand-offs wait in Redis.
    worker.send_signal(signal.SIGSTOP)
    before = [post(base, n) for n in range(BEFORE)]
    assert [r.status_code for r in before] == [200] * BEFORE
    assert {r.json()["status"] for r in before} == {"accepted"}

    server.stop()
    stopped = time.monotonic()
    worker.send_signal(signal.SIGCONT)  # its jobs now meet a database that is down

    statuses: list[int] = []
    others: dict[str, int] = {}
    for n in range(BEFORE, BEFORE + DURING // 2):  # the store is still cached (5 s)
        statuses.append(post(base, n).status_code)
    time.sleep(max(0.0, stopped + 5.5 - time.monotonic()))  # the cache has expired
    for n in range(BEFORE + DURING // 2, BEFORE + DURING):
        statuses.append(post(base, n).status_code)
    ready = requests.get(f"{base}/readyz", timeout=10)
    others["readyz"] = ready.status_code
    token = {"Authorization": "Bearer wb_0000000000x"}
    api = requests.get(f"{base}/api/v1/orders", headers=token, timeout=10)
    others["api"] = api.status_code
    time.sleep(max(0.0, stopped + OUTAGE_S - time.monotonic()))
    web_log = procs.log("web")

    assert statuses == [503] * DURING, f"answers during the outage: {sorted(set(statuses))}"
    assert others == {"readyz": 503, "api": 503}
    assert api.json()["error"].startswith("temporarily unavailable")
    assert api.headers["Retry-After"]
    # One short line per request, no traceback.
    lines = web_log.splitlines()
    assert "Traceback" not in web_log
    assert sum('"webhook.db_unavailable"' in line for line in lines) == DURING
    assert sum('"http.unavailable"' in line for line in lines) == 1  # the API request
    assert max(len(line) for line in lines) < 1000

    server.start()
    back = time.monotonic()
    # The platform sends again what it was refused; one resend of an event stored before.
    resent = [post(base, n) for n in range(BEFORE, BEFORE + DURING)]
    assert [r.status_code for r in resent] == [200] * DURING
    assert {r.json()["status"] for r in resent} == {"accepted"}
    assert post(base, 0).json() == {"status": "duplicate"}

    total = BEFORE + DURING

    def all_done() -> bool:
        with engine.connect() as conn:
            done = conn.execute(text("SELECT count(*) FROM inbox_events WHERE state = 'done'")).scalar()
        return done == total

    wait_for(all_done, 45, "every event to be processed after PostgreSQL returned")
    drained_s = time.monotonic() - back
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*), count(DISTINCT dedupe_key) FROM inbox_events")).one()
        orders = conn.execute(
            text("SELECT count(*), count(DISTINCT platform_order_id) FROM orders WHERE platform = 'shopify'")
        ).one()
        dead = conn.execute(text("SELECT count(*) FROM dead_letters WHERE queue = 'intake'")).scalar()
    assert tuple(events) == (total, total)  # none lost, none stored twice
    assert tuple(orders) == (total, total)
    assert dead == 0
    assert procs.procs["worker"].poll() is None and procs.procs["web"].poll() is None
    print(f"\noutage: {DURING} requests, all 503; {total} events processed {drained_s:.1f} s after its end")

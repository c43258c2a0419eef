"""Production mode for real: gunicorn, two RQ workers and the scheduler on PostgreSQL and Redis."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import create_engine, text

from tests.conftest import SECRET
from tests.procs import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis of this test's own, so the test may stop it."""
    if not (
        Path("/usr/bin/redis-server").exists()
        or any((Path(p) / "redis-server").exists() for p in os.environ.get("PATH", "").split(":"))
    ):
        pytest.skip("redis-server not installed (CI installs it)")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    # Only "not listening yet" counts as not yet; any other error fails the test.
    wait_for(lambda: Redis.from_url(url).ping(), 10, "private redis", ignoring=(RedisConnectionError,))
    yield url, proc
    proc.kill()
    proc.wait()


def test_gunicorn_workers_and_scheduler_run_jobs_end_to_end(
    postgres_url: str, private_redis: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    redis_url, redis_proc = private_redis
    site = tmp_path / "site.yaml"
    site.write_text("schedules:\n  sweep_inbox: 1\ninbox:\n  sweep_after_s: 0\n")
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "WAYBILL_SECRET_KEY": SECRET,
        "WAYBILL_CONFIG": str(site),
        "SHOPIFY_API_SECRET": "app-secret",
        "WAYBILL_VAR_DIR": str(tmp_path / "var"),
        "WAYBILL_LOG_LEVEL": "WARNING",
    }
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    # Production refuses an unmigrated database, saying what to run.
    refused = subprocess.run([sys.executable, "worker.py"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "./waybill db upgrade" in refused.stderr
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        *[
            subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ],
        subprocess.Popen(
            [sys.executable, "worker.py", "--scheduler"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 200,
            60,
            "readyz 200",
            ignoring=(requests.ConnectionError, requests.Timeout),  # gunicorn still starting
        )
        pong = subprocess.run(
            [*flask, "jobs", "ping", "--timeout", "30"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert pong.returncode == 0, pong.stderr
        assert pong.stdout.startswith("pong from worker:")
        # The scheduler's periodic sweep hands a stranded inbox event to a worker.
        engine = create_engine(postgres_url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO inbox_events (platform, topic, dedupe_key, body, headers, received_at,"
                    " state, attempts) VALUES ('shopify', 'carts/update', 'stranded-1', '\\x7b7d', '{}',"
                    " now() - interval '1 minute', 'pending', 0)"
                )
            )

        def swept() -> bool:
            with engine.connect() as conn:
                return conn.execute(text("SELECT state FROM inbox_events")).scalar() == "ignored"

        wait_for(swept, 30, "the sweeper to requeue the stranded event", ignoring=())
        # A signed webhook through gunicorn is handed off, pumped into RQ by a worker, handled.
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO accounts (name, created_at) VALUES ('m', now())"))
            conn.execute(
                text(
                    "INSERT INTO stores (account_id, platform, domain, state, settings, created_at)"
                    " SELECT id, 'shopify', 'p.myshopify.com', 'active', '{}', now() FROM accounts"
                )
            )
        body = b'{"id": 1}'
        sig = base64.b64encode(hmac.new(b"app-secret", body, hashlib.sha256).digest()).decode()
        answer = requests.post(
            f"{base}/webhooks/shopify",
            data=body,
            timeout=5,
            headers={
                "X-Shopify-Hmac-Sha256": sig,
                "X-Shopify-Topic": "app/uninstalled",
                "Content-Type": "application/json",
                "X-Shopify-Shop-Domain": "p.myshopify.com",
                "X-Shopify-Event-Id": "e-1",
            },
        )
        assert answer.json() == {"status": "accepted"}

        def uninstalled() -> bool:
            with engine.connect() as conn:
                return conn.execute(text("SELECT state FROM stores")).scalar() == "uninstalled"

        wait_for(uninstalled, 20, "a worker to handle the webhook", ignoring=())
        engine.dispose()
        redis_proc.kill()
        redis_proc.wait()
        down = lambda: requests.get(f"{base}/readyz", timeout=5).status_code == 503  # noqa: E731
        wait_for(down, 20, "readyz 503", ignoring=())
        assert requests.get(f"{base}/readyz", timeout=5).json()["down"] == {"queue": "ConnectionError"}
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

"""bench/ingest's world: a throw-away PostgreSQL database, a Redis db, one active shop, and
gunicorn processes serving either Waybill or the baseline app.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy import create_engine, func, select, text

from bench._ingest_body import API_SECRET, SHOP

ROOT = Path(__file__).resolve().parents[1]
# A Fernet key for this benchmark only (the vault needs one in production mode).
SECRET_KEY = "bZ0m3s9xq3ZJ8wFv4Vb1Gx4Q9a0vYQ2o6m1L8h5c7dE="


@dataclass(frozen=True)
class Gunicorn:
    """How both apps are served: one configuration, so the comparison is fair."""

    worker_class: str
    workers: int
    threads: int

    def argv(self, target: str, port: int) -> list[str]:
        args = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(self.workers)]
        args += ["-k", self.worker_class, "--threads", str(self.threads), "--keep-alive", "30"]
        return [*args, "--log-level", "warning", target]

    def describe(self) -> str:
        threads = f" --threads {self.threads}" if self.worker_class == "gthread" else ""
        return f"gunicorn -k {self.worker_class} -w {self.workers}{threads} --keep-alive 30 -b 127.0.0.1"


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create ``wb_bench_<random>`` on ``server_url``'s server, migrate it, drop it afterwards."""
    from db.session import upgrade

    name = f"wb_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server_url.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def flushed_redis(url: str) -> Iterator[Redis]:
    """The Redis db, emptied before and after."""
    conn = Redis.from_url(url)
    conn.flushdb()
    try:
        yield conn
    finally:
        conn.flushdb()
        conn.close()


def seed_shop(db_url: str) -> int:
    """One merchant account and its active Shopify shop; returns the store id."""
    from sqlalchemy.orm import Session

    from db.models import Account, Platform, Store, StoreState

    engine = create_engine(db_url)
    try:
        with Session(engine) as s, s.begin():
            account = Account(name="Bench merchant")
            s.add(account)
            s.flush()
            store = Store(
                account_id=account.id,
                platform=Platform.shopify,
                domain=SHOP,
                state=StoreState.active,
                scopes="read_orders",
                installed_at=datetime.now(UTC),
            )
            s.add(store)
            s.flush()
            return store.id
    finally:
        engine.dispose()


def inbox_counts(db_url: str) -> dict[str, int]:
    """Inbox rows per state (``pending`` is what an accepted, enqueued event leaves)."""
    from db.models import InboxEvent

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state)).all()
    finally:
        engine.dispose()
    return {str(state): int(n) for state, n in rows}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def waybill_env(db_url: str, redis_url: str, var_dir: str) -> dict[str, str]:
    """Production mode on PostgreSQL and Redis, with the app secret that signs the bodies."""
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "WAYBILL_MODE": "production",
        "WAYBILL_SECRET_KEY": SECRET_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
        "WAYBILL_VAR_DIR": var_dir,
        "WAYBILL_LOG_LEVEL": "WARNING",
    }


@dataclass(frozen=True)
class Server:
    """A running gunicorn: where it listens and how much CPU its processes have used."""

    port: int
    pid: int

    def cpu_s(self) -> float:
        """User + system CPU seconds of the master and its workers, so far."""
        return cpu_seconds(lambda pid, ppid, _cmd: self.pid in (pid, ppid))


def cpu_seconds(match: Callable[[int, int, str], bool]) -> float:
    """CPU seconds used so far by the processes ``match(pid, ppid, cmdline)`` selects."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if match(int(entry.name), int(fields[1]), cmdline):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def backends_cpu_s(db_url: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``db_url``'s database (their process
    title names it); the server's shared WAL writer and checkpointer are not included."""
    title = f" {db_url.rsplit('/', 1)[1]} "
    return cpu_seconds(lambda _pid, _ppid, cmd: cmd.startswith("postgres:") and title in cmd)


@contextmanager
def serving(
    config: Gunicorn, target: str, env: dict[str, str], probe: str, port: int | None = None
) -> Iterator[Server]:
    """Run gunicorn on ``target`` (on ``port``, else a free one) until the block ends; yields it
    once ``probe`` answers 200."""
    port = port or free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(config.argv(target, port), cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            _wait_ready(proc, f"http://127.0.0.1:{port}{probe}", log)
            yield Server(port, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


READY_S = 180  # start-up is not measured: a machine loaded by other work may take minutes


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Any) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise SystemExit(f"gunicorn exited ({proc.returncode}):\n{log.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url} within {READY_S} s")

"""No connection crosses a fork, and a killed worker's locks do not freeze order intake.

Real PostgreSQL and Redis (``postgres_url``/``redis_url``: these run on the services
backend), real ``worker.py`` processes killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Worker
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import OperationalError

from db.models import (
    Account,
    InboxEvent,
    InboxState,
    Order,
    Platform,
    StockItem,
    StockMovement,
    Store,
    StoreState,
    utcnow,
)
from db.session import upgrade
from settings import load_settings
from sync.intake import inbox_job_id, process_inbox_event
from sync.runtime import Runtime, build_runtime
from tests.conftest import SECRET
from tests.procs import wait_for
from webhooks.inbox import insert_event

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests/fixtures/shopify/orders_create__basic.json"
SHOP = "fork-safe.myshopify.com"
RECOVERY_BOUND_S = 30  # the bound: another worker completes an order within 30 s


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (killed, not yet reaped) is not alive
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return False


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        if any(line.split() == ["PPid:", str(pid)] for line in lines):
            found.append(int(status.parent.name))
    return found


def backends(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).scalars()
        )


# --------------------------------------------------------------------------- a fork's child


def test_a_forked_child_keeps_none_of_a_killed_parents_connections(postgres_url: str, redis_url: str) -> None:
    probe = create_engine(postgres_url)
    with probe.begin() as conn:
        conn.execute(text("CREATE TABLE fork_probe (id integer PRIMARY KEY)"))
        conn.execute(text("INSERT INTO fork_probe VALUES (1)"))
    redis = Redis.from_url(redis_url)
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.fork_parent", postgres_url, redis_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    child = 0
    try:
        assert parent.stdout is not None
        held = json.loads(parent.stdout.readline())
        child = held["child"]
        assert {held["locking_backend"], held["inbox_backend"]} <= backends(probe)

        def redis_clients() -> list[dict[str, Any]]:
            port = f":{held['handoff_port']}"
            return [
                c for c in redis.client_list() if c["name"] == held["redis_name"] or c["addr"].endswith(port)
            ]

        assert len(redis_clients()) == 2
        killed = time.monotonic()
        parent.send_signal(signal.SIGKILL)
        parent.wait()

        def row_free() -> bool:
            try:
                with probe.begin() as conn:
                    conn.execute(text("SET LOCAL lock_timeout = '200ms'"))
                    conn.execute(text("SELECT id FROM fork_probe WHERE id = 1 FOR UPDATE"))
                return True
            except OperationalError:
                return False

        # Well inside the 30 s idle-in-transaction timeout: only the closed socket ends it.
        wait_for(row_free, 10, "the killed parent's row lock to be released")
        released = time.monotonic() - killed
        wait_for(
            lambda: not {held["locking_backend"], held["inbox_backend"]} & backends(probe), 10, "backends"
        )
        wait_for(lambda: not redis_clients(), 10, "the killed parent's Redis connections to close")
        assert alive(child), "the child must outlive its parent for this test to mean anything"
        print(f"row lock released {released:.2f} s after SIGKILL, the forked child still running")
    finally:
        parent.kill()
        parent.wait()
        if child:
            os.kill(child, signal.SIGKILL)
        probe.dispose()
        redis.close()


# --------------------------------------------------------------------------- processes


@pytest.fixture
def production(postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A migrated database with one Shopify store and stock for FS-A and FS-Z, the settings
    the worker processes read, and a runtime of the test's own on the same services."""
    upgrade(postgres_url)
    site = tmp_path / "site.yaml"
    site.write_text(
        "schedules: {}\n"
        "risk: {verify_addresses: false}\n"
        "shipping: {auto_ship: false}\n"
        "queue: {retry_by_queue: {orders: {max: 0}, inventory: {max: 0}}}\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "WAYBILL_SECRET_KEY": SECRET,
        "WAYBILL_CONFIG": str(site),
        "WAYBILL_VAR_DIR": str(tmp_path / "var"),
        "WAYBILL_LOG_LEVEL": "WARNING",
    }
    settings = load_settings(environ=env)
    rt = build_runtime(settings)
    with rt.session() as s:
        account = Account(name="fork-safe", created_at=utcnow())
        s.add(account)
        s.flush()
        store = Store(account_id=account.id, platform=Platform.shopify, domain=SHOP, state=StoreState.active)
        s.add(store)
        long_ago = datetime(2020, 1, 1, tzinfo=UTC)
        for sku in ("FS-A", "FS-Z"):
            s.add(StockItem(account_id=account.id, sku=sku, on_hand=10, created_at=long_ago))
        s.flush()
        ids = {"account": account.id, "store": store.id}
    procs: list[subprocess.Popen[bytes]] = []
    strays: set[int] = set()  # children of the processes started (none, if workers never fork)

    def start(*args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "worker.py", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=None
        )
        procs.append(proc)
        return proc

    def sigkill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL ``proc`` alone (as the kernel's OOM killer or an operator would)."""
        strays.update(children_of(proc.pid))
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    try:
        yield {"rt": rt, "start": start, "sigkill": sigkill, "env": env, **ids}
    finally:
        for proc in procs:
            strays.update(children_of(proc.pid))
            proc.kill()
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in procs:
            proc.wait()
        rt.close()


def order_event(rt: Runtime, store_id: int, account_id: int, order_id: int, lines: dict[str, int]) -> int:
    """An orders/create webhook for ``lines`` (SKU: quantity), stored in the inbox as a receiver would."""
    payload = json.loads(FIXTURE.read_text())
    template = payload["line_items"][0]
    payload["id"], payload["name"] = order_id, f"#{order_id}"
    payload["admin_graphql_api_id"] = f"gid://shopify/Order/{order_id}"
    payload["line_items"] = []
    for n, (sku, qty) in enumerate(sorted(lines.items())):
        line = copy.deepcopy(template)
        line.update(
            id=order_id * 10 + n, sku=sku, quantity=qty, current_quantity=qty, fulfillable_quantity=qty
        )
        payload["line_items"].append(line)
    event_id = insert_event(
        rt.engine,
        {
            "platform": Platform.shopify,
            "topic": "orders/create",
            "dedupe_key": f"order-{order_id}",
            "body": json.dumps(payload).encode(),
            "headers": {"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": SHOP},
            "store_id": store_id,
            "account_id": account_id,
            "attempts": 0,
            "state": InboxState.pending,
            "received_at": utcnow(),
        },
    )
    assert event_id is not None
    return event_id


def enqueue(rt: Runtime, event_id: int) -> None:
    assert rt.enqueue("process_inbox_event", job_id=inbox_job_id(event_id), event_id=event_id)


def event_state(rt: Runtime, event_id: int) -> str:
    with rt.session() as s:
        event = s.get(InboxEvent, event_id)
        assert event is not None
        return str(event.state)


def workers_up(rt: Runtime, count: int) -> bool:
    return len(Worker.all(connection=rt.queue.connection)) >= count  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", [[], ["--fork"]], ids=["simple", "forking"])
def test_workers_fork_no_scheduler_and_the_scheduler_process_moves_due_retries(
    production: dict[str, Any], mode: list[str]
) -> None:
    """Workers fork no scheduler (a forking worker forks only the work horse of a job, which
    opens its own connections); the scheduler process moves a due job onto its queue."""
    rt, start = production["rt"], production["start"]
    worker = start(*mode)
    wait_for(lambda: workers_up(rt, 1), 60, "the worker to register")
    time.sleep(2)  # RQ would have forked its scheduler by now
    assert children_of(worker.pid) == [], "a worker forked a child that would hold its connections"
    # A delayed job (as a retry waits) runs once the scheduler process moves it onto its queue.
    event_id = order_event(rt, production["store"], production["account"], 9001, {"FS-A": 1})
    assert rt.queue.enqueue("process_inbox_event", {"event_id": event_id}, inbox_job_id(event_id), delay_s=1)
    start("--scheduler")
    wait_for(lambda: event_state(rt, event_id) == "done", 60, "the delayed job to run")
    wait_for(lambda: children_of(worker.pid) == [], 10, "no child of the worker left")


def test_a_sigkilled_worker_holding_stock_locks_does_not_stop_another_workers_order(
    production: dict[str, Any],
) -> None:
    """SIGKILL a worker whose order transaction holds a stock row lock: another worker's
    order on the same row completes within 30 s with nobody stepping in, and nothing is
    lost or stored twice."""
    rt, start = production["rt"], production["start"]
    store_id, account_id = production["store"], production["account"]
    first = order_event(rt, store_id, account_id, 7001, {"FS-A": 1, "FS-Z": 1})
    second = order_event(rt, store_id, account_id, 7002, {"FS-A": 2})
    probe = create_engine(rt.settings.database_url)

    worker_a = start()
    wait_for(lambda: workers_up(rt, 1), 60, "worker A to register")
    time.sleep(1)  # as in production: the worker had been running a while
    # Pause worker A inside its order transaction: it reserves FS-A (rows in SKU order),
    # then waits for FS-Z, which this test holds for a moment.
    holder = probe.connect()
    holder.begin()
    holder.execute(text("SELECT id FROM stock_items WHERE sku = 'FS-Z' FOR UPDATE"))
    enqueue(rt, first)

    def waiting_on_lock() -> bool:
        with probe.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND query LIKE 'UPDATE stock_items%'"
                    )
                ).scalar()
            )

    wait_for(waiting_on_lock, 30, "worker A to hold FS-A and wait for FS-Z")
    worker_b = start()
    wait_for(lambda: workers_up(rt, 2), 60, "worker B to register")
    enqueue(rt, second)  # worker B takes it (A is busy) and waits behind A's lock on FS-A
    wait_for(lambda: event_state(rt, second) == "processing", 30, "worker B to start the second order")

    killed = time.monotonic()
    production["sigkill"](worker_a)
    holder.rollback()  # the test lets go of FS-Z: worker A's transaction would go on, if it could
    holder.close()

    wait_for(lambda: event_state(rt, second) == "done", RECOVERY_BOUND_S, "worker B to complete its order")
    recovery = time.monotonic() - killed
    print(f"worker B completed its order {recovery:.2f} s after worker A was killed")
    assert worker_b.poll() is None

    # Worker A's transaction rolled back whole: its order is in the inbox (not lost), not stored.
    assert event_state(rt, first) in ("processing", "pending")
    with rt.session() as s:
        assert s.scalars(select(Order.platform_order_id).order_by(Order.id)).all() == ["7002"]
    # The killed job's event is re-run (as the sweeper does once the job is known dead).
    assert process_inbox_event(rt, event_id=first) == "done"
    with rt.session() as s:
        assert sorted(s.scalars(select(Order.platform_order_id))) == ["7001", "7002"]
        levels = {i.sku: (i.on_hand, i.reserved) for i in s.scalars(select(StockItem))}
        reservations = s.scalars(
            select(StockMovement.key)
            .where(StockMovement.reason == "order_reserved")
            .order_by(StockMovement.key)
        ).all()
    assert levels == {"FS-A": (10, 3), "FS-Z": (10, 1)}  # each order reserved once: 0 lost, 0 twice
    assert len(reservations) == 3
    probe.dispose()

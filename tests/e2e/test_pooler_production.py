"""Production through PgBouncer in transaction mode: gunicorn, two ``worker.py`` processes and
the scheduler reach PostgreSQL only through a private PgBouncer with a pool smaller than
their client connections (``database.pooler: transaction``); migrations run directly.
Orders placed on sandbox Shopify and WooCommerce (their own process, with EasyPost) are
received, labelled and written back, each exactly once.

Real PostgreSQL, Redis and PgBouncer (services backend).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from bench import _pipeline_sandbox as sandbox
from bench._ingest_setup import ROOT, serving, waybill_env
from bench.pipeline import WEB, config, connect, stages, working
from db.session import upgrade
from tests.conftest import PG_URL
from tests.pgbouncer import PgBouncer, pgbouncer
from tests.procs import free_port, wait_for

POOL = 4  # server connections for the database: fewer than Waybill's clients
ORDERS = 6  # on each storefront
# The advisory locks held in this test's database (the server is shared with other tests).
ADVISORY_LOCKS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.fixture
def bouncer(postgres_url: str) -> Iterator[PgBouncer]:
    upgrade(postgres_url)  # migrations go to PostgreSQL directly, not through the pooler
    with pgbouncer(PG_URL, pool=POOL) as running:
        yield running


def test_orders_run_end_to_end_through_pgbouncer_in_transaction_mode(
    bouncer: PgBouncer, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    log_path = tmp_path / "processes.log"
    with sandbox.start() as platforms, log_path.open("wb") as log:
        port = free_port()
        env = waybill_env(bouncer.url(postgres_url), redis_url, str(tmp_path))
        env |= {
            "WAYBILL_CONFIG": config(str(tmp_path), f"http://127.0.0.1:{port}", platforms.info["urls"]),
            "SHOPIFY_API_SECRET": sandbox.API_SECRET,
            "WAYBILL_DATABASE_POOLER": "transaction",
            "PYTHONPATH": str(ROOT),
        }
        with serving(WEB, "app:create_app()", env, "/readyz", port), working(2, env, log) as procs:
            rt = connect(env, platforms.info)  # through the pooler too
            try:
                placed = platforms.call("place", 0, ORDERS)

                def all_fulfilled() -> bool:
                    assert all(p.poll() is None for p in procs), log_path.read_text()[-5000:]
                    return stages(rt).get("fulfilled", 0) >= len(placed)

                try:
                    wait_for(all_fulfilled, 240, f"{len(placed)} orders fulfilled", interval=0.5, ignoring=())
                except AssertionError as exc:
                    pools = [p for p in bouncer.show("POOLS") if p["database"] == database]
                    why = f"stages {dict(stages(rt))}; pools {pools}; log: {log_path.read_text()[-5000:]}"
                    raise AssertionError(why) from exc
                clients = [c for c in bouncer.show("CLIENTS") if c["database"] == database]
                servers = [s for s in bouncer.show("SERVERS") if s["database"] == database]
                held = _held_orders(rt)
            finally:
                rt.close()
        stats = platforms.call("stats")
    print(f"pooler clients={len(clients)} servers={len(servers)} pool={POOL} orders={len(placed)}")
    assert len(clients) > POOL >= len(servers)
    _assert_each_once(placed, held, stats)
    direct = create_engine(postgres_url)
    with direct.connect() as conn:  # no store lock outlived its holder
        assert conn.execute(ADVISORY_LOCKS).scalar() == 0
    direct.dispose()


def _held_orders(rt: Any) -> tuple[set[tuple[str, int]], int]:
    from db.models import Order, Shipment, Store

    with rt.session() as s:
        platform_of = {st.id: str(st.platform) for st in s.scalars(select(Store))}
        orders = {(platform_of[o.store_id], int(o.platform_order_id)) for o in s.scalars(select(Order))}
        labelled = s.scalar(select(func.count()).where(Shipment.tracking_code.is_not(None))) or 0
    return orders, labelled


def _assert_each_once(
    placed: list[tuple[str, int, int]], held: tuple[set[tuple[str, int]], int], stats: dict[str, Any]
) -> None:
    orders, labelled = held
    parcels = sum(n for _, _, n in placed)
    assert orders == {(p, oid) for p, oid, _ in placed}
    assert set(stats["shopify_fulfilled"]) == {oid for p, oid, _ in placed if p == "shopify"}
    assert set(stats["woo_completed"]) == {oid for p, oid, _ in placed if p == "woocommerce"}
    assert labelled == parcels
    assert stats["label_purchases"] == parcels  # one label per parcel, none bought twice
    assert set(stats["labels_per_shipment"].values()) == {1}

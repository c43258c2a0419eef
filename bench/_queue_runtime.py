"""The process runtime the queue benchmarks measure in: production settings (Redis queue) on a
database migrated to head, the job machinery installed, Redis's database emptied.

``queue_overhead`` and ``queue_cpu`` both start from it, so they measure the same set-up.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from redis import Redis

BENCH_SECRET = "bZ0m3s9xq3ZJ8wFv4Vb1Gx4Q9a0vYQ2o6m1L8h5c7dE="  # a Fernet key used only here
DEFAULT_REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")


def queue_runtime(redis_url: str, database_url: str = "", **overrides: Any) -> tuple[Any, Redis]:
    """A production runtime on ``database_url`` (a fresh SQLite file in a temporary directory when
    empty), migrated to head, with logging at ERROR, and a connection to ``redis_url``'s database,
    flushed. ``overrides`` are further settings (e.g. ``schedules={}``)."""
    from db.session import upgrade
    from settings import load_settings
    from sync.runtime import build_runtime, install
    from telemetry import configure_logging

    tmp = tempfile.mkdtemp(prefix="wb-bench-")
    db_url = database_url or f"sqlite:///{tmp}/bench.db"
    upgrade(db_url)
    settings = load_settings(
        {
            "database_url": db_url,
            "redis_url": redis_url,
            "var_dir": tmp,
            "mode": "production",
            "secret_key": BENCH_SECRET,
            **overrides,
        },
        environ={},
    )
    configure_logging("ERROR")
    rt = build_runtime(settings, migrate=False)
    install(rt)
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    return rt, conn

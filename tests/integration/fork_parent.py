"""A process that holds every kind of connection Waybill keeps, forks a child that outlives
it, and waits to be killed (``tests/integration/test_forksafe.py``).

    python -m tests.integration.fork_parent DATABASE_URL REDIS_URL

Prints one JSON line once ready: the child's pid, the PostgreSQL backends it holds (one
in a transaction holding ``fork_probe`` row 1 locked, one the receivers' idle libpq
connection) and how Redis knows its connections (a named redis-py client, the hand-off
socket's local port).
"""

from __future__ import annotations

import json
import os
import sys
import time

from sqlalchemy import text

from db.session import make_engine
from settings import load_settings
from sync.handoff import HandOffLinks
from sync.redis_queue import RedisJobQueue
from tests.conftest import SECRET
from webhooks.pg_inbox import inbox_for

REDIS_NAME = "waybill-fork-parent"


def main(database_url: str, redis_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:  # a pooled idle connection, as after start-up checks
        conn.execute(text("SELECT 1"))
    inbox = inbox_for(engine)
    kept = inbox._open()  # the receivers' kept libpq connection, idle on their stack
    inbox._give(kept)
    settings = load_settings(
        {"mode": "production", "database_url": database_url, "redis_url": redis_url, "secret_key": SECRET}
    )
    queue = RedisJobQueue(settings)
    queue.connection.client_setname(REDIS_NAME)  # the pooled redis-py connection
    queue.connection.ping()
    links = queue.sender
    assert isinstance(links, HandOffLinks)
    links._give(links._open())  # a kept hand-off socket
    handoff_port = links._idle[0].getsockname()[1]

    locker = engine.connect()
    locker.begin()
    locker.execute(text("SELECT id FROM fork_probe WHERE id = 1 FOR UPDATE"))
    locking_backend = locker.execute(text("SELECT pg_backend_pid()")).scalar()

    child = os.fork()
    if child == 0:  # outlives its parent, as RQ's forked scheduler did
        time.sleep(120)
        os._exit(0)
    print(
        json.dumps(
            {
                "child": child,
                "locking_backend": locking_backend,
                "inbox_backend": kept.info.backend_pid,
                "redis_name": REDIS_NAME,
                "handoff_port": handoff_port,
            }
        ),
        flush=True,
    )
    time.sleep(120)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

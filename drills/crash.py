"""What the crash drills (R3 Redis, R4 workers, R5 PostgreSQL) share: the inbox's short
sweep delay, the platforms' control routes and a look inside Waybill's inbox.

A crash loses queued and running jobs; the world's safety-net sweeps (``drills.world``'s
``SAFETY_NET``) are what bring every order back. The inbox sweep takes events 1 s old
(``inbox.sweep_after_s``, 30 s by default), so that what an outage stranded is swept at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from sqlalchemy import Connection, bindparam, create_engine, text
from sqlalchemy.pool import NullPool

from drills.world import Placed, World

# Events received this recently are left to their hand-off by the sweep (inbox.sweep_after_s).
EXTRA_CONFIG: dict[str, Any] = {"inbox": {"sweep_after_s": 1}}


def sweep_s(world: World) -> float:
    """The world's inbox sweep interval (``schedules.sweep_inbox``)."""
    return float(world.rt.settings.schedules["sweep_inbox"].every_s)


def ready(world: World, timeout_s: float = 120.0) -> float:
    """Wait until every worker is past its start-up and the scheduler holds its lease: a
    process still starting when a fault begins would meet it in its start-up checks (a
    worker that cannot reach the database at start exits, for its supervisor to restart)."""
    from redis import Redis

    from sync.schedule import LOCK_KEY

    redis = Redis.from_url(world.redis.url(0))
    try:
        up = lambda: _workers_up(world, redis) and bool(redis.exists(LOCK_KEY))  # noqa: E731
        return wait_until(up, timeout_s, "every worker and the scheduler up")
    finally:
        redis.close()


def _workers_up(world: World, redis: Any) -> bool:
    """As many workers heartbeat (``waybill:alive:<name>``) as are running, counting a name RQ
    knows only with the pid of a running worker (a killed one's lingers up to 10 s); a name
    RQ does not know is a worker that outlived a FLUSHALL (RQ forgot it, not it)."""
    from sync.redis_queue import ALIVE_KEY

    running = {p.pid for p in world.workers if p.poll() is None}
    up = 0
    for key in redis.keys(ALIVE_KEY % "*"):
        pid = redis.hget(f"rq:worker:{key.decode().removeprefix(ALIVE_KEY % '')}", "pid")
        up += pid is None or int(pid) in running
    return up >= len(running)


def simulators(world: World) -> dict[str, list[str]]:
    """The simulators' base URLs: ``shopify`` and ``easypost`` one each, ``woocommerce`` one
    per merchant."""
    info = world.platforms.info
    return {"shopify": [info["shopify"]], "easypost": [info["easypost"]], "woocommerce": info["woocommerce"]}


def every_simulator(world: World) -> list[str]:
    return [url for urls in simulators(world).values() for url in urls]


def deliveries(world: World) -> list[dict[str, Any]]:
    """Every webhook attempt of every simulator so far (``GET /_sandbox/deliveries``), each
    with ``platform`` added."""
    found = []
    for platform, urls in simulators(world).items():
        for url in urls:
            answer = requests.get(f"{url}/_sandbox/deliveries", timeout=30)
            answer.raise_for_status()
            found += [{**d, "platform": platform} for d in answer.json()["deliveries"]]
    return found


def retry_scale(world: World, scale: float) -> None:
    """Every platform's retry schedule times ``scale`` (Shopify's 4 hours in 4 hours x scale)."""
    for url in every_simulator(world):
        requests.post(f"{url}/_sandbox/webhooks", json={"retry_scale": scale}, timeout=10).raise_for_status()


@contextmanager
def database(world: World) -> Iterator[Connection]:
    """A connection of its own to Waybill's database (none kept: the server may restart)."""
    engine = create_engine(world.postgres.url(), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def unfinished_events(world: World) -> int:
    """Inbox events not yet done or ignored (Waybill's own view, for recovery times only:
    losses are counted at the platforms)."""
    with database(world) as conn:
        found = conn.execute(
            text("SELECT count(*) FROM inbox_events WHERE state NOT IN ('done', 'ignored')")
        ).scalar_one()
    return int(found)


ORDER_TOPICS = ("orders/create", "order.created")


def received(world: World) -> set[tuple[str, int]]:
    """``(platform, order id)`` of every order whose creation webhook the inbox holds."""
    query = text(
        "SELECT platform, convert_from(body, 'UTF8')::jsonb ->> 'id' FROM inbox_events"
        " WHERE topic IN :topics AND state <> 'failed'"
    ).bindparams(bindparam("topics", expanding=True))
    with database(world) as conn:
        rows = conn.execute(query, {"topics": list(ORDER_TOPICS)}).all()
    return {(str(platform), int(oid)) for platform, oid in rows if oid is not None}


def inbox_caught_up(world: World, placed: list[Placed]) -> bool:
    """Every order of ``placed`` has its creation event in the inbox and no event is left
    unfinished: the inbox has recovered (what follows is the pipeline's own pace)."""
    have = received(world)
    return all((p.platform, p.order_id) in have for p in placed) and unfinished_events(world) == 0


def stranded(world: World, placed: list[Placed]) -> list[str]:
    """Events nothing will process: orders of ``placed`` whose event is not in the inbox yet,
    and unfinished events without a live job (queued, scheduled or running). The sweeper's
    work is to empty this; how fast they are then processed is the workers' pace."""
    from sync.intake import inbox_job_id

    have = received(world)
    found = [
        f"{p.platform} order {p.order_id} not received"
        for p in placed
        if (p.platform, p.order_id) not in have
    ]
    with database(world) as conn:
        rows = conn.execute(
            text("SELECT id, topic, state FROM inbox_events WHERE state NOT IN ('done', 'ignored', 'failed')")
        ).all()
    for event_id, topic, state in rows:
        if not world.rt.queue.is_live(inbox_job_id(event_id)):
            found.append(f"event {event_id} ({topic}, {state}) without a live job")
    return found


def wait_until(done: Callable[[], Any], timeout_s: float, what: str, poll_s: float = 0.2) -> float:
    """Seconds until ``done()`` is true; ``TimeoutError`` after ``timeout_s``. A ``done`` that
    raises (a server still coming back) counts as not yet."""
    return wait_for_none(lambda: [] if done() else [what], timeout_s, what, poll_s)


def wait_for_none(left: Callable[[], list[str]], timeout_s: float, what: str, poll_s: float = 0.2) -> float:
    """Seconds until ``left()`` is empty; ``TimeoutError`` after ``timeout_s``, naming what was
    left. A ``left`` that raises (a server still coming back) counts as not yet."""
    started, last = time.monotonic(), [what]
    while time.monotonic() - started < timeout_s:
        try:
            last = left()
            if not last:
                return time.monotonic() - started
        except Exception as exc:  # the server is on its way back: try again
            last = [f"{type(exc).__name__}: {exc}"]
        time.sleep(poll_s)
    raise TimeoutError(f"{what}: not within {timeout_s:.0f} s; {len(last)} left: {last[:5]}")

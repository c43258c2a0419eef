"""Beyond one machine: the drills' world with every worker and the scheduler in a network
namespace of its own (``WorldConfig(netns=True)``, drills/netns.py). From there they reach
PostgreSQL, Redis and the platforms over their link, and not gunicorn: the web tier and the
workers share nothing else, yet every order is received, labelled and written back once.

Needs root (namespaces) and the PostgreSQL server programs; skipped elsewhere unless on CI.
Like the drills' test it starts its own servers whatever the backend, so it runs once, in
the services pass, and says so as a skip in the embedded one.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from redis import Redis
from sqlalchemy import create_engine, text

from drills import netns
from drills.runner import verify
from drills.world import World, WorldConfig
from tests.conftest import BACKEND

pytestmark = pytest.mark.slow


def _connects(ns: netns.Namespace, host: str, port: int) -> bool:
    probe = f"import socket; socket.create_connection(({host!r}, {port}), timeout=3).close()"
    return subprocess.run(ns.argv([sys.executable, "-c", probe]), capture_output=True).returncode == 0


def _net_namespace(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def test_workers_in_namespaces_share_only_postgres_redis_and_the_platforms() -> None:
    if BACKEND != "services":
        pytest.skip("the namespaced world runs its own servers once, in the services pass")
    why = netns.available()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    with World(WorldConfig(merchants=1, workers=2, netns=True)) as world:
        assert world.network is not None
        network, tag = world.network, world.network.tag
        processes = [*world.workers, world.scheduler]
        assert len(network.namespaces) == len(processes) == 3
        ours = _net_namespace(os.getpid())
        assert len({_net_namespace(p.pid) for p in processes if p is not None} - {ours}) == 3
        inside, service = network.namespaces[0], network.address
        assert _connects(inside, service, world.postgres.port)
        assert _connects(inside, service, world.redis.port)
        assert not _connects(inside, service, world.web.port)  # gunicorn listens on loopback
        assert not _connects(inside, "127.0.0.1", world.web.port)
        placed = world.place(world.orders(2))
        world.settle(placed, timeout_s=240)
        report = verify(world)
        addresses = {ns.address for ns in network.namespaces}
        db = create_engine(world.postgres.url())
        with db.connect() as conn:
            clients = {
                str(a) for a in conn.execute(text("SELECT client_addr FROM pg_stat_activity")).scalars()
            }
        db.dispose()
        redis = Redis(host=world.redis.host, port=world.redis.port)
        redis_clients = {c["addr"].rsplit(":", 1)[0] for c in redis.client_list()}
        redis.close()
    print(f"drill=netns orders={len(placed)} {report.line()}")
    assert report.ok, report.problems
    assert addresses <= redis_clients  # every worker and the scheduler on Redis over its own link
    assert addresses & clients  # and the workers on PostgreSQL
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert tag not in left  # the namespaces were removed
    assert tag not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout

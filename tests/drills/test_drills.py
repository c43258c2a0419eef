"""The drills at reduced size, inside `make test` (``make drills`` runs them at full size).

The production setup (private PostgreSQL and Redis, gunicorn, worker processes, the
scheduler, the platforms in their own process) is started once and shared by the drills
that leave it as they found it (those with a ``drill(world, size)``), run one after the
other in one test (one world, whatever xdist does): each prints its line and must report
``lost=0 duplicates=0``.

Selection: the drills start their own servers whatever the backend, so the same test would
do the same work in both of CI's passes: it runs in the services pass (PostgreSQL and Redis,
the production setup it drills) and says so as a skip in the embedded one. On the services
backend it fails when PostgreSQL's server programs or redis-server are missing.
"""

from __future__ import annotations

import shutil

import pytest

from drills.runner import SIZES, drills, shared_config
from drills.servers import pg_bin
from drills.world import World
from tests.conftest import BACKEND

pytestmark = pytest.mark.slow
SIZE = SIZES["reduced"]
# R3, R4 and R5 run in ``make drills``, each in a world of its own (crash drills: in this
# shared world R3 once left a job the world never saw finish; docs/operations.md, "Drills").
IN_MAKE_TEST = {"R1", "R2", "R6", "R7"}


def test_every_shareable_drill_loses_nothing_and_does_nothing_twice() -> None:
    if BACKEND != "services":
        pytest.skip("the drills run the production setup once, in the services pass (make drills: full size)")
    needed = {"initdb and pg_ctl": pg_bin(), "redis-server": shutil.which("redis-server")}
    missing = [name for name, found in needed.items() if not found]
    if missing:
        pytest.fail(f"the drills need {', '.join(missing)} (WAYBILL_TEST_PG_BIN for PostgreSQL's)")
    shareable = {name: module for name, module in drills().items() if name in IN_MAKE_TEST}
    assert set(shareable) == IN_MAKE_TEST and all(hasattr(m, "drill") for m in shareable.values())
    failures = []
    with World(shared_config(SIZE)) as world:
        for name, module in shareable.items():
            result = module.drill(world, SIZE)
            print(result.line())
            assert result.orders > 0, name
            if not result.report.ok:
                failures.append(f"{result.line()}: {'; '.join(result.report.problems[:5])}")
    assert not failures, failures

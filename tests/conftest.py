"""Shared fixtures: a real database and queue per test, on the backend CI asks for.

``WAYBILL_TEST_BACKEND=embedded`` (default): SQLite files and the in-process queue.
``WAYBILL_TEST_BACKEND=services``: PostgreSQL and Redis, which must be reachable at
``WAYBILL_TEST_POSTGRES_URL`` / ``WAYBILL_TEST_REDIS_URL`` (defaults: the local
services). Tests that need a real service whatever the backend use the
``postgres_url`` / ``redis_url`` fixtures, which skip only when the service is
absent and the backend is embedded (CI runs both backends, so each test runs).
``private_postgres`` is a PostgreSQL server of the test module's own, which its tests
may stop and start again (never the shared one); it skips likewise when PostgreSQL's
server programs are not installed, and fails instead on the services backend or CI.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sized
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from werkzeug.routing import Rule

from drills.servers import PrivatePostgres
from drills.servers import pg_bin as _pg_bin

BACKEND = os.environ.get("WAYBILL_TEST_BACKEND", "embedded")
PG_URL = os.environ.get("WAYBILL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# One Redis database per xdist worker (gw0 -> 15, gw1 -> 14, ...), so flushes never collide;
# WAYBILL_TEST_REDIS_DB moves the first one down, for two test runs on one machine.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_REDIS_BASE = os.environ.get("WAYBILL_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
REDIS_URL = f"{_REDIS_BASE}/{int(os.environ.get('WAYBILL_TEST_REDIS_DB', '15')) - _WORKER}"
SECRET = "bZ0m3s9xq3ZJ8wFv4Vb1Gx4Q9a0vYQ2o6m1L8h5c7dE="  # a Fernet key used only by tests

# Property tests check results, never time: a machine busy with other work must not fail them
# (Hypothesis's per-example deadline is a timing assertion). Speed is measured under bench/.
hypothesis_settings.register_profile("waybill", deadline=None)
hypothesis_settings.load_profile("waybill")

for _var in ("DATABASE_URL", "REDIS_URL", "WAYBILL_SECRET_KEY", "WAYBILL_CONFIG", "WAYBILL_MODE"):
    os.environ.pop(_var, None)


class _Rule(Rule):
    """Werkzeug's URL rule, with the URL builders it compiles shared between apps.

    Every test builds its own Flask app, and each of the app's 120-odd rules compiles two
    builder functions from an AST (``Rule._compile_builder``): three quarters of the time of
    ``create_app``. A builder is a pure function of the rule's text, its parsed parts and
    whether it appends unknown arguments (it takes the rule as its first argument and reads
    the rule's converters from it at call time), so the same rule in the next test's app
    gets the same function. A rule whose defaults fill in parts of its path is compiled
    afresh (its builder holds the converted defaults)."""

    _builders: ClassVar[dict[tuple[Any, ...], Callable[..., tuple[str, str]]]] = {}

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        defaults = self.defaults or {}
        if any(dynamic and part in defaults for dynamic, part in self._trace):
            return super()._compile_builder(append_unknown)
        key = (append_unknown, self.rule, tuple(self._trace), tuple(sorted(defaults)))
        if key not in self._builders:
            self._builders[key] = super()._compile_builder(append_unknown)
        return self._builders[key]


Flask.url_rule_class = _Rule


def _reachable_pg() -> bool:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def _reachable_redis() -> bool:
    try:
        from redis import Redis

        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return True
    except Exception:
        return False


_PG_OK = _reachable_pg()
_REDIS_OK = _reachable_redis()
if BACKEND == "services" and not (_PG_OK and _REDIS_OK):
    raise RuntimeError(f"services backend: PostgreSQL ({PG_URL}) or Redis ({REDIS_URL}) is not reachable")


def _server_url(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


@contextmanager
def _fresh_database(prefix: str = "wb", template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of ``template`` if given), dropped afterwards; its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    if not _PG_OK:
        pytest.skip("PostgreSQL not reachable (runs in CI's services pass)")
    with _fresh_database() as name:
        yield _server_url(PG_URL, name)


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this module's own, with an empty database ``waybill``."""
    bindir = _pg_bin()
    if bindir is None:
        if BACKEND == "services" or os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL server programs (initdb, pg_ctl) not found; set WAYBILL_TEST_PG_BIN")
        pytest.skip("PostgreSQL server programs not installed (runs in CI's services pass)")
    server = PrivatePostgres(bindir)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database emptied before and after the test."""
    if not _REDIS_OK:
        pytest.skip("Redis not reachable (runs in CI's services pass)")
    from redis import Redis

    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    try:
        yield REDIS_URL
    finally:
        conn.flushdb()
        conn.close()


@pytest.fixture(scope="session")
def migrated_template() -> Iterator[str]:
    """A PostgreSQL database of this test process migrated to the head revision once, which
    every test's database is copied from (``CREATE DATABASE ... TEMPLATE``): a copy takes a
    tenth of running the whole migration chain per test. Migrations themselves are tested
    from empty databases (``postgres_url``)."""
    if not _PG_OK:
        pytest.skip("PostgreSQL not reachable (runs in CI's services pass)")
    from db.session import upgrade

    with _fresh_database("wb_tpl") as name:
        upgrade(_server_url(PG_URL, name))  # its engine is disposed: no session stays on the template
        yield name


@pytest.fixture
def migrated_postgres_url(migrated_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test already at the head revision, dropped afterwards."""
    with _fresh_database(template=migrated_template) as name:
        yield _server_url(PG_URL, name)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file of this test process migrated to the head revision once, which every
    embedded test's database is a copy of (migrating each test's file took most of the
    CPU of building its app). Migrations themselves are tested from empty files."""
    from db.session import upgrade

    path = tmp_path_factory.mktemp("migrated") / "waybill.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The backend's database at the head revision: a copy of the migrated SQLite file
    (embedded) or a fresh PostgreSQL database copied from the migrated template (the app
    still runs ``upgrade``, which then finds nothing to do)."""
    if BACKEND == "services":
        url: str = request.getfixturevalue("migrated_postgres_url")
        return url
    path = tmp_path / "waybill.db"
    shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def config(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings overrides for ``create_app`` on the backend under test."""
    cfg: dict[str, Any] = {
        "var_dir": str(tmp_path / "var"),
        "database_url": database_url,
        "testing": True,
        "schedules": {},
    }
    if BACKEND == "services":
        cfg["redis_url"] = request.getfixturevalue("redis_url")
        cfg["mode"] = "production"
        cfg["secret_key"] = SECRET
    return cfg


@pytest.fixture
def app(config: dict[str, Any]) -> Iterator[Any]:
    from app import create_app

    if config.get("mode") == "production":
        from db.session import upgrade

        upgrade(config["database_url"])
    # Stock pushes run as soon as a test drains the queue (config.yaml gives them a second to
    # gather sales); the delay itself is tested in tests/e2e/test_stock_push.py.
    config.setdefault("inventory", {}).setdefault("push_delay_s", 0)
    application = create_app(config)
    yield application
    application.extensions["waybill"].close()


@pytest.fixture
def rt(app: Any) -> Any:
    return app.extensions["waybill"]


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def drain_until_quiet(rt: Any, *senders: Callable[[], Sized]) -> None:
    """Run every queued job, then let each sender (a simulator's delivery call, which returns
    what it sent) send what the jobs caused, until a round sends nothing."""
    for _ in range(10):
        drain(rt)  # first: jobs (and their retries) may make the storefronts send more
        if not sum(len(send()) for send in senders):
            return
    raise AssertionError("the storefronts kept sending webhooks")


def drain(rt: Any, timeout_s: float = 30) -> None:
    """Run queued jobs to completion on whichever backend ``rt`` uses."""
    from sync.embedded_queue import EmbeddedJobQueue

    if isinstance(rt.queue, EmbeddedJobQueue):
        rt.queue.run_until_idle(timeout_s)
        return
    from rq.job import Job

    from sync.runtime import install

    install(rt)
    while rt.queue.pump(block_s=0):  # what receivers handed off, as a worker's pump would
        pass
    queues = list(rt.queue.queues.values())
    worker = _drain_worker_class()(queues, connection=rt.queue.connection)
    for _ in range(100):
        # Every partition of every queue (queue.partitions): counted in one round trip.
        if any(_counts(rt, [q.key for q in queues], "llen")):
            worker.work(burst=True, with_scheduler=False, logging_level="ERROR")
        # Retries wait in the scheduled registry; run them now instead of sleeping.
        waiting = _counts(rt, [q.scheduled_job_registry.key for q in queues], "zcard")
        scheduled = [
            (q, jid)
            for q, n in zip(queues, waiting, strict=True)
            if n
            for jid in q.scheduled_job_registry.get_job_ids()
        ]
        if not scheduled:
            return
        for queue, job_id in scheduled:
            queue.scheduled_job_registry.remove(job_id)
            queue.enqueue_job(Job.fetch(job_id, connection=rt.queue.connection))
    raise TimeoutError("jobs kept rescheduling")


def _counts(rt: Any, keys: list[str], command: str) -> list[int]:
    """``command`` (``llen`` or ``zcard``) of every key, in one pipelined round trip."""
    with rt.queue.connection.pipeline(transaction=False) as pipe:
        for key in keys:
            getattr(pipe, command)(key)
        return [int(n) for n in pipe.execute()]


@functools.cache
def _drain_worker_class() -> type:
    from sync.rq_worker import LeanWorker

    class DrainWorker(LeanWorker):
        """The in-process worker ``worker.py`` runs, without RQ's command channel (``rq`` suspend/stop/kill
        messages, which no test sends to a draining worker): joining that channel's
        listening thread took 0.1 to 1 s at the end of every ``work(burst=True)``, and
        the long end-to-end tests drain hundreds of times."""

        def subscribe(self) -> None:
            self.pubsub_thread = None

        def unsubscribe(self) -> None:
            pass

        def run_maintenance_tasks(self) -> None:
            """RQ's pass over every registry of every queue (224 of them: about 1,500 round
            trips) at the start of each ``work()`` was more than half of a long test's time
            on this backend. Of that pass, what a drain can need is the re-queueing of jobs a
            killed worker abandoned, which only happens to a started entry past its expiry:
            the pass runs when some started registry holds one."""
            import time

            from rq.utils import now as rq_now

            with self.connection.pipeline(transaction=False) as pipe:
                for queue in self.queues:
                    pipe.zcount(queue.started_job_registry.key, "-inf", time.time())
                if any(int(n) for n in pipe.execute()):
                    super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
                    return
            self.last_cleaned_at = rq_now()

    return DrainWorker

"""A private PgBouncer in transaction mode in front of a PostgreSQL server, for tests.

PgBouncer refuses to run as root: as root it switches to the ``postgres`` user (``-u``; its
directory is handed to that user). Its settings are deploy/pgbouncer.ini's, with a small pool so
that clients outnumber server connections.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from tests.procs import free_port, wait_for

INI = """[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {root}/userlist.txt
admin_users = {user}
pool_mode = transaction
default_pool_size = {pool}
max_db_connections = {pool}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
query_wait_timeout = 60
server_reset_query =
ignore_startup_parameters = extra_float_digits
tcp_keepalive = 1
tcp_keepidle = 10
tcp_keepintvl = 5
tcp_keepcnt = 3
logfile = {root}/pgbouncer.log
pidfile = {root}/pgbouncer.pid
"""


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(p).exists()), None
    )


def require_pgbouncer() -> str:
    """The pgbouncer program; fails on CI (which installs it), skips elsewhere."""
    found = pgbouncer_binary()
    if found is None:
        if os.environ.get("CI") == "true" or os.environ.get("WAYBILL_TEST_BACKEND") == "services":
            pytest.fail("pgbouncer not installed (apt-get install pgbouncer; .ci/run installs it)")
        pytest.skip("pgbouncer not installed (runs in CI's services pass)")
    return found


class PgBouncer:
    """A running PgBouncer (``url(database_url)`` is that database through it)."""

    def __init__(self, server_url: str, pool: int) -> None:
        server = make_url(server_url)
        self.user = server.username or "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="waybill-pgbouncer-"))
        self.port = free_port()
        ini = INI.format(
            host=server.host or "127.0.0.1",
            port=server.port or 5432,
            listen=self.port,
            root=self.root,
            user=self.user,
            pool=pool,
        )
        (self.root / "pgbouncer.ini").write_text(ini)
        (self.root / "userlist.txt").write_text(f'"{self.user}" ""\n')
        command = [require_pgbouncer(), str(self.root / "pgbouncer.ini")]
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.root, *self.root.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            command = [command[0], "-u", "postgres", command[1]]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, 15, "pgbouncer to listen", ignoring=(psycopg.OperationalError,))

    def url(self, database_url: str) -> str:
        """``database_url`` (same user and database) through this PgBouncer."""
        return (
            make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)
        )

    def show(self, what: str) -> list[dict[str, str]]:
        """The admin console's ``SHOW <what>`` (simple query protocol, as it requires)."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer", autocommit=True
        ) as conn:
            result = conn.pgconn.exec_(f"SHOW {what}".encode())
            names = [(result.fname(c) or b"").decode() for c in range(result.nfields)]
            return [
                {name: (result.get_value(r, c) or b"").decode() for c, name in enumerate(names)}
                for r in range(result.ntuples)
            ]

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            log = self.root / "pgbouncer.log"
            raise AssertionError(f"pgbouncer exited: {log.read_text() if log.exists() else ''}")
        self.show("VERSION")
        return True

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def pgbouncer(server_url: str, pool: int) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode with ``pool`` server connections per database in
    front of ``server_url``'s server, for the block."""
    bouncer = PgBouncer(server_url, pool)
    try:
        yield bouncer
    finally:
        bouncer.close()

"""A private PgBouncer in transaction mode in front of a PostgreSQL server, for tests.

PgBouncer refuses to run as root: as root it switches to the ``postgres`` user (``-u``; its
directory is handed to that user). Its settings are deploy/pgbouncer.ini's (the deployed
example is what is tested), with this machine's addresses, trust authentication and a small
pool, so that clients outnumber server connections.
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

DEPLOY_INI = Path(__file__).resolve().parents[1] / "deploy" / "pgbouncer.ini"


def ini_text(server_host: str, server_port: int, listen: int, root: Path, user: str, pool: int) -> str:
    """deploy/pgbouncer.ini with this machine's addresses, files, trust auth and a ``pool``
    of server connections per database (every other setting as deployed)."""
    overrides = {
        "listen_addr": "127.0.0.1",
        "listen_port": str(listen),
        "unix_socket_dir": "",
        "auth_type": "trust",
        "auth_file": f"{root}/userlist.txt",
        "admin_users": user,
        "default_pool_size": str(pool),
        "max_db_connections": str(pool),
        "reserve_pool_size": "0",
        "logfile": f"{root}/pgbouncer.log",
        "pidfile": f"{root}/pgbouncer.pid",
    }
    lines, section = [], ""
    for line in DEPLOY_INI.read_text().splitlines():
        if line.startswith("["):
            section = line
            lines.append(line)
            if section == "[databases]":
                lines.append(f"* = host={server_host} port={server_port}")
            continue
        key = line.split("=", 1)[0].strip()
        if section == "[databases]" and key and not key.startswith(";"):
            continue  # the deployed database entry names the production host
        if key in overrides:
            line = f"{key} = {overrides.pop(key)}"
        lines.append(line)
    lines += [f"{key} = {value}" for key, value in overrides.items()]
    return "\n".join(lines) + "\n"


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
        ini = ini_text(server.host or "127.0.0.1", server.port or 5432, self.port, self.root, self.user, pool)
        (self.root / "pgbouncer.ini").write_text(ini)
        (self.root / "userlist.txt").write_text(f'"{self.user}" ""\n')
        command = [require_pgbouncer(), str(self.root / "pgbouncer.ini")]
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.root, *self.root.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            command = [command[0], "-u", "postgres", command[1]]
        with (self.root / "stderr.log").open("wb") as err:  # what it says before its log opens
            self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
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
            logs = [self.root / "stderr.log", self.root / "pgbouncer.log"]
            raise AssertionError(f"pgbouncer exited: {' '.join(p.read_text() for p in logs if p.exists())}")
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

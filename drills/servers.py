"""Private PostgreSQL and Redis servers: a drill (or a test) may stop, kill, restart and flush
them, which it must never do to a server other people's work runs on.

- :class:`PrivatePostgres`: a cluster in a temporary directory (``initdb``), on a free port.
- :class:`PrivateRedis`: ``redis-server`` on a free port with ``appendonly yes`` and
  ``appendfsync everysec`` in a directory of its own, so a restart comes back on the same data
  (less at most the last second's writes after a kill, as in production).

Both listen on ``host`` (default ``127.0.0.1``): a worker in another network namespace reaches
them when ``host`` is an address of a bridge both sides share. Methods: ``start``, ``stop``
(fast: sessions ended, as when a server goes away), ``kill`` (SIGKILL, no shutdown at all),
``restart`` (``stop`` then ``start`` on the same port and data), ``close`` (stopped and the
directory removed); Redis also has ``flush`` (everything gone, as a Redis that lost its data).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at ``host`` now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pg_bin() -> Path | None:
    """Where initdb and pg_ctl are: WAYBILL_TEST_PG_BIN, else Debian's place (the newest
    version installed), else the PATH."""
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    debian = sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    given = os.environ.get("WAYBILL_TEST_PG_BIN")
    for bindir in [Path(given)] if given else debian:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    return Path(initdb).parent if initdb and pg_ctl and not given else None


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory on a free port of ``host``, with an empty
    database ``waybill``.

    PostgreSQL refuses to run as root: as root the cluster belongs to and runs as the
    ``postgres`` user. Authentication is ``trust`` (a throw-away cluster); on a ``host`` other
    than loopback every address may connect, so workers in other namespaces can."""

    def __init__(self, bindir: Path, host: str = "127.0.0.1", max_connections: int = 200) -> None:
        self.bindir = bindir
        self.host = host
        self.max_connections = max_connections
        self.root = Path(tempfile.mkdtemp(prefix="waybill-pg-"))
        self.data = self.root / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            owner = pwd.getpwnam(self.user)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.port = free_port(host)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N", "-E", "UTF8")
        if host not in ("127.0.0.1", "localhost"):
            with open(self.data / "pg_hba.conf", "a") as hba:
                hba.write("host all all 0.0.0.0/0 trust\n")
        self.start()
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "waybill"'))
        admin.dispose()

    def url(self, database: str = "waybill") -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses={self.host} -c fsync=off"
            f" -c max_connections={self.max_connections}"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def kill(self) -> None:
        """SIGKILL the postmaster (its backends end when they notice); the next ``start``
        recovers from the WAL, as after a crash."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        # Orphaned backends hold the shared memory until they exit; pg_ctl start waits for them.
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def restart(self) -> None:
        if self.running():
            self.stop()
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        try:
            if self.running():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            self.kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class PrivateRedis:
    """``redis-server`` on a free port of ``host``, appending every write to its AOF
    (``appendfsync everysec``) in a directory of its own. ``url(db)`` is what clients use."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed")
        self.server = server
        self.host = host
        self.port = port or free_port(host)
        self.dir = Path(tempfile.mkdtemp(prefix="waybill-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def start(self) -> None:
        argv = [self.server, "--port", str(self.port), "--bind", self.host, "--dir", str(self.dir)]
        argv += ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
        argv += ["--protected-mode", "no", "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}); see {self.dir}/redis.log")
            if self._ping():
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on {self.host}:{self.port}")

    def _ping(self) -> bool:
        from redis import Redis
        from redis.exceptions import RedisError

        try:
            conn = Redis(host=self.host, port=self.port, socket_connect_timeout=0.5)
            try:
                return bool(conn.ping())
            finally:
                conn.close()
        except RedisError:
            return False

    def stop(self) -> None:
        """SIGTERM: Redis flushes its AOF and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: what the AOF had not written out (up to a second) is lost."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def flush(self) -> None:
        """Every key of every db gone (FLUSHALL): a Redis that lost its data."""
        from redis import Redis

        conn = Redis(host=self.host, port=self.port)
        try:
            conn.flushall()
        finally:
            conn.close()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

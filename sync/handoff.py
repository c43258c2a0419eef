"""The Redis hand-off: how a webhook's committed inbox event reaches the queue.

Receivers do not build RQ jobs in the request: they push a small hand-off onto the
Redis list :data:`HANDOFF_KEY`, and a pump thread in every worker moves hand-offs into
RQ (``RedisJobQueue.pump``). A :class:`HandOffSender` does the push; config
``inbox.hand_off`` picks one: ``plain`` (redis-py's LPUSH), ``raw`` (one raw RESP write
on kept sockets, plain TCP only) or ``auto`` (raw when Redis is plain TCP). Both take
several hand-offs in one command. Embedded mode has no hand-off: it enqueues directly.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Protocol

from redis import Redis
from redis.connection import Connection as TCPConnection
from redis.exceptions import ResponseError

from db.forks import at_fork, detach_fd

HANDOFF_KEY = "waybill:handoff"


class HandOffSender(Protocol):
    """How hand-offs reach the Redis list :data:`HANDOFF_KEY` (config ``inbox.hand_off``)."""

    def lpush(self, *payloads: bytes) -> int:
        """``LPUSH waybill:handoff payload...`` (all or none taken); the list's length after it.
        Raises when Redis did not take them: ``OSError``/redis-py's ``ConnectionError`` when
        unreachable, ``RuntimeError`` when it refused the command."""
        ...

    def close(self) -> None: ...


HAND_OFFS = ("auto", "plain", "raw")


def hand_off_sender(kind: str, redis: Redis) -> HandOffSender:
    """The sender ``inbox.hand_off`` names: ``raw`` (:class:`HandOffLinks`, plain TCP only),
    ``plain`` (:class:`RedisPyHandOff`) or ``auto`` (raw when ``redis`` is plain TCP)."""
    if kind not in HAND_OFFS:
        raise ValueError(f"inbox.hand_off: {kind!r} is not one of {', '.join(HAND_OFFS)}")
    links = None if kind == "plain" else HandOffLinks.for_connection(redis)
    if links is not None:
        return links
    if kind == "raw":
        raise ValueError("inbox.hand_off: raw needs Redis over plain TCP (not TLS or a Unix socket)")
    return RedisPyHandOff(redis)


class RedisPyHandOff:
    """The plain hand-off: redis-py's ``LPUSH`` on the queue's own connection pool."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def lpush(self, *payloads: bytes) -> int:
        try:
            return int(self.redis.lpush(HANDOFF_KEY, *payloads))
        except ResponseError as exc:
            raise RuntimeError(f"Redis refused the hand-off: {exc}") from exc

    def close(self) -> None:
        """Nothing of its own: the queue disconnects the pool."""


class HandOffLinks:
    """Kept sockets to Redis that send the hand-off LPUSH as one raw RESP write.

    redis-py's per-command work (connection pool, retry wrapper, argument packing,
    the RESP3 parser) cost a quarter of a webhook's CPU for a command whose answer is
    one integer. Each socket serves one thread at a time (taken from and returned to
    a stack); a socket found broken is closed and the command retried once on a
    fresh one, since Redis may have restarted since it was last used (a duplicate
    hand-off is harmless: job ids are unique). Only plain TCP connections use this
    path; TLS and Unix sockets go through redis-py.
    """

    KEEP = 16  # idle sockets kept; more are closed when returned

    def __init__(
        self, host: str, port: int, setup: list[list[bytes]], connect_timeout: float, timeout: float
    ) -> None:
        self.address, self.connect_timeout, self.timeout = (host, port), connect_timeout, timeout
        self.setup = setup  # AUTH and SELECT, sent on every new socket
        self._idle: list[socket.socket] = []
        self._closed = False
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._key = b"$%d\r\n%s\r\n" % (len(HANDOFF_KEY), HANDOFF_KEY.encode())
        at_fork(self, HandOffLinks._forget_at_fork)

    def _forget_at_fork(self) -> None:
        """In a forked child: let go of the parent's kept sockets (db/forks.py)."""
        for sock in self._idle:
            detach_fd(sock.fileno())
        self._idle, self._pid, self._lock = [], os.getpid(), threading.Lock()

    @classmethod
    def for_connection(cls, redis: Redis) -> HandOffLinks | None:
        """Links to the server ``redis`` talks to, or None when it is not plain TCP."""
        pool = redis.connection_pool
        if pool.connection_class is not TCPConnection:
            return None
        kw = pool.connection_kwargs
        setup: list[list[bytes]] = []
        if kw.get("password") is not None:
            user = [str(kw["username"]).encode()] if kw.get("username") else []
            setup.append([b"AUTH", *user, str(kw["password"]).encode()])
        if int(kw.get("db") or 0):
            setup.append([b"SELECT", str(int(kw["db"])).encode()])
        timeout = float(kw.get("socket_timeout") or 5.0)
        connect_timeout = float(kw.get("socket_connect_timeout") or timeout)
        host, port = str(kw.get("host") or "localhost"), int(kw.get("port") or 6379)
        return cls(host, port, setup, connect_timeout, timeout)

    def lpush(self, *payloads: bytes) -> int:
        """``LPUSH waybill:handoff payload...``; the list's length after it."""
        head = b"*%d\r\n$5\r\nLPUSH\r\n%s" % (len(payloads) + 2, self._key)
        command = head + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in payloads)
        sock, fresh = self._take()
        try:
            answer = _roundtrip(sock, command)
        except OSError as exc:
            sock.close()
            if fresh or isinstance(exc, TimeoutError):  # a slow Redis is not a stale socket
                raise
            sock, fresh = self._open(), True  # kept sockets may all predate a restart
            self._drop_idle()
            try:
                answer = _roundtrip(sock, command)
            except OSError:
                sock.close()
                raise
        self._give(sock)
        if not answer.startswith(b":"):
            raise RuntimeError(f"Redis refused the hand-off: {answer[:200]!r}")
        return int(answer[1:])

    def _take(self) -> tuple[socket.socket, bool]:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's sockets are not ours
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop(), False
        return self._open(), True

    def _give(self, sock: socket.socket) -> None:
        with self._lock:
            if len(self._idle) < self.KEEP and self._pid == os.getpid() and not self._closed:
                self._idle.append(sock)
                return
        sock.close()

    def close(self) -> None:
        """Close the idle sockets (one in use is closed when given back after this)."""
        with self._lock:
            self._closed = True
        self._drop_idle()

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.timeout)
            if self.setup:
                sock.sendall(b"".join(_command(args) for args in self.setup))
                for answer in _read_answers(sock, len(self.setup)):
                    if not answer.startswith(b"+"):
                        raise RuntimeError(f"Redis refused the connection set-up: {answer[:200]!r}")
        except BaseException:
            sock.close()
            raise
        return sock


def _command(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _roundtrip(sock: socket.socket, command: bytes) -> bytes:
    sock.sendall(command)
    return _read_answers(sock, 1)[0]


def _read_answers(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` one-line RESP answers (``:n``, ``+OK``, ``-ERR ...``), without their CRLF."""
    data = b""
    while data.count(b"\r\n") < count:
        chunk = sock.recv(512)
        if not chunk:
            raise ConnectionResetError("Redis closed the connection")
        data += chunk
    return data.split(b"\r\n")[:count]

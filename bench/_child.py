"""A benchmark's helper process: started with ``spawn``, driven by method calls over a pipe.

The child's target builds its world, sends what the parent needs to know (``info``), and
hands a table of methods to :func:`answer`, which serves calls until ``stop``. Errors in a
method come back to the parent as ``RuntimeError`` with their type and message.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


class Child:
    """The parent's handle: ``call`` is one round trip; calls from several threads take turns."""

    def __init__(self, target: Callable[..., None], *args: Any, name: str) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child_end = ctx.Pipe()
        self._lock = threading.Lock()
        self._process = ctx.Process(target=target, args=(child_end, *args), name=name, daemon=True)
        self._process.start()
        # The child sends ``info`` once its world is up; if it dies first, say so (never hang).
        while not self._conn.poll(0.5):
            if not self._process.is_alive():
                raise RuntimeError(f"{name} exited ({self._process.exitcode}) before it was ready")
        self.info: Any = self._conn.recv()

    def call(self, method: str, *args: Any) -> Any:
        with self._lock:
            self._conn.send((method, args))
            ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"{self._process.name} {method}: {value}")
        return value

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        with contextlib.suppress(EOFError, OSError, RuntimeError):
            self.call("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def answer(conn: Connection, methods: dict[str, Callable[..., Any]]) -> None:
    """Serve the parent's calls until it sends ``stop``."""
    while True:
        method, args = conn.recv()
        if method == "stop":
            conn.send((True, None))
            return
        try:
            conn.send((True, methods[method](*args)))
        except Exception as exc:
            conn.send((False, f"{type(exc).__name__}: {exc}"))

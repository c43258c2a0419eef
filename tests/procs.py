"""Helpers for tests that start servers and processes: a free loopback port, and waiting
for a condition with a bound."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    check: Callable[[], Any],
    timeout: float = 30.0,
    what: str = "condition",
    *,
    interval: float = 0.1,
    ignoring: tuple[type[BaseException], ...] = (Exception,),
) -> Any:
    """``check()``'s first truthy value, polled every ``interval`` s for at most ``timeout`` s.

    Exceptions in ``ignoring`` count as "not yet" (a server still starting); pass ``()``
    to let them fail the test at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except ignoring:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")

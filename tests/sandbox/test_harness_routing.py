"""The simulators' shared harness: routing is built once, even when the first requests race."""

from __future__ import annotations

import threading

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from sandbox.easypost import EasyPostSimulator


def first_requests_together(sim: EasyPostSimulator, callers: int = 8) -> tuple[list[int], list[Exception]]:
    """``callers`` threads send their first request at the same moment; statuses and errors."""
    barrier = threading.Barrier(callers)
    statuses: list[int] = []
    errors: list[Exception] = []

    def call() -> None:
        request = Request(EnvironBuilder(path="/_sandbox/state", method="GET").get_environ())
        barrier.wait()
        try:
            statuses.append(sim.dispatch(request).status_code)
        except Exception as exc:  # a second Map binding the same rules raises
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, errors


def test_first_requests_arriving_together_are_all_routed() -> None:
    for _ in range(20):  # the race needs a few tries to show without the lock
        statuses, errors = first_requests_together(EasyPostSimulator(api_keys=["EZTK-race"]))
        assert errors == [] and statuses == [200] * 8

"""The simulators' shared harness: routing is built once, even when the first requests race."""

from __future__ import annotations

import threading
import time

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from sandbox.easypost import EasyPostSimulator
from sandbox.harness import Faults


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


def test_the_state_counts_requests_whose_answer_the_lost_response_fault_holds_back() -> None:
    sim = EasyPostSimulator(api_keys=["EZTK-hang"])
    sim.faults = Faults(hang_s=3.0)  # long enough to be seen on a loaded machine
    state = Request(EnvironBuilder(path="/_sandbox/state", method="GET").get_environ())
    holder = threading.Thread(target=sim.lost_response)
    holder.start()
    deadline = time.monotonic() + 5
    while sim.hanging == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.dispatch(state).get_json()["hanging"] == 1
    holder.join()
    assert sim.dispatch(state).get_json()["hanging"] == 0

"""A platform's throttle (HTTP 429, THROTTLED) is not a failure: a job waits as asked without
spending a retry, within ``queue.throttle_budget_s``, on both backends. Before this, a job of
several platform calls could spend all its retries on throttles and be dead-lettered for a
transient fault (drill R6: 8 % 5xx and 8 % 429 on every WooCommerce call)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.errors import error_for_status
from core.errors import Retryable, Throttled
from sync.jobs import JobDef
from tests.conftest import drain
from tests.foundation.quick_jobs import dead_letters, registered

CALLS: dict[str, int] = {}


def answers(rt: Any, key: str, statuses: list[int]) -> str:
    """Fail with the platform error of each status in turn (as its client raises it), then succeed."""
    n = CALLS[key] = CALLS.get(key, 0) + 1
    if n <= len(statuses):
        error = error_for_status(statuses[n - 1], "woocommerce GET orders/7/notes", {"Retry-After": "0.01"})
        assert error is not None
        raise error
    return "ok"


@pytest.fixture(autouse=True)
def test_jobs(config: dict[str, Any]) -> Iterator[None]:
    # One attempt and two retries; waits of a few milliseconds.
    with registered(config, JobDef("test_answers", answers, "orders"), retries=2, outage=True):
        CALLS.clear()
        yield


def test_429_is_a_throttle_and_5xx_is_not() -> None:
    throttle = error_for_status(429, "x", {"Retry-After": "2"})
    assert isinstance(throttle, Throttled) and throttle.wait_s == 2.0
    failure = error_for_status(503, "x", {})
    assert isinstance(failure, Retryable) and not isinstance(failure, Throttled)


def test_throttles_spend_no_retry(rt: Any) -> None:
    # Five throttles, then a 503 and a 503 (the two retries), then success: nothing dead.
    assert rt.enqueue("test_answers", job_id="throttled", key="t", statuses=[429] * 5 + [503, 503])
    drain(rt)
    assert CALLS["t"] == 8
    assert dead_letters(rt) == []


def test_failures_between_throttles_still_spend_the_budget(rt: Any) -> None:
    # 503s are failures whatever throttles come between them: the third one is dead.
    assert rt.enqueue("test_answers", job_id="failing", key="f", statuses=[503, 429, 503, 429, 503, 429])
    drain(rt)
    assert CALLS["f"] == 5
    [dead] = dead_letters(rt)
    assert "HTTP 503" in dead.error


def test_throttles_past_the_budget_spend_retries(
    config: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    config["queue"]["throttle_budget_s"] = 0.000001  # every throttle is already past it
    rt = request.getfixturevalue("rt")
    assert rt.enqueue("test_answers", job_id="over", key="o", statuses=[429] * 5)
    drain(rt)
    # The first throttle starts the budget (a free wait); past it, each spends a retry as any
    # transient failure does: then one attempt and two retries.
    assert CALLS["o"] == 4
    [dead] = dead_letters(rt)
    assert "HTTP 429" in dead.error

"""Job names and their code, on both backends: a queued job whose code is gone (a release
that removed it while it waited) is dead-lettered at once rather than retried; a name
is registered once; a job on a queue the settings do not run is refused when enqueued."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from db.models import DeadLetter
from sync.jobs import JOBS, JobDef, job
from tests.conftest import drain


def answer(rt: Any) -> str:
    return "ok"


@pytest.fixture
def registered() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        JOBS.pop(name, None)


def test_a_queued_job_whose_code_is_gone_is_dead_lettered_not_retried(rt: Any, registered: list[str]) -> None:
    JOBS["test_vanishing"] = JobDef("test_vanishing", answer, "orders")
    registered.append("test_vanishing")
    assert rt.enqueue("test_vanishing", job_id="vanish-1", order_id=7)
    del JOBS["test_vanishing"]  # the release that removed it is running now
    drain(rt)
    with rt.session() as s:
        rows = list(s.scalars(select(DeadLetter)))
        assert [(r.job_id, r.name, r.kwargs, r.state) for r in rows] == [
            ("vanish-1", "test_vanishing", {"order_id": 7}, "dead")
        ]
        assert rows[0].attempts == 1 and "unknown job 'test_vanishing'" in rows[0].error


def test_a_job_name_is_registered_once(registered: list[str]) -> None:
    registered.append("test_once")
    job("test_once", "orders")(answer)
    job("test_once", "orders")(answer)  # the same code again (a module imported twice) is fine

    def other(rt: Any) -> str:
        return "other"

    with pytest.raises(ValueError, match="job 'test_once' registered twice"):
        job("test_once", "orders")(other)
    assert JOBS["test_once"].fn is answer


def test_a_job_on_a_queue_the_settings_do_not_run_is_refused(rt: Any, registered: list[str]) -> None:
    JOBS["test_elsewhere"] = JobDef("test_elsewhere", answer, "nowhere")
    registered.append("test_elsewhere")
    with pytest.raises(LookupError, match=r"uses queue .nowhere., which is not in queue\.names"):
        rt.enqueue("test_elsewhere", job_id="elsewhere-1")
    with pytest.raises(LookupError, match="unknown job 'test_never'"):
        rt.enqueue("test_never", job_id="never-1")


def test_a_command_runs_what_is_due_now_and_leaves_a_later_job_to_the_service(
    rt: Any, registered: list[str]
) -> None:
    from sync.embedded_queue import EmbeddedJobQueue

    if not isinstance(rt.queue, EmbeddedJobQueue):
        pytest.skip("embedded mode: a command runs its follow-up work in its own process")
    JOBS["test_now"] = JobDef("test_now", answer, "orders")
    registered.append("test_now")
    assert rt.enqueue("test_now", job_id="now-1")
    assert rt.enqueue("test_now", job_id="later-1", delay_s=600)
    left = rt.queue.run_due(wait_s=1.0, timeout_s=30)
    assert [(m.job_id, m.name) for m in left] == [("later-1", "test_now")]
    assert rt.queue.is_live("later-1") and not rt.queue.is_live("now-1")

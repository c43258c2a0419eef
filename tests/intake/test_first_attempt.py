"""The steps that follow intake at once run their first attempt in the intake job, and are
queued (with their retries) only when that attempt fails."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import Retryable
from db.models import Order
from sync.jobs import JOBS, JobDef, Outcome, safe_job_id
from tests.intake.test_body_checks import BASIC, SHOP, last_event_id, run_inbox_job
from tests.intake.test_body_checks import config as config  # no address checks
from tests.intake.test_receivers import (  # noqa: F401  # the fixtures: secrets, handled test topics
    add_store,
    handled_topics,
    secrets,
    shopify_post,
)


def _paid_order_taken_in(client: Any, rt: Any) -> tuple[int, str]:
    add_store(rt, "shopify", SHOP)  # a store without credentials: its storefront cannot be called
    body = copy.deepcopy(BASIC)
    body["financial_status"] = "paid"
    assert shopify_post(client, json.dumps(body).encode(), event_id="paid").json == {"status": "accepted"}
    assert run_inbox_job(rt, last_event_id(rt)) is Outcome.done
    with rt.session() as s:
        [order] = s.scalars(select(Order)).all()
        return order.id, order.stage


def test_the_intake_job_verifies_the_order_and_queues_a_write_back_that_failed(client: Any, rt: Any) -> None:
    order_id, stage = _paid_order_taken_in(client, rt)
    assert stage not in ("received", "verifying")  # verified in the intake job
    assert not rt.queue.is_live(safe_job_id("verify", order_id))
    # The verdict's write-back was tried there too; the store cannot be called, so it waits
    # in the queue with its retries.
    assert rt.queue.is_live(safe_job_id("risk", order_id, 1))


def test_a_verification_that_fails_in_the_intake_job_is_queued(
    client: Any, rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(rt_: Any, order_id: int) -> str:
        raise TimeoutError("the address check timed out")

    monkeypatch.setitem(JOBS, "verify_order", JobDef("verify_order", failing, "orders"))
    order_id, stage = _paid_order_taken_in(client, rt)
    assert stage == "received"
    assert rt.queue.is_live(safe_job_id("verify", order_id))
    assert not rt.queue.is_live(safe_job_id("risk", order_id, 1))


def test_a_verification_told_to_wait_is_queued_after_that_wait(
    client: Any, rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(rt_: Any, order_id: int) -> str:
        raise Retryable("429: slow down", wait_s=30)

    queued: list[tuple[str, float]] = []
    enqueue = rt.queue.enqueue

    def watched(name: str, kwargs: dict[str, Any], job_id: str, delay_s: float = 0, **more: Any) -> bool:
        queued.append((job_id, delay_s))
        return bool(enqueue(name, kwargs, job_id=job_id, delay_s=delay_s, **more))

    monkeypatch.setitem(JOBS, "verify_order", JobDef("verify_order", throttled, "orders"))
    monkeypatch.setattr(rt.queue, "enqueue", watched)  # the real queue, its calls noted
    order_id, stage = _paid_order_taken_in(client, rt)
    assert stage == "received"
    job_id = safe_job_id("verify", order_id)
    assert (job_id, 30) in queued
    assert rt.queue.is_live(job_id)

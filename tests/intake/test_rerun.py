"""An order event re-run after its order was committed makes sure the next step is queued."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Order
from sync import pipeline
from sync.jobs import Outcome, safe_job_id
from tests.intake.test_body_checks import BASIC, SHOP, last_event_id, run_inbox_job
from tests.intake.test_body_checks import config as config  # no address checks
from tests.intake.test_receivers import (  # noqa: F401  # the fixtures: secrets, handled test topics
    add_store,
    handled_topics,
    secrets,
    shopify_post,
)


def test_a_rerun_that_finds_its_order_stored_queues_the_verification(
    client: Any, rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_store(rt, "shopify", SHOP)
    body = copy.deepcopy(BASIC)
    body["financial_status"] = "paid"
    assert shopify_post(client, json.dumps(body).encode(), event_id="paid").json == {"status": "accepted"}
    event_id = last_event_id(rt)

    def queue_down(rt_: Any, order_id: Any) -> None:
        raise ConnectionError("the queue did not answer")

    # First run: the order is committed, then its verification can neither run nor be
    # enqueued (its attempt in the intake job failed, and so did the enqueue after it).
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "verify_now", queue_down)
        assert run_inbox_job(rt, event_id) is Outcome.retry
    with rt.session() as s:
        [order] = s.scalars(select(Order)).all()
        order_id, stage = order.id, order.stage
    assert stage == "received"
    assert not rt.queue.is_live(safe_job_id("verify", order_id))
    # The re-run finds the order held (nothing changes) and queues its verification, once.
    assert run_inbox_job(rt, event_id) is Outcome.done
    assert rt.queue.is_live(safe_job_id("verify", order_id))
    assert rt.queue.enqueue("verify_order", {"order_id": order_id}, safe_job_id("verify", order_id)) is False

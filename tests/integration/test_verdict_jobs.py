"""The verdict write-back and storefront cancellation jobs when there is nothing to tell:
the order is gone, has no such verdict, or is not rejected. They answer so and call no
storefront (no effect is claimed), on a real database (both backends)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.storefront.writes import Sentiment
from connectors.woocommerce.storefront_writes import status_for
from db.models import Effect, utcnow
from db.models import Order as OrderRow
from sync.jobs import safe_job_id
from sync.pipeline import ReviewError, address_check, resume_stalled, start, verify_order
from sync.review import approve
from sync.verdicts import cancel_on_storefront, outcome_of, verdict, write_back_verdict
from tests.integration.test_review_api import canonical, held_order, merchant


def effects(rt: Any) -> int:
    with rt.session() as s:
        return int(s.scalar(select(func.count(Effect.key))) or 0)


def test_jobs_for_an_order_that_is_gone_do_nothing(rt: Any) -> None:
    account_id, store_id, _ = merchant(rt, "alpha")
    order_id = held_order(rt, account_id, store_id, "1001")
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        s.delete(row)
    assert write_back_verdict(rt, order_id=order_id, n=1) == "missing"
    assert cancel_on_storefront(rt, order_id=order_id) == "missing"
    assert effects(rt) == 0


def test_a_second_verdict_before_any_review_and_a_cancel_of_a_held_order_tell_nothing(rt: Any) -> None:
    account_id, store_id, _ = merchant(rt, "alpha")
    order_id = held_order(rt, account_id, store_id, "1001")
    assert write_back_verdict(rt, order_id=order_id, n=2) == "no verdict"  # nobody reviewed it yet
    assert cancel_on_storefront(rt, order_id=order_id) == "on_hold"  # only a rejected order is cancelled
    assert effects(rt) == 0


def test_the_first_verdict_of_an_order_no_rule_fired_on_is_positive(rt: Any) -> None:
    account_id, store_id, _ = merchant(rt, "alpha")
    order_id = held_order(rt, account_id, store_id, "1001")
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        row.risk = {"score": 0, "decision": "approve", "facts": [], "reason": "score 0: no rule fired"}
        row.stage = "ready_to_ship"
        s.flush()
        told = verdict(row, 1)
        assert told is not None
        assert told["facts"] == [(Sentiment.positive, "No risk rule fired (score 0)")]
        assert told["note"] == "Waybill risk check: score 0, approve. score 0: no rule fired"
        assert status_for(outcome_of("approve", 1, row)) is None  # WooCommerce's status is left as it is
        row.review = {"reviewer": "sam", "decision": "approve", "reason": "known buyer"}
        assert status_for(outcome_of("approve", 2, row)) == "processing"
        assert status_for(outcome_of("reject", 2, row)) is None


def test_a_verification_or_cancellation_already_done_is_not_done_again(rt: Any) -> None:
    account_id, store_id, _ = merchant(rt, "alpha")
    order_id = held_order(rt, account_id, store_id, "1001")  # verified already: held with its verdict
    assert verify_order(rt, order_id=order_id) == "on_hold"
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None and row.risk is not None and row.risk["score"] == 65  # the verdict kept
        row.stage, row.cancelled_at = "rejected", utcnow()
    assert cancel_on_storefront(rt, order_id=order_id) == "already cancelled"
    start(rt, [])  # nothing to verify: nothing enqueued
    assert effects(rt) == 0 and rt.queue.depth()["orders"] == 0


def test_a_held_order_without_its_verdict_yet_cannot_be_decided(rt: Any) -> None:
    account_id, store_id, _ = merchant(rt, "alpha")
    order_id = held_order(rt, account_id, store_id, "1001")
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        row.risk = None  # held before verification finished (an oversold hold, say)
    with pytest.raises(ReviewError, match=f"order {order_id} has not been verified yet"):
        approve(rt, account_id, order_id, "sam", "looks fine")
    assert order_row_state(rt, order_id) == ("on_hold", None)


def order_row_state(rt: Any, order_id: int) -> tuple[str, Any]:
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        return row.stage, row.review


def test_the_address_is_verified_only_when_configured_and_says_why_not(
    rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.orders import Order

    order = Order.from_dict(canonical("1001"))
    monkeypatch.setattr(rt.settings.risk, "verify_addresses", False)
    assert address_check(rt, order) == (None, "address verification is off (risk.verify_addresses)")
    monkeypatch.setattr(rt.settings.risk, "verify_addresses", True)
    monkeypatch.setattr(rt.settings.easypost, "api_key", None)
    assert address_check(rt, order) == (None, "no EasyPost key configured: address not verified")


def test_an_order_left_waiting_for_verification_is_enqueued_again_once(rt: Any) -> None:
    account_id, store_id, _ = merchant(rt, "alpha")
    stalled = held_order(rt, account_id, store_id, "1001")
    recent = held_order(rt, account_id, store_id, "1002")
    with rt.session() as s:
        for order_id, age in ((stalled, timedelta(minutes=5)), (recent, timedelta(0))):
            row = s.get(OrderRow, order_id)
            assert row is not None
            row.stage, row.risk, row.hold_reason = "received", None, None
            row.updated_at = utcnow() - age
    assert resume_stalled(rt) == 1  # the recent one may still have its job coming
    assert rt.queue.is_live(safe_job_id("verify", stalled))
    assert not rt.queue.is_live(safe_job_id("verify", recent))
    depth = rt.queue.depth()["orders"]
    assert resume_stalled(rt) == 1 and rt.queue.depth()["orders"] == depth  # its job is there: not twice

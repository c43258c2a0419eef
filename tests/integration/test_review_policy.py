"""What a reviewer's decision depends on, through ``sync.decisions.approve`` / ``reject``.

An order held as oversold is released only when the merchant's own stock of the order's
SKUs, at the location it ships from, covers it; another merchant's stock, another location
or another SKU never decides it. A decision returns the order as it now stands.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import Refusal
from db.models import Order as OrderRow
from db.stock import ensure_item, move
from sync import pipeline
from sync import review as decisions
from tests.integration.test_review_api import VERDICT, held_order, merchant

OVERSOLD = "oversold: TOTE: 1 wanted, 0 available"


def stock(rt: Any, account: int, sku: str, *, on_hand: int, reserved: int, location: str = "default") -> None:
    with rt.session() as s:
        item = ensure_item(s, account, sku, location)
        key = f"t:{account}:{sku}:{location}"
        move(
            s,
            item,
            account_id=account,
            key=key,
            reason="manual_adjustment",
            source="t",
            on_hand=on_hand,
            reserved=reserved,
        )


def test_only_the_merchants_own_stock_of_the_orders_skus_where_it_ships_from_decides(rt: Any) -> None:
    alpha, alpha_store, _ = merchant(rt, "alpha")
    beta, _beta_store, _ = merchant(rt, "beta")
    stock(rt, alpha, "TOTE", on_hand=0, reserved=1)  # the order's own unit, not there
    stock(rt, alpha, "TOTE", on_hand=0, reserved=4, location="backroom")  # short too, elsewhere
    stock(rt, alpha, "MUG", on_hand=0, reserved=2)  # short, but not in this order
    stock(rt, beta, "TOTE", on_hand=0, reserved=3)  # another merchant's shortage
    order_id = held_order(rt, alpha, alpha_store, "2001", OVERSOLD)
    with pytest.raises(pipeline.ReviewError) as refused:
        decisions.approve(rt, alpha, order_id, "sam", "checked")
    assert str(refused.value) == "still short of stock, cannot ship yet: TOTE: -1 available"


def test_an_oversold_order_is_released_once_its_units_are_there_exactly(rt: Any) -> None:
    alpha, alpha_store, _ = merchant(rt, "alpha")
    stock(rt, alpha, "TOTE", on_hand=1, reserved=1)  # zero available: the order's unit is covered
    stock(rt, alpha, "TOTE", on_hand=0, reserved=4, location="backroom")
    order_id = held_order(rt, alpha, alpha_store, "2002", OVERSOLD)
    summary = decisions.approve(rt, alpha, order_id, "sam", "stock arrived")
    assert summary["stage"] == "ready_to_ship"


def test_a_decision_returns_the_order_as_it_now_stands(rt: Any) -> None:
    alpha, alpha_store, _ = merchant(rt, "alpha")
    approved = held_order(rt, alpha, alpha_store, "2003")
    rejected = held_order(rt, alpha, alpha_store, "2004")
    summary = decisions.approve(rt, alpha, approved, "sam", "called the customer")
    review = summary.pop("review")
    assert summary == {"id": approved, "stage": "ready_to_ship", "hold_reason": None, "risk": VERDICT}
    assert (review["reviewer"], review["decision"], review["reason"]) == (
        "sam",
        "approve",
        "called the customer",
    )
    assert decisions.approve(rt, alpha, approved, "sam", "again") == {**summary, "review": review}
    summary = decisions.reject(rt, alpha, rejected, "kim", "card reported stolen")
    review = summary.pop("review")
    assert summary == {"id": rejected, "stage": "rejected", "hold_reason": None, "risk": VERDICT}
    assert (review["reviewer"], review["decision"], review["reason"]) == (
        "kim",
        "reject",
        "card reported stolen",
    )


@pytest.mark.parametrize(
    ("reviewer", "reason", "message"),
    [
        (None, "fine", "reviewer and reason are both required"),
        ("sam", None, "reviewer and reason are both required"),
        ("  ", "fine", "reviewer and reason are both required"),
        ("sam", " \n", "reviewer and reason are both required"),
        ("sam", "x" * 1001, "reason is longer than 1000 characters"),
        ("s" * 201, "fine", "reviewer is longer than 200 characters"),
    ],
)
def test_a_decision_needs_a_reviewer_and_a_reason_within_bounds(
    rt: Any, reviewer: Any, reason: Any, message: str
) -> None:
    alpha, alpha_store, _ = merchant(rt, "alpha")
    order_id = held_order(rt, alpha, alpha_store, "2005")
    for decide in (decisions.approve, decisions.reject):
        with pytest.raises(pipeline.ReviewInputError) as refused:
            decide(rt, alpha, order_id, reviewer, reason)
        assert str(refused.value) == message
    review = decisions.approve(rt, alpha, order_id, " " + "s" * 200 + " ", "  " + "x" * 1000 + "\n")["review"]
    assert (review["reviewer"], review["reason"]) == ("s" * 200, "x" * 1000)  # at the bounds, trimmed


def test_a_decision_is_refused_with_what_stands_in_its_way(rt: Any) -> None:
    alpha, alpha_store, _ = merchant(rt, "alpha")
    beta, _beta_store, _ = merchant(rt, "beta")

    def refusal(decide: Any, account: int, order_id: int) -> tuple[type, str]:
        with pytest.raises(Refusal) as refused:
            decide(rt, account, order_id, "kim", "second look")
        return type(refused.value), str(refused.value)

    approved = held_order(rt, alpha, alpha_store, "2006")
    decisions.approve(rt, alpha, approved, "sam", "called the customer")
    assert refusal(decisions.reject, alpha, approved) == (
        pipeline.ReviewError,
        f"order {approved} was already approved by sam",
    )
    rejected = held_order(rt, alpha, alpha_store, "2007")
    decisions.reject(rt, alpha, rejected, "sam", "card reported stolen")
    assert refusal(decisions.approve, alpha, rejected) == (
        pipeline.ReviewError,
        f"order {rejected} was already rejected by sam",
    )
    assert refusal(decisions.approve, beta, approved) == (decisions.OrderNotFound, "not found")
    assert refusal(decisions.reject, alpha, 999_999) == (decisions.OrderNotFound, "not found")
    unverified = held_order(rt, alpha, alpha_store, "2008", OVERSOLD)
    ready = held_order(rt, alpha, alpha_store, "2009")
    with rt.session() as s:
        row = s.get(OrderRow, unverified)
        assert row is not None
        row.risk = None
        row = s.get(OrderRow, ready)
        assert row is not None
        row.stage, row.hold_reason = "ready_to_ship", None
    assert refusal(decisions.approve, alpha, unverified) == (
        pipeline.ReviewError,
        f"order {unverified} has not been verified yet; decide once its verdict is in",
    )
    odd = held_order(rt, alpha, alpha_store, "2010")
    with rt.session() as s:
        row = s.get(OrderRow, odd)
        assert row is not None
        row.review = {"reviewer": "lee", "decision": "escalate"}  # not a decision this version takes
    assert refusal(decisions.approve, alpha, odd) == (
        pipeline.ReviewError,
        f"order {odd} was already decided by lee",
    )
    for decide, verb in ((decisions.approve, "approve"), (decisions.reject, "reject")):
        assert refusal(decide, alpha, ready) == (
            pipeline.ReviewError,
            f"order {ready} is ready_to_ship, not on hold: nothing to {verb}",
        )

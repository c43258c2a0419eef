"""``sync.lifecycle.advance`` on a real database: a move in the table is made and recorded,
one that is not changes nothing; the stock ledger's oversold hold follows the table (a
rejected order stays rejected); the moves metric counts committed moves only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from core.lifecycle import IllegalTransition, Stage
from core.orders import Order
from db.accounts import issue_token
from db.models import Account, Store, TimelineEntry, utcnow
from db.models import Order as OrderRow
from db.stock import ensure_item
from sync.lifecycle import advance, storefront_cancelled
from sync.stock_orders import apply_order
from tests.integration.test_review_api import canonical, merchant, order_row
from web.api_doc import document


def stored(rt: Any, stage: Stage, hold_reason: str | None = None) -> tuple[int, int]:
    """(account id, order id) of a new order of 1 TOTE at ``stage`` (new: the stock ledger
    counts it, it was not sold before the ledger existed)."""
    account_id, store_id, _headers = merchant(rt, f"lc-{stage}")
    now = utcnow().isoformat()
    data = {**canonical("2001"), "created_at": now, "updated_at": now}
    with rt.session() as s:
        row = OrderRow(
            account_id=account_id,
            store_id=store_id,
            platform="shopify",
            platform_order_id="2001",
            number="#2001",
            email="ada@example.com",
            stage=stage.value,
            financial_status="paid",
            fulfillment_status="unfulfilled",
            platform_updated_at=utcnow(),
            data=data,
            hold_reason=hold_reason,
        )
        s.add(row)
        s.flush()
        return account_id, int(row.id)


def actions(rt: Any, order_id: int) -> list[tuple[str, str, str | None]]:
    with rt.session() as s:
        found = s.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.subject == f"order:{order_id}")
            .order_by(TimelineEntry.id)
        )
        return [(e.actor, e.action, e.reason) for e in found]


def test_a_move_in_the_table_sets_the_stage_and_says_why(rt: Any) -> None:
    _account, order_id = stored(rt, Stage.RECEIVED)
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        before = row.updated_at
        advance(s, row, Stage.VERIFYING, "pipeline", "verification started", {"n": 1})
    row = order_row(rt, order_id)
    assert row.stage == "verifying" and type(row.stage) is str and row.updated_at >= before
    assert actions(rt, order_id) == [("pipeline", "order.verifying", "verification started")]


@pytest.mark.parametrize(
    ("frm", "to"), [(Stage.CANCELLED, Stage.ON_HOLD), (Stage.RECEIVED, Stage.READY_TO_SHIP)]
)
def test_a_move_not_in_the_table_is_refused_and_changes_nothing(rt: Any, frm: Stage, to: Stage) -> None:
    _account, order_id = stored(rt, frm)
    with pytest.raises(IllegalTransition, match=f"cannot move from {frm} to {to}"), rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        advance(s, row, to, "pipeline", "should not happen")
    assert order_row(rt, order_id).stage == frm
    assert actions(rt, order_id) == []


def oversell(rt: Any, order_id: int) -> None:
    """The order's update wants 3 TOTE where none is in stock: the stock ledger is short."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        assert row is not None
        store = s.get(Store, row.store_id)
        assert store is not None
        ensure_item(s, row.account_id, "TOTE", rt.settings.inventory.location)
        s.flush()
        order = Order.from_dict({**row.data, "line_items": [{**row.data["line_items"][0], "quantity": 3}]})
        apply_order(s, store, row, order, rt.settings.inventory, payload=None)


def test_a_rejected_order_oversold_by_an_update_stays_rejected(rt: Any) -> None:
    # Before the table, the stock ledger put it on hold, where a reviewer could approve it
    # and its cancellation on the storefront was skipped.
    _account, order_id = stored(rt, Stage.REJECTED)
    oversell(rt, order_id)
    row = order_row(rt, order_id)
    assert (row.stage, row.hold_reason) == ("rejected", None)
    assert actions(rt, order_id) == []


def test_an_order_on_hold_oversold_by_an_update_is_held_again_with_the_reason(rt: Any) -> None:
    _account, order_id = stored(rt, Stage.ON_HOLD, hold_reason="review: score 65")
    oversell(rt, order_id)
    row = order_row(rt, order_id)
    assert row.stage == "on_hold" and row.hold_reason == "oversold: TOTE: 3 wanted, 0 available"
    assert actions(rt, order_id) == [("inventory", "order.held", row.hold_reason)]


@pytest.mark.parametrize("stage", [Stage.RECEIVED, Stage.FULFILLED, Stage.REJECTED])
def test_the_storefront_cancelling_records_it_and_a_rejected_order_keeps_its_stage(
    rt: Any, stage: Stage
) -> None:
    _account, order_id = stored(rt, stage)
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        storefront_cancelled(s, row, "shopify:orders/cancelled", "customer")
    expected = "rejected" if stage is Stage.REJECTED else "cancelled"
    assert order_row(rt, order_id).stage == expected
    assert actions(rt, order_id) == [("shopify:orders/cancelled", "order.cancelled", "customer")]


def moves(stage: str) -> float:
    return REGISTRY.get_sample_value("waybill_order_moves_total", {"stage": stage}) or 0.0


def test_moves_are_counted_once_committed(rt: Any) -> None:
    _account, order_id = stored(rt, Stage.RECEIVED)
    before = moves("verifying")
    with pytest.raises(RuntimeError), rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        advance(s, row, Stage.VERIFYING, "pipeline", "rolled back")
        raise RuntimeError("the transaction fails")
    assert moves("verifying") == before and order_row(rt, order_id).stage == "received"
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        advance(s, row, Stage.VERIFYING, "pipeline", "committed")
    assert moves("verifying") == before + 1


def test_the_api_and_the_cli_filter_by_every_stage_and_only_those(app: Any, client: Any, rt: Any) -> None:
    account_id, order_id = stored(rt, Stage.PARTIALLY_FULFILLED)
    with rt.session() as s:
        account = s.get(Account, account_id)
        assert account is not None
        headers = {"Authorization": f"Bearer {issue_token(s, account)}"}
    runner = app.test_cli_runner()
    for stage in Stage:
        listed = client.get(f"/api/v1/orders?stage={stage}", headers=headers).json["orders"]
        shown = runner.invoke(args=["orders", "list", "--json", "--stage", stage.value])
        assert shown.exit_code == 0, shown.output
        expected = [order_id] if stage is Stage.PARTIALLY_FULFILLED else []
        assert [o["id"] for o in listed] == expected == [o["id"] for o in json.loads(shown.output)]
    refused = runner.invoke(args=["orders", "list", "--stage", "awaiting_pack_scan"])
    assert refused.exit_code == 2 and "'awaiting_pack_scan' is not one of" in refused.output
    (param,) = [
        p for p in document(app)["paths"]["/api/v1/orders"]["get"]["parameters"] if p["name"] == "stage"
    ]
    assert param["schema"]["enum"] == [s.value for s in Stage]

"""The console's returns (``/app/returns``) on a real database (both backends): the list by
state, a return's page, and the steps through the API's functions (override, receive and
inspect, approve/reject a held one, close), with refusals that change nothing and another
account's return not found."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Order, Return, ReturnItem, Role, StockMovement
from sync.returns.requests import request_return
from tests.e2e.console import person
from tests.integration.returns_shops import north_and_south
from tests.integration.test_console_stock import signed_in
from tests.integration.test_tracking_desk import T0

ASK = [{"line_id": "0", "quantity": 1, "reason": "unwanted"}]


def ask(rt: Any, account: int, order: int, key: str) -> int:
    return request_return(
        rt, account_id=account, order_id=order, asks=ASK, source="merchant", key=key, actor="t"
    ).id


@pytest.fixture
def shop(rt: Any) -> dict[str, Any]:
    found = north_and_south(rt)
    south_account = account_of(rt, found["south_order"])
    found["approved"] = ask(rt, found["account"], found["order"], "k-approved")
    found["south_return"] = ask(rt, south_account, found["south_order"], "k-south")
    return found


def account_of(rt: Any, order_id: int) -> int:
    with rt.session() as s:
        row = s.get(Order, order_id)
        assert row is not None
        return int(row.account_id)


def state_of(rt: Any, return_id: int) -> str:
    with rt.session() as s:
        row = s.get(Return, return_id)
        assert row is not None
        return str(row.state)


def test_the_list_and_a_returns_page(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    signed_in(client, person(rt, Role.staff, account_id=shop["account"]))
    listing = client.get("/app/returns").data.decode()
    assert f"Return {shop['approved']}<" in listing and "#1001" in listing
    assert f"Return {shop['south_return']}<" not in listing
    assert f"Return {shop['approved']}<" not in client.get("/app/returns?state=refused").data.decode()
    assert f"Return {shop['approved']}<" in client.get("/app/returns?state=approved").data.decode()
    newer = ask(rt, shop["account"], shop["order"], "k-newer")
    listing = client.get("/app/returns").data.decode()
    assert listing.index(f"Return {newer}<") < listing.index(f"Return {shop['approved']}<")  # newest first
    older = client.get(f"/app/returns?before={newer}").data.decode()
    assert f"Return {shop['approved']}<" in older and f"Return {newer}<" not in older
    page = client.get(f"/app/returns/{shop['approved']}").data.decode()
    assert "accepted by the policy" in page and "unwanted" in page and "return.requested" in page
    assert "Receive and inspect" in page and "Close the return" in page


def test_receive_and_inspect_restocks_a_resellable_unit(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    staff = person(rt, Role.staff, account_id=shop["account"])
    csrf = signed_in(client, staff)
    with rt.session() as s:
        [item] = s.scalars(select(ReturnItem.id).where(ReturnItem.return_id == shop["approved"]))
    bad = client.post(
        f"/app/returns/{shop['approved']}/receive", data={"csrf_token": csrf, f"condition-{item}": "shiny"}
    )
    assert bad.status_code == 400 and "the condition must be one of" in bad.data.decode()
    assert state_of(rt, shop["approved"]) == "approved"
    done = client.post(
        f"/app/returns/{shop['approved']}/receive",
        data={"csrf_token": csrf, f"condition-{item}": "resellable", "weight_oz": "9"},
    )
    assert done.status_code == 303
    assert state_of(rt, shop["approved"]) == "inspected"
    with rt.session() as s:
        assert s.scalars(select(StockMovement.reason).where(StockMovement.reason == "return_restocked")).all()
    page = client.get(f"/app/returns/{shop['approved']}").data.decode()
    assert f"received by {staff.email}" in page and "resellable" in page


def test_close_needs_a_reason_and_a_refusal_is_overridden(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    csrf = signed_in(client, person(rt, Role.staff, account_id=shop["account"]))
    empty = client.post(f"/app/returns/{shop['approved']}/close", data={"csrf_token": csrf, "reason": " "})
    assert empty.status_code == 400 and "a reason is required" in empty.data.decode()
    assert state_of(rt, shop["approved"]) == "approved"
    closed = client.post(
        f"/app/returns/{shop['approved']}/close", data={"csrf_token": csrf, "reason": "customer kept it"}
    )
    assert closed.status_code == 303 and state_of(rt, shop["approved"]) == "closed"

    rt.now = lambda: T0 + timedelta(days=90)  # outside the window: refused by the policy
    refused = ask(rt, shop["account"], shop["order"], "k-late")
    assert state_of(rt, refused) == "refused"
    page = client.get(f"/app/returns/{refused}").data.decode()
    assert "refused by the policy" in page and "window" in page
    no_note = client.post(f"/app/returns/{refused}/override", data={"csrf_token": csrf, "note": ""})
    assert no_note.status_code == 400 and state_of(rt, refused) == "refused"
    ok = client.post(f"/app/returns/{refused}/override", data={"csrf_token": csrf, "note": "loyal customer"})
    assert ok.status_code == 303 and state_of(rt, refused) == "approved"
    # Overriding a return that is not refused is a conflict that changes nothing.
    twice = client.post(f"/app/returns/{shop['approved']}/override", data={"csrf_token": csrf, "note": "x"})
    assert twice.status_code == 409 and state_of(rt, shop["approved"]) == "closed"


def test_a_held_return_is_rejected_with_a_reason(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    with rt.session() as s:  # what refund_return writes when an evidence rule fires
        row = s.get(Return, shop["approved"])
        assert row is not None
        row.hold_reason = "The parcel arrived weighing 1 oz, less than 50% of the 10 oz shipped."
    csrf = signed_in(client, person(rt, Role.staff, account_id=shop["account"]))
    assert "Held for review" in client.get("/app/returns?held=1").data.decode()
    page = client.get(f"/app/returns/{shop['approved']}").data.decode()
    assert "held for review" in page and "Reject the held return" in page
    assert (
        client.post(f"/app/returns/{shop['approved']}/reject", data={"csrf_token": csrf}).status_code == 400
    )
    assert state_of(rt, shop["approved"]) == "approved"
    done = client.post(
        f"/app/returns/{shop['approved']}/reject", data={"csrf_token": csrf, "reason": "empty box"}
    )
    assert done.status_code == 303 and state_of(rt, shop["approved"]) == "closed"
    with rt.session() as s:
        row = s.get(Return, shop["approved"])
        assert row is not None and row.review is not None and row.review["reason"] == "empty box"


def test_another_accounts_return_is_not_found(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    csrf = signed_in(client, person(rt, Role.staff, account_id=shop["account"]))
    south = shop["south_return"]
    assert client.get(f"/app/returns/{south}").status_code == 404
    for step, form in (("close", {"reason": "x"}), ("override", {"note": "x"}), ("approve", {"reason": "x"})):
        assert (
            client.post(f"/app/returns/{south}/{step}", data={"csrf_token": csrf, **form}).status_code == 404
        )
    assert state_of(rt, south) == "approved"


def test_a_packer_may_not_open_returns(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    csrf = signed_in(client, person(rt, Role.packer, account_id=shop["account"]))
    assert client.get("/app/returns").status_code == 403
    assert (
        client.post(
            f"/app/returns/{shop['approved']}/close", data={"csrf_token": csrf, "reason": "x"}
        ).status_code
        == 403
    )
    assert state_of(rt, shop["approved"]) == "approved"

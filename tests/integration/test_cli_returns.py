"""`waybill returns ...` through Flask's CLI runner: create (once per --key), list, show,
override, receive, approve/reject a held return, close; bad input is a clear error that
changes nothing, and another account's return is not found.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import Return, StockMovement
from tests.integration.returns_shops import north_and_south
from tests.integration.test_tracking_desk import T0


def invoke(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["returns", *args])


@pytest.fixture
def shop(rt: Any) -> dict[str, Any]:
    return north_and_south(rt)


def returns_of(rt: Any) -> list[Return]:
    with rt.session() as s:
        return list(s.scalars(select(Return).order_by(Return.id)))


def test_create_list_show(app: Any, rt: Any, shop: dict[str, Any]) -> None:
    made = invoke(
        app, "create", str(shop["order"]), "--item", "0:1:unwanted", "--key", "desk-1", "--account", "north"
    )
    assert made.exit_code == 0, made.output
    (ret,) = returns_of(rt)
    assert made.output.splitlines()[0].startswith(f"{ret.id:<6} approved    refund   order {shop['order']}")
    assert "  item " in made.output and "1 x MUG-12OZ (unwanted)" in made.output
    # Its follow-up (write-back, label) ran in the command (embedded) or was queued (production).
    assert made.output.splitlines()[-1].startswith(("ran its next steps here:", "its next steps are queued"))
    again = invoke(
        app, "create", str(shop["order"]), "--item", "0:1:unwanted", "--key", "desk-1", "--account", "north"
    )
    assert again.exit_code == 0 and len(returns_of(rt)) == 1  # the same key asks once
    listed = invoke(app, "list", "--account", "north").output.splitlines()
    assert len(listed) == 1 and listed[0].startswith(f"{ret.id:<6} approved")
    assert invoke(app, "list", "--account", "north", "--state", "refused").output == "no returns\n"
    assert invoke(app, "list", "--account", "south").output == "no returns\n"
    shown = invoke(app, "show", str(ret.id), "--account", "north").output
    assert "return.requested" in shown and "return.approved" in shown
    assert f'"id": {ret.id}' in invoke(app, "show", str(ret.id), "--account", "north", "--json").output


def test_bad_input_is_a_clear_error_that_changes_nothing(app: Any, rt: Any, shop: dict[str, Any]) -> None:
    cases = [
        (
            ["create", str(shop["order"]), "--item", "0-1-unwanted", "--account", "north"],
            "LINE_ID:QUANTITY:REASON",
        ),
        (
            ["create", str(shop["order"]), "--item", "0:x:unwanted", "--account", "north"],
            "LINE_ID:QUANTITY:REASON",
        ),
        (["create", str(shop["order"]), "--item", "0:0:unwanted", "--account", "north"], "quantity"),
        (
            ["create", str(shop["south_order"]), "--item", "0:1:unwanted", "--account", "north"],
            "no such order",
        ),
        (["create", str(shop["order"]), "--item", "0:1:unwanted"], "several accounts"),
        (["list", "--account", "north", "--state", "lost"], "Invalid value"),
    ]
    for args, message in cases:
        result = invoke(app, *args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    assert returns_of(rt) == []


def test_the_merchants_steps(app: Any, rt: Any, shop: dict[str, Any]) -> None:
    rt.now = lambda: T0 + timedelta(days=90)
    invoke(app, "create", str(shop["order"]), "--item", "0:2:unwanted", "--account", "north")
    (refused,) = returns_of(rt)
    assert refused.state == "refused"
    assert "refused: window:" in invoke(app, "show", str(refused.id), "--account", "north").output
    # Another account's return is not found, and nothing changes.
    other = invoke(app, "override", str(refused.id), "--note", "ok", "--account", "south")
    assert other.exit_code != 0 and "no return" in other.output
    done = invoke(app, "override", str(refused.id), "--note", "loyal customer", "--account", "north")
    assert done.exit_code == 0 and " approved " in done.output.splitlines()[0]
    (ret,) = returns_of(rt)
    assert ret.override is not None and ret.override["actor"] == "cli"

    bad = invoke(app, "receive", str(ret.id), "--item", "1=broken", "--account", "north")
    assert bad.exit_code != 0 and "ITEM_ID=CONDITION" in bad.output
    shown = invoke(app, "show", str(ret.id), "--account", "north", "--json").output
    item_id = json.loads(shown)["items"][0]["id"]
    received = invoke(
        app,
        "receive",
        str(ret.id),
        "--item",
        f"{item_id}=resellable",
        "--weight-oz",
        "20",
        "--account",
        "north",
    )
    assert received.exit_code == 0, received.output
    assert " inspected " in received.output.splitlines()[0] and "[resellable]" in received.output
    with rt.session() as s:
        assert (
            s.scalar(select(func.count(StockMovement.id)).where(StockMovement.key.like(f"return:{ret.id}:%")))
            == 1
        )


def test_held_returns_are_approved_rejected_and_closed(app: Any, rt: Any, shop: dict[str, Any]) -> None:
    for key in ("a", "b", "c"):
        invoke(
            app, "create", str(shop["order"]), "--item", "0:1:unwanted", "--key", key, "--account", "north"
        )
    first, second, third = returns_of(rt)
    with rt.session() as s:
        for rid in (first.id, second.id):
            s.get(Return, rid).hold_reason = "serial_returner: 3 returns in 90 days"  # type: ignore[union-attr]
    held = invoke(app, "list", "--account", "north", "--held").output.splitlines()
    assert [int(line.split()[0]) for line in held] == [second.id, first.id]
    assert all("HELD: serial_returner" in line for line in held)
    assert invoke(app, "approve", str(first.id), "--account", "north").exit_code != 0  # --reason required
    ok = invoke(app, "approve", str(first.id), "--reason", "known customer", "--account", "north")
    assert ok.exit_code == 0 and "HELD" not in ok.output.splitlines()[0]
    no = invoke(
        app, "reject", str(second.id), "--reason", "empty box", "--actor", "sam", "--account", "north"
    )
    assert no.exit_code == 0 and " closed " in no.output.splitlines()[0]
    twice = invoke(app, "reject", str(first.id), "--reason", "changed my mind", "--account", "north")
    assert twice.exit_code != 0 and "already decided" in twice.output
    closed = invoke(app, "close", str(third.id), "--reason", "customer cancelled", "--account", "north")
    assert closed.exit_code == 0 and " closed " in closed.output.splitlines()[0]
    assert [r.state for r in returns_of(rt)] == ["approved", "closed", "closed"]

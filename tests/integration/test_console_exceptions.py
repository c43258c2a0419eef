"""The console's exception desk on a real database (both backends): the list with its kind,
reason and recommended action, filters by kind and state, acknowledge and resolve through
``sync.tracking.desk`` (the API's functions) with the user on the order's timeline, refusals
that change nothing, and another account's exception not found."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from db.models import DeliveryException, Role, TimelineEntry
from tests.e2e.console import person
from tests.integration.test_console_stock import signed_in
from tests.integration.test_shipping_api import add_order, canonical, merchant
from tests.integration.test_tracking_desk import add_exception, add_shipment


@pytest.fixture
def desk(rt: Any) -> dict[str, Any]:
    north, north_store, _ = merchant(rt, "north")
    south, south_store, _ = merchant(rt, "south")
    order = add_order(rt, north, north_store, "1001", canonical("1001", [("MUG", 1)]), "fulfilled")
    other = add_order(rt, north, north_store, "1002", canonical("1002", [("MUG", 1)]), "fulfilled")
    south_order = add_order(rt, south, south_store, "2001", canonical("2001", [("CAP", 1)]), "fulfilled")
    parcel = add_shipment(rt, north, north_store, order)
    parcel2 = add_shipment(rt, north, north_store, other, tracking_code="9400100000000000000002")
    south_parcel = add_shipment(rt, south, south_store, south_order, tracking_code="9400100000000000000009")
    return {
        "account": north,
        "order": order,
        "failure": add_exception(
            rt, parcel, "failure", reason="Address not found", action="Correct the address with the carrier"
        ),
        "stalled": add_exception(rt, parcel2, "stalled", reason="No scan for 4 days", action="Open a trace"),
        "south": add_exception(rt, south_parcel, "failure"),
    }


def state_of(rt: Any, exception_id: int) -> tuple[str, str | None, str | None]:
    with rt.session() as s:
        row = s.get(DeliveryException, exception_id)
        assert row is not None
        return row.state, row.actor, row.note


def test_the_list_shows_kind_reason_action_and_filters(rt: Any, client: Any, desk: dict[str, Any]) -> None:
    signed_in(client, person(rt, Role.staff, account_id=desk["account"]))
    html = client.get("/app/exceptions").data.decode()
    assert "Address not found" in html and "Correct the address with the carrier" in html
    assert "No scan for 4 days" in html and "Order #1001" in html and "9400100000000000000001" in html
    assert f'href="/app/orders/{desk["order"]}"' in html
    assert "south" not in html and f'id="exception-{desk["south"]}"' not in html
    stalled = client.get("/app/exceptions?kind=stalled").data.decode()
    assert "No scan for 4 days" in stalled and "Address not found" not in stalled
    resolved = client.get("/app/exceptions?state=resolved").data.decode()
    assert "Address not found" not in resolved and "No resolved exceptions." in resolved


def test_acknowledge_then_resolve_with_a_note(rt: Any, client: Any, desk: dict[str, Any]) -> None:
    staff = person(rt, Role.staff, account_id=desk["account"])
    csrf = signed_in(client, staff)
    ack = client.post(f"/app/exceptions/{desk['failure']}/acknowledge", data={"csrf_token": csrf})
    assert ack.status_code == 303
    assert state_of(rt, desk["failure"]) == ("acknowledged", f"user:{staff.email}", None)
    done = client.post(
        f"/app/exceptions/{desk['failure']}/resolve",
        data={"csrf_token": csrf, "note": "carrier redelivers Monday"},
    )
    assert done.status_code == 303
    assert state_of(rt, desk["failure"]) == ("resolved", f"user:{staff.email}", "carrier redelivers Monday")
    with rt.session() as s:
        actions = [
            (e.action, e.actor)
            for e in s.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.subject == f"order:{desk['order']}")
                .order_by(TimelineEntry.id)
            )
        ]
    assert actions == [
        ("tracking.exception_acknowledged", f"user:{staff.email}"),
        ("tracking.exception_resolved", f"user:{staff.email}"),
    ]
    # Finished: acknowledging again is refused, nothing changes.
    again = client.post(f"/app/exceptions/{desk['failure']}/acknowledge", data={"csrf_token": csrf})
    assert again.status_code == 409 and "already resolved" in again.data.decode()
    assert state_of(rt, desk["failure"])[0] == "resolved"


def test_resolving_without_a_note_is_refused_and_changes_nothing(
    rt: Any, client: Any, desk: dict[str, Any]
) -> None:
    csrf = signed_in(client, person(rt, Role.staff, account_id=desk["account"]))
    answer = client.post(
        f"/app/exceptions/{desk['stalled']}/resolve", data={"csrf_token": csrf, "note": "  "}
    )
    assert answer.status_code == 400
    assert "note is required" in answer.data.decode()
    assert state_of(rt, desk["stalled"]) == ("open", None, None)


def test_another_accounts_exception_is_not_found(rt: Any, client: Any, desk: dict[str, Any]) -> None:
    csrf = signed_in(client, person(rt, Role.staff, account_id=desk["account"]))
    assert (
        client.post(f"/app/exceptions/{desk['south']}/acknowledge", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert (
        client.post(
            f"/app/exceptions/{desk['south']}/resolve", data={"csrf_token": csrf, "note": "x"}
        ).status_code
        == 404
    )
    assert state_of(rt, desk["south"]) == ("open", None, None)


def test_without_the_csrf_token_nothing_changes(rt: Any, client: Any, desk: dict[str, Any]) -> None:
    signed_in(client, person(rt, Role.staff, account_id=desk["account"]))
    assert client.post(f"/app/exceptions/{desk['failure']}/acknowledge").status_code == 400
    assert state_of(rt, desk["failure"]) == ("open", None, None)


def test_a_packer_may_not_open_exceptions(rt: Any, client: Any, desk: dict[str, Any]) -> None:
    csrf = signed_in(client, person(rt, Role.packer, account_id=desk["account"]))
    assert client.get("/app/exceptions").status_code == 403
    assert (
        client.post(f"/app/exceptions/{desk['failure']}/acknowledge", data={"csrf_token": csrf}).status_code
        == 403
    )
    assert state_of(rt, desk["failure"]) == ("open", None, None)

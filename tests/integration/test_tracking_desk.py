"""The exception desk (sync/tracking/desk.py) and the `tracking` CLI, on a real database (both
backends): listing with filters and paging, acknowledging and resolving with a note and an
actor, the Conflicts that change nothing, tenant walls, a parcel's tracking, its page link
and carrier performance.

Shipments, scans and exceptions are written here as rows of the shapes db/models.py
defines (what tracking's event flow writes).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.errors import Conflict, InvalidInput, NotFound
from db.models import DeliveryException, Shipment, TimelineEntry, TrackingScan
from sync.tracking import desk
from sync.tracking.links import shipment_for
from tests.integration.test_shipping_api import add_order, canonical, merchant

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)


def add_shipment(rt: Any, account_id: int, store_id: int, order_id: int, **fields: Any) -> int:
    values: dict[str, Any] = {
        "package": 1,
        "state": "fulfilled",
        "tracking_code": "9400100000000000000001",
        "tracker_id": "trk_0001",
        "carrier": "USPS",
        "service": "Priority",
        "route_class": "domestic",
        "shipped_at": T0,
    }
    values.update(fields)
    with rt.session() as s:
        row = Shipment(account_id=account_id, store_id=store_id, order_id=order_id, **values)
        s.add(row)
        s.flush()
        return int(row.id)


def add_scan(
    rt: Any,
    shipment_id: int,
    happened_at: datetime,
    status: str,
    message: str,
    place: dict[str, str] | None = None,
    detail: str | None = None,
) -> None:
    with rt.session() as s:
        shipment = s.get(Shipment, shipment_id)
        assert shipment is not None
        s.add(
            TrackingScan(
                account_id=shipment.account_id,
                shipment_id=shipment_id,
                key=f"{happened_at.isoformat()}:{status}:{message}"[:64],
                happened_at=happened_at,
                status=status,
                status_detail=detail,
                message=message,
                place=place,
            )
        )


def add_exception(rt: Any, shipment_id: int, kind: str, state: str = "open", **fields: Any) -> int:
    with rt.session() as s:
        shipment = s.get(Shipment, shipment_id)
        assert shipment is not None
        row = DeliveryException(
            account_id=shipment.account_id,
            shipment_id=shipment_id,
            order_id=shipment.order_id,
            kind=kind,
            reason=fields.pop("reason", f"{kind} reported by the carrier"),
            action=fields.pop("action", "call the carrier"),
            state=state,
            opened_at=fields.pop("opened_at", T0 + timedelta(days=1)),
            **fields,
        )
        s.add(row)
        s.flush()
        return int(row.id)


def exception_row(rt: Any, exception_id: int) -> dict[str, Any]:
    with rt.session() as s:
        row = s.get(DeliveryException, exception_id)
        assert row is not None
        return {
            "state": row.state,
            "note": row.note,
            "actor": row.actor,
            "acknowledged_at": row.acknowledged_at,
            "resolved_at": row.resolved_at,
        }


def timeline_of(rt: Any, order_id: int) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    with rt.session() as s:
        rows = s.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.subject == f"order:{order_id}")
            .order_by(TimelineEntry.id)
        )
        return [(e.actor, e.action, e.reason, e.data) for e in rows]


@pytest.fixture
def desk_world(rt: Any) -> dict[str, Any]:
    return build_desk_world(rt)


def build_desk_world(rt: Any) -> dict[str, Any]:
    """``north`` with two parcels on two orders and five exceptions in every state; ``south``
    with one open exception of its own."""
    rt.now = lambda: NOW
    north, north_store, headers = merchant(rt, "north")
    south, south_store, south_headers = merchant(rt, "south")
    first = add_order(rt, north, north_store, "1001", canonical("1001", [("MUG-12OZ", 2)]), stage="fulfilled")
    second = add_order(rt, north, north_store, "1002", canonical("1002", [("CAP-RED", 1)]), stage="fulfilled")
    other = add_order(rt, south, south_store, "2001", canonical("2001", [("CAP-RED", 1)]), stage="fulfilled")
    a = add_shipment(rt, north, north_store, first)
    b = add_shipment(rt, north, north_store, second, tracker_id="trk_0002", tracking_code="1Z999")
    c = add_shipment(rt, south, south_store, other, tracker_id="trk_0003")
    ids = {
        "stalled": add_exception(rt, a, "stalled", data={"threshold_s": 129600}),
        "late": add_exception(
            rt, b, "late", state="acknowledged", actor="user:kim", note="asked the carrier"
        ),
        "failure": add_exception(rt, b, "failure"),
        "resolved": add_exception(rt, a, "attempted_delivery", state="resolved", note="redelivered"),
        "cleared": add_exception(rt, a, "late", state="cleared"),
        "south": add_exception(rt, c, "failure"),
    }
    return {
        "north": north,
        "south": south,
        "headers": headers,
        "south_headers": south_headers,
        "orders": {"first": first, "second": second, "other": other},
        "shipments": {"a": a, "b": b, "c": c},
        "exceptions": ids,
    }


def test_the_list_shows_unfinished_exceptions_of_the_account_oldest_first(rt: Any, desk_world: dict) -> None:
    ids = desk_world["exceptions"]
    page = desk.list_exceptions(rt, desk_world["north"])
    assert [e["id"] for e in page.exceptions] == [ids["stalled"], ids["late"], ids["failure"]]
    assert page.next_after is None
    first = page.exceptions[0]
    assert first["order_number"] == "#1001" and first["kind"] == "stalled" and first["state"] == "open"
    assert first["data"] == {"threshold_s": 129600} and first["action"] == "call the carrier"

    every = desk.list_exceptions(rt, desk_world["north"], state="all")
    assert {e["id"] for e in every.exceptions} == {v for k, v in ids.items() if k != "south"}
    cleared = desk.list_exceptions(rt, desk_world["north"], state="cleared")
    assert [e["id"] for e in cleared.exceptions] == [ids["cleared"]]
    late = desk.list_exceptions(rt, desk_world["north"], state="all", kind="late")
    assert [e["id"] for e in late.exceptions] == [ids["late"], ids["cleared"]]
    south = desk.list_exceptions(rt, desk_world["south"])
    assert [e["id"] for e in south.exceptions] == [ids["south"]]


def test_paging_walks_every_exception_once(rt: Any, desk_world: dict) -> None:
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        page = desk.list_exceptions(rt, desk_world["north"], state="all", limit=2, after=after)
        seen += [e["id"] for e in page.exceptions]
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    assert pages == 3 and sorted(seen) == seen and len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"state": "closed"}, "state must be one of"),
        ({"kind": "lost"}, "kind must be one of"),
        ({"limit": 0}, "limit must be between 1 and 500"),
        ({"limit": 501}, "limit must be between 1 and 500"),
        ({"after": -1}, "after must be an exception id"),
    ],
)
def test_a_filter_that_names_nothing_is_refused(
    rt: Any, desk_world: dict, filters: dict, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        desk.list_exceptions(rt, desk_world["north"], **filters)


def test_acknowledging_marks_who_and_when_and_writes_the_timeline(rt: Any, desk_world: dict) -> None:
    exception_id = desk_world["exceptions"]["stalled"]
    done = desk.acknowledge(rt, desk_world["north"], exception_id, "user:kim", "  calling the carrier ")
    assert (done["state"], done["actor"], done["note"]) == ("acknowledged", "user:kim", "calling the carrier")
    assert done["acknowledged_at"] == NOW.isoformat()
    assert exception_row(rt, exception_id)["acknowledged_at"] == NOW
    [entry] = timeline_of(rt, desk_world["orders"]["first"])
    assert entry == (
        "user:kim",
        "tracking.exception_acknowledged",
        "calling the carrier",
        {"exception_id": exception_id, "shipment_id": desk_world["shipments"]["a"], "kind": "stalled"},
    )


def test_acknowledging_twice_is_a_conflict_that_changes_nothing(rt: Any, desk_world: dict) -> None:
    exception_id = desk_world["exceptions"]["late"]
    before = exception_row(rt, exception_id)
    with pytest.raises(Conflict, match=f"exception {exception_id} is already acknowledged by user:kim"):
        desk.acknowledge(rt, desk_world["north"], exception_id, "cli", "again")
    assert exception_row(rt, exception_id) == before
    assert timeline_of(rt, desk_world["orders"]["second"]) == []


def test_resolving_needs_a_note_of_bounded_length(rt: Any, desk_world: dict) -> None:
    exception_id = desk_world["exceptions"]["failure"]
    before = exception_row(rt, exception_id)
    with pytest.raises(InvalidInput, match="note is required"):
        desk.resolve(rt, desk_world["north"], exception_id, "cli", "   ")
    with pytest.raises(InvalidInput, match=f"note is longer than {desk.MAX_NOTE} characters"):
        desk.resolve(rt, desk_world["north"], exception_id, "cli", "x" * (desk.MAX_NOTE + 1))
    with pytest.raises(InvalidInput, match="actor is required"):
        desk.resolve(rt, desk_world["north"], exception_id, " ", "reshipped")
    assert exception_row(rt, exception_id) == before
    assert timeline_of(rt, desk_world["orders"]["second"]) == []


def test_resolving_an_acknowledged_exception_then_again(rt: Any, desk_world: dict) -> None:
    exception_id = desk_world["exceptions"]["late"]
    done = desk.resolve(rt, desk_world["north"], exception_id, "user:kim", "carrier found it; arrives Friday")
    assert (done["state"], done["resolved_at"], done["note"]) == (
        "resolved",
        NOW.isoformat(),
        "carrier found it; arrives Friday",
    )
    after = exception_row(rt, exception_id)
    with pytest.raises(Conflict, match=f"exception {exception_id} is already resolved by user:kim"):
        desk.resolve(rt, desk_world["north"], exception_id, "cli", "twice")
    assert exception_row(rt, exception_id) == after
    actions = [(actor, action) for actor, action, _, _ in timeline_of(rt, desk_world["orders"]["second"])]
    assert actions == [("user:kim", "tracking.exception_resolved")]


def test_a_cleared_exception_cannot_be_acknowledged_or_resolved(rt: Any, desk_world: dict) -> None:
    exception_id = desk_world["exceptions"]["cleared"]
    before = exception_row(rt, exception_id)
    for step in (desk.acknowledge, desk.resolve):
        with pytest.raises(Conflict, match="was cleared"):
            step(rt, desk_world["north"], exception_id, "cli", "too late")
    assert exception_row(rt, exception_id) == before


def test_another_accounts_exception_is_not_found_and_untouched(rt: Any, desk_world: dict) -> None:
    theirs = desk_world["exceptions"]["south"]
    for act in (
        lambda: desk.get_exception(rt, desk_world["north"], theirs),
        lambda: desk.acknowledge(rt, desk_world["north"], theirs, "user:kim"),
        lambda: desk.resolve(rt, desk_world["north"], theirs, "user:kim", "not mine"),
    ):
        with pytest.raises(NotFound, match=f"no exception {theirs}"):
            act()
    assert exception_row(rt, theirs)["state"] == "open"
    with pytest.raises(NotFound):
        desk.acknowledge(rt, desk_world["north"], 999_999, "user:kim")


# --- the CLI ---------------------------------------------------------------------------------


def invoke(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def test_cli_lists_acknowledges_and_resolves(app: Any, rt: Any, desk_world: dict) -> None:
    ids = desk_world["exceptions"]
    listed = invoke(app, "tracking", "exceptions", "--account", "north")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert [int(line.split()[0]) for line in lines if not line.startswith(" ")] == [
        ids["stalled"],
        ids["late"],
        ids["failure"],
    ]
    assert (
        "stalled" in lines[0] and "order #1001" in lines[0] and lines[1].strip() == "action: call the carrier"
    )

    as_json = json.loads(invoke(app, "tracking", "exceptions", "--kind", "failure", "--json").output)
    assert sorted(e["id"] for e in as_json["exceptions"]) == [ids["failure"], ids["south"]]  # every account

    acked = invoke(app, "tracking", "ack", str(ids["stalled"]), "--note", "on it")
    assert (acked.exit_code, acked.output) == (
        0,
        f"exception {ids['stalled']} acknowledged (stalled, order #1001)\n",
    )
    resolved = invoke(
        app, "tracking", "resolve", str(ids["stalled"]), "--note", "reshipped", "--actor", "sam"
    )
    assert resolved.exit_code == 0 and "resolved (stalled, order #1001)" in resolved.output
    assert exception_row(rt, ids["stalled"]) | {"acknowledged_at": None, "resolved_at": None} == {
        "state": "resolved",
        "note": "reshipped",
        "actor": "cli:sam",
        "acknowledged_at": None,
        "resolved_at": None,
    }
    actors = [(actor, action) for actor, action, _, _ in timeline_of(rt, desk_world["orders"]["first"])]
    assert actors == [("cli", "tracking.exception_acknowledged"), ("cli:sam", "tracking.exception_resolved")]

    again = invoke(app, "tracking", "resolve", str(ids["stalled"]), "--note", "twice")
    assert (
        again.exit_code == 1 and f"exception {ids['stalled']} is already resolved by cli:sam" in again.output
    )
    no_note = invoke(app, "tracking", "resolve", str(ids["failure"]))
    assert no_note.exit_code == 2 and "--note" in no_note.output
    missing = invoke(app, "tracking", "ack", "999999")
    assert missing.exit_code == 1 and "no exception 999999" in missing.output
    with rt.session() as s:
        count = s.scalar(select(func.count(TimelineEntry.id)))
    assert count == 2  # the refusals wrote nothing


def test_cli_show_prints_a_parcels_tracking_and_link_prints_its_signed_page(
    app: Any, rt: Any, desk_world: dict
) -> None:
    a = desk_world["shipments"]["a"]
    memphis = {"city": "Memphis", "state": "TN", "country": "US", "postal_code": "38118"}
    add_scan(rt, a, T0 + timedelta(hours=2), "in_transit", "Arrived at USPS facility", memphis)
    add_scan(rt, a, T0 + timedelta(hours=1), "pre_transit", "Shipping label created")
    with rt.session() as s:
        row = s.get(Shipment, a)
        row.delivery_state, row.est_delivery_at = "in_transit", T0 + timedelta(days=3)

    shown = invoke(app, "tracking", "show", str(desk_world["orders"]["first"]))
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"parcel 1 (shipment {a}): USPS Priority 9400100000000000000001"
    assert (
        lines[1]
        == f"  state: in_transit (On its way); estimated delivery: {(T0 + timedelta(days=3)).isoformat()}"
    )
    assert lines[2].startswith(f"  exception {desk_world['exceptions']['stalled']} open: stalled:")
    assert "Arrived at USPS facility - Memphis, TN, US" in lines[3]  # newest first
    assert "Shipping label created" in lines[4]
    as_json = json.loads(invoke(app, "tracking", "show", str(desk_world["orders"]["first"]), "--json").output)
    assert [scan["status"] for scan in as_json[0]["scans"]] == ["in_transit", "pre_transit"]

    missing = invoke(app, "tracking", "show", "999999")
    assert missing.exit_code == 1 and "no order 999999" in missing.output

    linked = invoke(app, "tracking", "link", str(a))
    assert linked.exit_code == 0
    url = linked.output.strip()
    assert url.startswith(f"{rt.settings.public_url}/t/")
    assert shipment_for(rt, url.rsplit("/", 1)[1]) == a
    assert invoke(app, "tracking", "link", "999999").exit_code == 1

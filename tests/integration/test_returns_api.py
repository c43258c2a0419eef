"""Returns in the JSON API: asking for one (once per Idempotency-Key), listing by state,
reading one, and the merchant's steps (override, receive, approve/reject a held one,
close), with bad input refused and changing nothing, and another merchant's returns and
orders answered exactly like unknown ones.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import Return, StockMovement, TimelineEntry
from tests.integration.returns_shops import north_and_south
from tests.integration.test_tracking_desk import T0


@pytest.fixture
def shop(rt: Any) -> dict[str, Any]:
    """``north`` and ``south``, each with a delivered order (two mugs and a tee / a cap)."""
    return north_and_south(rt)


def ask(client: Any, headers: dict[str, str], order_id: int, key: str | None = None, **extra: Any) -> Any:
    body = {"order_id": order_id, "items": [{"line_id": "0", "quantity": 1, "reason": "unwanted"}], **extra}
    return client.post(
        "/api/v1/returns", json=body, headers={**headers, **({"Idempotency-Key": key} if key else {})}
    )


def count(rt: Any) -> int:
    with rt.session() as s:
        return int(s.scalar(select(func.count(Return.id))) or 0)


def test_a_return_is_asked_once_per_idempotency_key(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    first = ask(client, shop["headers"], shop["order"], key="k-1")
    assert first.status_code == 201
    body = first.json
    assert (body["state"], body["source"], body["order_id"]) == ("approved", "merchant", shop["order"])
    assert [(i["line_id"], i["quantity"], i["reason"]) for i in body["items"]] == [("0", 1, "unwanted")]
    assert [e["action"] for e in body["timeline"]] == ["return.requested", "return.approved"]
    again = ask(client, shop["headers"], shop["order"], key="k-1")
    assert again.status_code == 200 and again.json["id"] == body["id"]
    assert ask(client, shop["headers"], shop["order"], key="k-2").status_code == 201
    assert count(rt) == 2


def test_a_request_outside_policy_is_refused_with_its_rule(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    rt.now = lambda: T0 + timedelta(days=90)
    resp = ask(client, shop["headers"], shop["order"])
    assert resp.status_code == 201
    assert resp.json["state"] == "refused"
    assert [r["rule"] for r in resp.json["decision"]["refusals"]] == ["window"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "expected a JSON object"),
        ({"items": [{"line_id": "0", "quantity": 1, "reason": "unwanted"}]}, "order_id"),
        ({"order_id": "1", "items": []}, "order_id"),
        ({"order_id": True, "items": []}, "order_id"),
        ({"order_id": 1, "items": []}, "items must be a list"),
        ({"order_id": 1, "items": ["x"]}, "items must be a list"),
        ({"order_id": 1, "items": [{"line_id": "0", "quantity": 0, "reason": "unwanted"}]}, "quantity"),
        (
            {"order_id": 1, "items": [{"line_id": "0", "quantity": 1, "reason": "x"}], "resolution": 5},
            "resolution",
        ),
        ({"order_id": 1, "items": [{"line_id": "0", "quantity": 1, "reason": "x"}], "actor": 5}, "actor"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    rt: Any, client: Any, shop: dict[str, Any], body: Any, message: str
) -> None:
    if isinstance(body, dict) and type(body.get("order_id")) is int:
        body = {**body, "order_id": shop["order"]}
    resp = client.post("/api/v1/returns", json=body, headers=shop["headers"])
    assert resp.status_code == 400
    assert message in resp.json["error"]
    assert count(rt) == 0


def test_another_merchants_order_and_return_are_not_found(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    theirs = ask(client, shop["south_headers"], shop["south_order"]).json["id"]
    foreign_order = ask(client, shop["headers"], shop["south_order"])
    unknown_order = ask(client, shop["headers"], 10**12)
    assert foreign_order.status_code == unknown_order.status_code == 404
    assert foreign_order.json == unknown_order.json
    unknown = 10**6
    for path, body in (
        ("", None),
        ("/override", {"note": "ok"}),
        ("/close", {"reason": "no"}),
        ("/approve", {"reason": "ok"}),
        ("/reject", {"reason": "no"}),
        ("/receive", {"conditions": {"1": "resellable"}}),
    ):
        send = client.get if body is None else client.post
        kwargs = {} if body is None else {"json": body}
        foreign = send(f"/api/v1/returns/{theirs}{path}", headers=shop["headers"], **kwargs)
        missing = send(f"/api/v1/returns/{unknown}{path}", headers=shop["headers"], **kwargs)
        assert (foreign.status_code, missing.status_code) == (404, 404), path
        assert foreign.json == missing.json == {"error": "not found"} or foreign.json["error"].replace(
            str(theirs), "N"
        ) == missing.json["error"].replace(str(unknown), "N"), path
    listed = client.get("/api/v1/returns", headers=shop["headers"]).json["returns"]
    assert listed == []
    with rt.session() as s:
        assert s.get(Return, theirs).state == "approved"  # type: ignore[union-attr]


def test_the_list_filters_by_state_and_refuses_an_unknown_one(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    approved = ask(client, shop["headers"], shop["order"]).json["id"]
    rt.now = lambda: T0 + timedelta(days=90)
    refused = ask(client, shop["headers"], shop["order"]).json["id"]

    def ids(query: str) -> list[int]:
        answer = client.get(f"/api/v1/returns{query}", headers=shop["headers"]).json
        return [r["id"] for r in answer["returns"]]

    assert ids("") == [refused, approved]  # newest first
    assert ids("?state=refused") == [refused]
    assert ids("?state=approved") == [approved]
    assert ids("?held=true") == []
    assert ids("?limit=1") == [refused]
    for query in ("?state=lost", "?held=maybe", "?limit=x"):
        resp = client.get(f"/api/v1/returns{query}", headers=shop["headers"])
        assert resp.status_code == 400, query
    assert client.get("/api/v1/returns").status_code == 401


def test_a_refusal_is_overridden_with_a_note(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    rt.now = lambda: T0 + timedelta(days=90)
    rid = ask(client, shop["headers"], shop["order"]).json["id"]
    no_note = client.post(f"/api/v1/returns/{rid}/override", json={}, headers=shop["headers"])
    assert no_note.status_code == 400 and "note" in no_note.json["error"]
    done = client.post(
        f"/api/v1/returns/{rid}/override",
        json={"note": "loyal customer", "actor": "sam"},
        headers=shop["headers"],
    )
    assert done.status_code == 200
    assert done.json["state"] == "approved" and done.json["override"]["note"] == "loyal customer"
    assert done.json["override"]["actor"] == "sam"
    rt.now = lambda: T0 + timedelta(days=4)
    approved = ask(client, shop["headers"], shop["order"], key="fresh")
    assert approved.json["state"] == "approved"
    conflict = client.post(
        f"/api/v1/returns/{approved.json['id']}/override", json={"note": "x"}, headers=shop["headers"]
    )
    assert conflict.status_code == 409


def test_receiving_restocks_resellable_units(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    body = ask(client, shop["headers"], shop["order"]).json
    item = body["items"][0]["id"]
    wrong = client.post(
        f"/api/v1/returns/{body['id']}/receive",
        json={"conditions": {"999": "resellable"}},
        headers=shop["headers"],
    )
    assert wrong.status_code == 400 and "condition for each item" in wrong.json["error"]
    bad = client.post(
        f"/api/v1/returns/{body['id']}/receive", json={"conditions": {str(item): 3}}, headers=shop["headers"]
    )
    assert bad.status_code == 400
    with rt.session() as s:
        assert s.get(Return, body["id"]).state == "approved"  # type: ignore[union-attr]
    done = client.post(
        f"/api/v1/returns/{body['id']}/receive",
        json={"conditions": {str(item): "resellable"}, "weight_oz": "12.5"},
        headers=shop["headers"],
    )
    assert done.status_code == 200
    assert done.json["state"] == "inspected" and done.json["items"][0]["condition"] == "resellable"
    with rt.session() as s:
        moved = s.scalar(
            select(func.count(StockMovement.id)).where(StockMovement.key.like(f"return:{body['id']}:%"))
        )
    assert moved == 1


def test_a_held_return_is_approved_or_rejected_once(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    rid = ask(client, shop["headers"], shop["order"]).json["id"]
    other = ask(client, shop["headers"], shop["order"], key="two").json["id"]
    not_held = client.post(f"/api/v1/returns/{rid}/approve", json={"reason": "fine"}, headers=shop["headers"])
    assert not_held.status_code == 409
    with rt.session() as s:
        for held in (rid, other):
            s.get(Return, held).hold_reason = "light_parcel: arrived at 10% of the shipped weight"  # type: ignore[union-attr]
    assert client.get("/api/v1/returns?held=true", headers=shop["headers"]).json["returns"][0]["id"] == other
    ok = client.post(
        f"/api/v1/returns/{rid}/approve", json={"reason": "photos fine"}, headers=shop["headers"]
    )
    assert ok.status_code == 200 and ok.json["hold_reason"] is None
    assert ok.json["review"]["decision"] == "approve"
    assert (
        client.post(
            f"/api/v1/returns/{rid}/reject", json={"reason": "x"}, headers=shop["headers"]
        ).status_code
        == 409
    )
    no = client.post(f"/api/v1/returns/{other}/reject", json={"reason": "empty box"}, headers=shop["headers"])
    assert no.status_code == 200 and no.json["state"] == "closed"


def test_a_return_is_closed_once_with_a_reason(rt: Any, client: Any, shop: dict[str, Any]) -> None:
    rid = ask(client, shop["headers"], shop["order"]).json["id"]
    assert client.post(f"/api/v1/returns/{rid}/close", json={}, headers=shop["headers"]).status_code == 400
    done = client.post(
        f"/api/v1/returns/{rid}/close", json={"reason": "customer cancelled"}, headers=shop["headers"]
    )
    assert done.status_code == 200 and done.json["state"] == "closed"
    again = client.post(f"/api/v1/returns/{rid}/close", json={"reason": "again"}, headers=shop["headers"])
    assert again.status_code == 200 and again.json["closed_at"] == done.json["closed_at"]
    with rt.session() as s:
        closed = s.scalar(select(func.count(TimelineEntry.id)).where(TimelineEntry.action == "return.closed"))
    assert closed == 1


def test_the_openapi_document_lists_the_returns_routes(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for step in ("override", "receive", "approve", "reject", "close"):
        assert "409" in paths[f"/api/v1/returns/{{return_id}}/{step}"]["post"]["responses"], step
    assert set(paths["/api/v1/returns"]) == {"get", "post"}

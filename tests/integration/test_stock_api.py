"""The stock ledger in the JSON API: levels, detail, forecasts, adjustments, counts, tenant walls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from db.accounts import issue_token
from db.models import Account, StockItem, StockMovement
from db.stock import find_item, move
from tests.integration.test_stock_admin import level, seed


def token_for(rt: Any, account_id: int) -> dict[str, str]:
    with rt.session() as s:
        account = s.get(Account, account_id)
        return {"Authorization": f"Bearer {issue_token(s, account)}"}


@pytest.fixture
def merchants(rt: Any) -> dict[str, Any]:
    alpha, alpha_store = seed(rt, "alpha", "alpha.myshopify.com", TOTE=10, MUG=0)
    beta, beta_store = seed(rt, "beta", "beta.myshopify.com", SECRET=5)
    return {
        "alpha": alpha,
        "alpha_store": alpha_store,
        "beta": beta,
        "beta_store": beta_store,
        "a": token_for(rt, alpha),
        "b": token_for(rt, beta),
    }


def sell_daily(rt: Any, account_id: int, sku: str, units: int, days: int) -> None:
    """``units`` reserved by one order on each of the last ``days`` days (the ledger older than that)."""
    now = datetime.now(UTC)
    with rt.session() as s:
        item = find_item(s, account_id, sku, "default")
        assert item is not None
        s.execute(
            update(StockItem).where(StockItem.id == item.id).values(created_at=now - timedelta(days=90))
        )
        for day in range(1, days + 1):
            move(
                s,
                item.id,
                account_id=account_id,
                key=f"test-order:{sku}:{day}",
                reason="order_reserved",
                source="test",
                reserved=units,
            )
            s.execute(
                update(StockMovement)
                .where(StockMovement.key == f"test-order:{sku}:{day}")
                .values(at=now - timedelta(days=day))
            )


def test_inventory_requires_a_token(client: Any) -> None:
    assert client.get("/api/v1/inventory").status_code == 401
    assert client.post("/api/v1/inventory/TOTE/adjustments", json={"delta": 1}).status_code == 401


def test_a_merchant_lists_only_their_own_skus(client: Any, merchants: dict[str, Any]) -> None:
    body = client.get("/api/v1/inventory", headers=merchants["a"]).json
    assert body["location"] == "default"
    assert [r["sku"] for r in body["items"]] == ["MUG", "TOTE"]
    tote = body["items"][1]
    assert {k: tote[k] for k in ("on_hand", "reserved", "available", "low_stock", "threshold")} == {
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
        "low_stock": False,
        "threshold": None,
    }
    assert [(c["store_id"], c["platform"], c["published"], c["channel_qty"]) for c in tote["channels"]] == [
        (merchants["alpha_store"], "shopify", 10, 10)
    ]
    other = client.get("/api/v1/inventory", headers=merchants["b"]).json
    assert [r["sku"] for r in other["items"]] == ["SECRET"]


def test_sku_detail_has_movements_and_a_forecast(client: Any, rt: Any, merchants: dict[str, Any]) -> None:
    detail = client.get("/api/v1/inventory/TOTE", headers=merchants["a"]).json
    assert detail["sku"] == "TOTE" and detail["on_hand"] == 10
    assert [(m["reason"], m["on_hand_delta"], m["on_hand_after"]) for m in detail["movements"]] == [
        ("initial_import", 10, 10)
    ]
    assert detail["forecast"] == {
        "sku": "TOTE",
        "velocity": 0.0,
        "sigma": 0.0,
        "days_of_cover": None,  # nothing sells: the stock lasts for ever
        "safety_stock": 0.0,
        "reorder_point": 0,
        "reorder_now": False,
    }
    sell_daily(rt, merchants["alpha"], "TOTE", 1, 56)
    forecast = client.get("/api/v1/inventory/TOTE", headers=merchants["a"]).json["forecast"]
    # 56 units reserved of 10 on hand: available is -46, so cover is zero and reordering is due.
    assert forecast["velocity"] == pytest.approx(1.0) and isinstance(forecast["velocity"], float)
    assert (forecast["days_of_cover"], forecast["reorder_point"], forecast["reorder_now"]) == (0.0, 14, True)
    limited = client.get("/api/v1/inventory/TOTE?limit=2", headers=merchants["a"]).json
    assert len(limited["movements"]) == 2
    assert client.get("/api/v1/inventory/TOTE?limit=x", headers=merchants["a"]).status_code == 400


def test_forecast_lists_every_sku(client: Any, rt: Any, merchants: dict[str, Any]) -> None:
    sell_daily(rt, merchants["alpha"], "MUG", 2, 28)
    body = client.get("/api/v1/inventory/forecast", headers=merchants["a"]).json
    by_sku = {f["sku"]: f for f in body["forecasts"]}
    assert set(by_sku) == {"MUG", "TOTE"}
    # 28 days of 2 a day inside a 56-day window: the older, silent days fade (alpha 0.3).
    assert by_sku["MUG"]["velocity"] == pytest.approx(2.0, abs=1e-3)
    assert by_sku["TOTE"]["velocity"] == 0.0


def test_another_merchants_sku_is_not_found(client: Any, rt: Any, merchants: dict[str, Any]) -> None:
    auth = merchants["a"]
    assert client.get("/api/v1/inventory/SECRET", headers=auth).status_code == 404
    assert client.get("/api/v1/inventory/NOPE", headers=auth).json == {"error": "not found"}
    for path, body in (("adjustments", {"delta": -5, "note": "x"}), ("counts", {"on_hand": 0})):
        resp = client.post(f"/api/v1/inventory/SECRET/{path}", json=body, headers=auth)
        assert (resp.status_code, resp.json) == (404, {"error": "not found"})
    assert level(rt, merchants["beta"], "SECRET") == (5, 0)


def test_adjustments_and_counts(client: Any, rt: Any, merchants: dict[str, Any]) -> None:
    auth = merchants["a"]
    resp = client.post(
        "/api/v1/inventory/TOTE/adjustments", json={"delta": -3, "note": "damaged"}, headers=auth
    )
    assert resp.status_code == 201
    assert resp.json == {
        "sku": "TOTE",
        "on_hand": 7,
        "reserved": 0,
        "available": 7,
        "on_hand_delta": -3,
        "applied": True,
    }
    resp = client.post(
        "/api/v1/inventory/TOTE/counts", json={"on_hand": 12, "note": "cycle count"}, headers=auth
    )
    assert (resp.status_code, resp.json["on_hand"], resp.json["on_hand_delta"]) == (201, 12, 5)
    with rt.session() as s:
        reasons = list(
            s.scalars(
                select(StockMovement.reason)
                .where(StockMovement.account_id == merchants["alpha"])
                .order_by(StockMovement.id)
            )
        )
    assert reasons[-2:] == ["manual_adjustment", "count_correction"]
    assert client.get("/api/v1/inventory/TOTE", headers=auth).json["channels"][0]["published"] == 12


def test_a_retried_post_with_the_same_idempotency_key_applies_once(
    client: Any, merchants: dict[str, Any]
) -> None:
    headers = {**merchants["a"], "Idempotency-Key": "delivery-42"}
    body = {"delta": 5, "note": "delivery 42"}
    first = client.post("/api/v1/inventory/TOTE/adjustments", json=body, headers=headers)
    again = client.post("/api/v1/inventory/TOTE/adjustments", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert (first.json["on_hand"], again.json["on_hand"], again.json["applied"]) == (15, 15, False)
    # The same key on another SKU is another request.
    mug = client.post("/api/v1/inventory/MUG/adjustments", json=body, headers=headers)
    assert (mug.status_code, mug.json["on_hand"]) == (201, 5)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("adjustments", {"note": "x"}, "delta must be a whole number"),
        ("adjustments", {"delta": "5", "note": "x"}, "delta must be a whole number"),
        ("adjustments", {"delta": 2.5, "note": "x"}, "delta must be a whole number"),
        ("adjustments", {"delta": True, "note": "x"}, "delta must be a whole number"),
        ("adjustments", {"delta": 0, "note": "x"}, "delta must not be zero"),
        ("adjustments", {"delta": 3}, "needs a note"),
        ("adjustments", {"delta": 3, "note": 7}, "note must be text"),
        ("adjustments", [1, 2], "expected a JSON object"),
        ("adjustments", None, "expected a JSON object"),
        ("counts", {"on_hand": -1}, "cannot be negative"),
        ("counts", {"on_hand": None}, "count must be a whole number"),
        ("counts", {"note": "x"}, "on_hand is required"),
        ("counts", {"on_hand": 10**12}, "out of range"),
    ],
)
def test_bad_input_is_a_400_with_a_message(
    client: Any, rt: Any, merchants: dict[str, Any], path: str, body: Any, message: str
) -> None:
    url = f"/api/v1/inventory/TOTE/{path}"
    if body is None:
        resp = client.post(
            url, data="not json", headers={**merchants["a"], "Content-Type": "application/json"}
        )
    else:
        resp = client.post(url, json=body, headers=merchants["a"])
    assert resp.status_code == 400
    assert message in resp.json["error"]
    assert level(rt, merchants["alpha"], "TOTE") == (10, 0)


def test_every_inventory_route_is_documented(app: Any, client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path, method in (
        ("/api/v1/inventory", "get"),
        ("/api/v1/inventory/forecast", "get"),
        ("/api/v1/inventory/{sku}", "get"),
        ("/api/v1/inventory/{sku}/adjustments", "post"),
        ("/api/v1/inventory/{sku}/counts", "post"),
    ):
        assert method in paths[path]

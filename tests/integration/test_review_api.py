"""Review in the JSON API and the CLI: held orders approved or rejected, tenant walls, bad input,
conflicting decisions, trusted customers, and the order detail with its verdict and parcels."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core.addresses import Address
from core.money import Money
from core.orders import FinancialStatus, FulfillmentStatus, LineItem, Order
from db.accounts import get_or_create_account, issue_token
from db.models import Order as OrderRow
from db.models import Shipment, StockItem, Store, StoreState, TimelineEntry, TrustedCustomer
from db.stock import ensure_item, move
from tests.conftest import BACKEND

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
VERDICT = {
    "score": 65,
    "decision": "hold",
    "facts": [
        {"rule": "high_value", "weight": 25, "detail": "order total 900.00 USD is above 500"},
        {"rule": "high_risk_destination", "weight": 40, "detail": "ships to NG, a high-risk destination"},
    ],
    "reason": "score 65: held for review",
}


def canonical(number: str, sku: str = "TOTE", qty: int = 1) -> dict[str, Any]:
    usd = Money(Decimal("900.00"), "USD")
    address = Address(
        name="Ada", line1="12 Analytical St", city="Lagos", postal_code="100001", country_code="NG"
    )
    return Order(
        platform="shopify",
        order_id=number,
        gid=f"gid://shopify/Order/{number}",
        number=f"#{number}",
        currency="USD",
        email="ada@example.com",
        customer_id=None,
        browser_ip=None,
        billing_address=address,
        shipping_address=address,
        line_items=(LineItem("1", sku, "10", "20", "Tote", qty, usd, 200, True),),
        subtotal=usd,
        total=usd,
        total_tax=Money(Decimal("0"), "USD"),
        total_shipping=Money(Decimal("0"), "USD"),
        total_discounts=Money(Decimal("0"), "USD"),
        shipping_method=None,
        financial_status=FinancialStatus.PAID,
        fulfillment_status=FulfillmentStatus.UNFULFILLED,
        cancelled_at=None,
        cancel_reason=None,
        tags=(),
        note=None,
        created_at=NOW,
        updated_at=NOW,
    ).to_dict()


def merchant(rt: Any, name: str) -> tuple[int, int, dict[str, str]]:
    """An account with an active Shopify store and an API token: (account id, store id, headers)."""
    with rt.session() as s:
        account = get_or_create_account(s, name)
        store = Store(
            account_id=account.id, platform="shopify", domain=f"{name}.myshopify.com", state=StoreState.active
        )
        s.add(store)
        s.flush()
        return account.id, store.id, {"Authorization": f"Bearer {issue_token(s, account)}"}


def held_order(
    rt: Any,
    account_id: int,
    store_id: int,
    number: str,
    hold_reason: str = "review: score 65: held for review",
) -> int:
    with rt.session() as s:
        row = OrderRow(
            account_id=account_id,
            store_id=store_id,
            platform="shopify",
            platform_order_id=number,
            number=f"#{number}",
            email="ada@example.com",
            stage="on_hold",
            financial_status="paid",
            fulfillment_status="unfulfilled",
            platform_updated_at=NOW,
            data=canonical(number),
            hold_reason=hold_reason,
            risk=VERDICT,
        )
        s.add(row)
        s.flush()
        return int(row.id)


@pytest.fixture
def shop(rt: Any) -> dict[str, Any]:
    alpha, alpha_store, a = merchant(rt, "alpha")
    beta, beta_store, b = merchant(rt, "beta")
    return {
        "alpha": alpha,
        "alpha_store": alpha_store,
        "a": a,
        "beta": beta,
        "beta_store": beta_store,
        "b": b,
        "order": held_order(rt, alpha, alpha_store, "1001"),
    }


def order_row(rt: Any, order_id: int) -> OrderRow:
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        s.expunge(row)
        return row


def actions(rt: Any, order_id: int) -> list[str]:
    with rt.session() as s:
        return list(
            s.scalars(
                select(TimelineEntry.action)
                .where(TimelineEntry.subject == f"order:{order_id}")
                .order_by(TimelineEntry.id)
            )
        )


DECISION = {"reviewer": "sam", "reason": "called the customer; the order is genuine"}


def test_review_routes_need_a_token(client: Any, shop: dict[str, Any]) -> None:
    order_id = shop["order"]
    assert client.get(f"/api/v1/orders/{order_id}").status_code == 401
    assert client.post(f"/api/v1/orders/{order_id}/approve", json=DECISION).status_code == 401
    assert client.post("/api/v1/trusted-customers", json={"email": "a@b.example"}).status_code == 401


def test_another_merchants_order_is_not_found(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    order_id = shop["order"]
    assert client.get(f"/api/v1/orders/{order_id}", headers=shop["b"]).status_code == 404
    assert (
        client.post(f"/api/v1/orders/{order_id}/approve", json=DECISION, headers=shop["b"]).status_code == 404
    )
    assert (
        client.post(f"/api/v1/orders/{order_id}/reject", json=DECISION, headers=shop["b"]).status_code == 404
    )
    assert client.get("/api/v1/orders?stage=on_hold", headers=shop["b"]).json == {"orders": []}
    row = order_row(rt, order_id)
    assert (row.stage, row.review) == ("on_hold", None)
    listed = client.get("/api/v1/orders?stage=on_hold", headers=shop["a"]).json["orders"]
    assert [(o["id"], o["hold_reason"], o["score"]) for o in listed] == [
        (order_id, "review: score 65: held for review", 65)
    ]
    assert client.get("/api/v1/orders?stage=ready_to_ship", headers=shop["a"]).json == {"orders": []}


@pytest.mark.parametrize(
    "body, message",
    [
        ({"reason": "fine"}, "reviewer is required"),
        ({"reviewer": "sam"}, "reason is required"),
        ({"reviewer": "  ", "reason": "fine"}, "reviewer is required"),
        ({"reviewer": "sam", "reason": 5}, "reason is required"),
        ({"reviewer": "sam", "reason": "x" * 1001}, "longer than 1000"),
        (["sam", "fine"], "expected a JSON object"),
    ],
)
def test_bad_review_input_is_400(client: Any, rt: Any, shop: dict[str, Any], body: Any, message: str) -> None:
    answer = client.post(f"/api/v1/orders/{shop['order']}/approve", json=body, headers=shop["a"])
    assert answer.status_code == 400
    assert message in answer.json["error"]
    assert order_row(rt, shop["order"]).stage == "on_hold"


def test_a_bad_stage_filter_is_400(client: Any, shop: dict[str, Any]) -> None:
    answer = client.get("/api/v1/orders?stage=lost", headers=shop["a"])
    assert answer.status_code == 400 and "stage must be one of" in answer.json["error"]


def test_approve_resumes_the_order_and_is_idempotent(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    order_id = shop["order"]
    first = client.post(f"/api/v1/orders/{order_id}/approve", json=DECISION, headers=shop["a"])
    assert first.status_code == 200, first.json
    assert (first.json["stage"], first.json["hold_reason"]) == ("ready_to_ship", None)
    review = first.json["review"]
    assert {k: review[k] for k in ("reviewer", "decision", "reason")} == {
        "reviewer": "sam",
        "decision": "approve",
        "reason": DECISION["reason"],
    }
    assert actions(rt, order_id)[-2:] == ["order.approved", "order.ready_to_ship"]
    again = client.post(f"/api/v1/orders/{order_id}/approve", json=DECISION, headers=shop["a"])
    assert again.status_code == 200 and again.json["review"] == review
    assert actions(rt, order_id).count("order.approved") == 1
    conflict = client.post(f"/api/v1/orders/{order_id}/reject", json=DECISION, headers=shop["a"])
    assert conflict.status_code == 409 and "already approved" in conflict.json["error"]
    assert order_row(rt, order_id).stage == "ready_to_ship"


def test_reject_then_approve_conflicts(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    order_id = shop["order"]
    body = {"reviewer": "kim", "reason": "card reported stolen"}
    assert client.post(f"/api/v1/orders/{order_id}/reject", json=body, headers=shop["a"]).status_code == 200
    row = order_row(rt, order_id)
    assert (row.stage, row.hold_reason, (row.review or {}).get("decision")) == ("rejected", None, "reject")
    assert client.post(f"/api/v1/orders/{order_id}/reject", json=body, headers=shop["a"]).status_code == 200
    conflict = client.post(f"/api/v1/orders/{order_id}/approve", json=DECISION, headers=shop["a"])
    assert conflict.status_code == 409 and "already rejected" in conflict.json["error"]
    assert actions(rt, order_id).count("order.rejected") == 1


def test_an_order_not_on_hold_cannot_be_decided(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    order_id = held_order(rt, shop["alpha"], shop["alpha_store"], "1002", hold_reason="")
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        row.stage, row.hold_reason = "verifying", None
    answer = client.post(f"/api/v1/orders/{order_id}/approve", json=DECISION, headers=shop["a"])
    assert answer.status_code == 409 and "is verifying, not on hold" in answer.json["error"]


def test_an_oversold_hold_is_approved_only_once_the_stock_is_there(
    client: Any, rt: Any, shop: dict[str, Any]
) -> None:
    with rt.session() as s:
        item = ensure_item(s, shop["alpha"], "TOTE", "default")
        move(
            s,
            item,
            account_id=shop["alpha"],
            key="t:reserve",
            reason="order_reserved",
            source="t",
            reserved=1,
        )
    order_id = held_order(
        rt, shop["alpha"], shop["alpha_store"], "1003", "oversold: TOTE: 1 wanted, 0 available"
    )
    refused = client.post(f"/api/v1/orders/{order_id}/approve", json=DECISION, headers=shop["a"])
    assert refused.status_code == 409
    assert refused.json["error"] == "still short of stock, cannot ship yet: TOTE: -1 available"
    assert order_row(rt, order_id).stage == "on_hold"
    with rt.session() as s:
        item = s.scalar(select(StockItem).where(StockItem.sku == "TOTE"))
        assert item is not None
        move(
            s,
            item,
            account_id=shop["alpha"],
            key="t:receive",
            reason="manual_adjustment",
            source="t",
            on_hand=5,
        )
    approved = client.post(f"/api/v1/orders/{order_id}/approve", json=DECISION, headers=shop["a"])
    assert approved.status_code == 200 and approved.json["stage"] == "ready_to_ship"


def test_order_detail_shows_the_verdict_and_the_rates(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    order_id = shop["order"]
    cheap = {"rate_id": "rate_1", "carrier": "USPS", "service": "Priority", "delivery_days": 2}
    slow = {"rate_id": "rate_2", "carrier": "UPS", "service": "Ground", "delivery_days": 6}
    with rt.session() as s:
        s.add(
            Shipment(
                account_id=shop["alpha"],
                store_id=shop["alpha_store"],
                order_id=order_id,
                package=1,
                state="planned",
                parcel={"box": "small"},
                rates={
                    "chosen": cheap,
                    "fallbacks": [],
                    "considered": [
                        {**cheap, "eligible": True, "reason": "cheapest meeting 3 days"},
                        {**slow, "eligible": False, "reason": "too slow: 6 days > 3"},
                    ],
                    "reason": "cheapest meeting 3 days",
                },
            )
        )
    detail = client.get(f"/api/v1/orders/{order_id}", headers=shop["a"]).json
    assert detail["risk"] == VERDICT and detail["review"] is None
    (parcel,) = detail["shipments"]
    assert parcel["rate_chosen"] == cheap
    assert [(r["rate_id"], r["eligible"]) for r in parcel["rates_considered"]] == [
        ("rate_1", True),
        ("rate_2", False),
    ]


def test_trusted_customers_belong_to_one_merchant(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    url = "/api/v1/trusted-customers"
    first = client.post(url, json={"email": " Ada@Example.com ", "note": "wholesale"}, headers=shop["a"])
    assert first.status_code == 201 and first.json == {"email": "ada@example.com", "trusted": True}
    assert client.post(url, json={"email": "ada@example.com"}, headers=shop["a"]).status_code == 200
    assert client.post(url, json={"email": "not-an-email"}, headers=shop["a"]).status_code == 400
    assert client.post(url, json={}, headers=shop["a"]).status_code == 400
    assert [c["email"] for c in client.get(url, headers=shop["a"]).json["customers"]] == ["ada@example.com"]
    assert client.get(url, headers=shop["b"]).json == {"customers": []}
    assert client.delete(url, json={"email": "ada@example.com"}, headers=shop["b"]).status_code == 404
    assert client.delete(url, json={"email": "ada@example.com"}, headers=shop["a"]).status_code == 200
    with rt.session() as s:
        assert s.scalars(select(TrustedCustomer)).all() == []


def test_the_openapi_document_lists_the_review_routes(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert set(paths["/api/v1/orders/{order_id}/approve"]) == {"post"}
    assert set(paths["/api/v1/orders/{order_id}/reject"]) == {"post"}
    assert "409" in paths["/api/v1/orders/{order_id}/reject"]["post"]["responses"]
    assert set(paths["/api/v1/orders/{order_id}"]) == {"get"}
    assert set(paths["/api/v1/orders"]) == {"get"}
    assert set(paths["/api/v1/trusted-customers"]) == {"get", "post", "delete"}


def test_cli_approves_and_shows_the_facts(app: Any, rt: Any, shop: dict[str, Any]) -> None:
    runner = app.test_cli_runner()
    order_id = shop["order"]
    refused = runner.invoke(args=["orders", "approve", str(order_id), "--reviewer", "sam"])
    assert refused.exit_code != 0 and "--reason" in refused.output
    done = runner.invoke(
        args=["orders", "approve", str(order_id), "--reviewer", "sam", "--reason", "known buyer"]
    )
    assert done.exit_code == 0, done.output
    assert f"order {order_id}: ready_to_ship" in done.output
    # Embedded mode: the command runs the next steps itself; without an EasyPost key shipping
    # stops at packed and says so. Production mode: they are queued for the workers.
    if BACKEND == "embedded":
        assert "ran its next steps here" in done.output and "EasyPost is not configured" in done.output
    else:
        assert "queued for the workers" in done.output
    again = runner.invoke(args=["orders", "reject", str(order_id), "--reviewer", "kim", "--reason", "no"])
    assert again.exit_code != 0 and "already approved" in again.output
    shown = json.loads(runner.invoke(args=["orders", "show", str(order_id), "--json"]).output)
    assert [f["rule"] for f in shown["risk"]["facts"]] == ["high_value", "high_risk_destination"]
    stage = "packed" if BACKEND == "embedded" else "ready_to_ship"
    assert shown["review"]["reviewer"] == "sam" and shown["stage"] == stage
    assert [sh["state"] for sh in shown["shipments"]] == (["planned"] if BACKEND == "embedded" else [])
    trusted = runner.invoke(args=["orders", "trust", "Bo@Example.com", "--account", "beta"])
    assert trusted.exit_code == 0 and "bo@example.com: trusted" in trusted.output
    with rt.session() as s:
        rows = [(r.account_id, r.email) for r in s.scalars(select(TrustedCustomer))]
    assert rows == [(shop["beta"], "bo@example.com")]

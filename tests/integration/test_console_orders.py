"""The console's dashboard, orders grid, order page and review queue through the Flask test
client against the real database: filters, search, pagination, tenant walls, bulk approve,
refusals (nothing changed), the address edit of a held order, and the dashboard's figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from db.models import Order as OrderRow
from db.models import Role, Shipment, TimelineEntry, order_search
from tests.e2e.console import person
from tests.integration.test_review_api import canonical, held_order, merchant, order_row

NOW = datetime.now(UTC).replace(microsecond=0)


def sign_in(client: Any, who: Any) -> str:
    """Signs the test client in as ``who``; returns the session's CSRF token."""
    page = client.get("/login").data.decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    answer = client.post(
        "/login", data={"email": who.email, "password": who.password, "csrf_token": csrf.group(1)}
    )
    assert answer.status_code == 302, answer.data[:300]
    home = client.get("/").data.decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', home)
    assert token is not None
    return token.group(1)


def orders_in(
    rt: Any,
    account_id: int,
    store_id: int,
    count: int,
    stage: str = "fulfilled",
    first: int = 0,
    **extra: Any,
) -> None:
    """``count`` orders inserted in one statement (volume for the grid), one a minute older each."""
    rows = []
    for i in range(first, first + count):
        number = f"{5000 + i}"
        data = canonical(number, sku=f"SKU-{i % 7}")
        data["shipping_address"] = {
            **data["shipping_address"],
            "name": f"Customer {i}",
            "country_code": "US" if i % 2 else "CA",
        }
        # A Core insert runs no ORM event: the search columns are filled as the event would.
        search, country = order_search(f"#{number}", f"c{i}@example.com", data)
        rows.append(
            {
                "search": search,
                "ship_country": country,
                "account_id": account_id,
                "store_id": store_id,
                "platform": "shopify",
                "platform_order_id": number,
                "number": f"#{number}",
                "email": f"c{i}@example.com",
                "stage": stage,
                "financial_status": "paid",
                "fulfillment_status": "unfulfilled",
                "platform_updated_at": NOW,
                "data": data,
                "created_at": NOW - timedelta(minutes=i),
                "updated_at": NOW,
                **extra,
            }
        )
    with rt.session() as s:
        s.execute(insert(OrderRow), rows)


@pytest.fixture
def shop(rt: Any, client: Any) -> dict[str, Any]:
    alpha, alpha_store, _ = merchant(rt, "alpha")
    beta, beta_store, _ = merchant(rt, "beta")
    staff = person(rt, Role.staff, account_id=alpha)
    return {
        "alpha": alpha,
        "store": alpha_store,
        "beta": beta,
        "beta_store": beta_store,
        "staff": staff,
        "held": held_order(rt, alpha, alpha_store, "1001"),
        "theirs": held_order(rt, beta, beta_store, "2001"),
    }


def numbers(html: str) -> list[str]:
    return re.findall(r'href="/app/orders/\d+">(#\d+)</a>', html)


def test_the_grid_filters_searches_and_pages_in_the_account(
    client: Any, rt: Any, shop: dict[str, Any]
) -> None:
    orders_in(rt, shop["alpha"], shop["store"], 120)
    orders_in(rt, shop["beta"], shop["beta_store"], 3)  # another merchant's: never shown
    sign_in(client, shop["staff"])
    first = client.get("/app/orders").data.decode()
    assert len(numbers(first)) == 50 and "#2001" not in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    third = client.get("/app/orders?page=3").data.decode()
    assert len(numbers(third)) == 21 and 'rel="next"' not in third  # 121 orders: 50 + 50 + 21
    held = client.get("/app/orders?stage=on_hold").data.decode()
    assert numbers(held) == ["#1001"]
    assert numbers(client.get("/app/orders?hold=review").data.decode()) == ["#1001"]
    assert numbers(client.get("/app/orders?hold=shipping").data.decode()) == []
    canada = numbers(client.get("/app/orders?country=ca&stage=fulfilled").data.decode())
    assert len(canada) == 50 and "#5001" not in canada and "#5000" in canada
    # search: number, e-mail, customer name, SKU inside the order's JSON
    assert numbers(client.get("/app/orders?q=5007").data.decode()) == ["#5007"]
    assert numbers(client.get("/app/orders?q=%235007").data.decode()) == ["#5007"]
    assert numbers(client.get("/app/orders?q=C9@example.com").data.decode()) == ["#5009"]
    assert numbers(client.get("/app/orders?q=customer+119").data.decode()) == ["#5119"]
    sku = numbers(client.get("/app/orders?q=sku-6&page=1").data.decode())
    assert len(sku) == 17 and "#5006" in sku and "#5005" not in sku  # i % 7 == 6 of 0..119
    assert numbers(client.get("/app/orders?q=2001").data.decode()) == []  # beta's number
    # a date range (UTC days)
    today = NOW.date().isoformat()
    assert (
        len(numbers(client.get(f"/app/orders?since={today}&until={today}&stage=fulfilled").data.decode())) > 0
    )
    yesterday = (NOW.date() - timedelta(days=1)).isoformat()
    future = (NOW.date() + timedelta(days=5)).isoformat()
    assert numbers(client.get(f"/app/orders?since={future}").data.decode()) == []
    assert client.get(f"/app/orders?since={today}&until={yesterday}").status_code == 400


def test_search_by_tracking_code(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    orders_in(rt, shop["alpha"], shop["store"], 3)
    with rt.session() as s:
        target = s.scalar(
            select(OrderRow.id).where(OrderRow.number == "#5002", OrderRow.account_id == shop["alpha"])
        )
        s.add(
            Shipment(
                account_id=shop["alpha"],
                store_id=shop["store"],
                order_id=target,
                tracking_code="9400111TRACK",
            )
        )
    sign_in(client, shop["staff"])
    assert numbers(client.get("/app/orders?q=9400111TRACK").data.decode()) == ["#5002"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("stage=lost", "stage must be one of"),
        ("store=999999", "store must be one of your stores"),
        ("since=yesterday", "from must be a date"),
        ("country=USA", "two-letter country code"),
        ("hold=bored", "hold reason must be one of"),
        ("page=0", "page must be a whole number"),
        ("q=" + "x" * 201, "longer than 200"),
    ],
)
def test_bad_filters_are_400_with_the_reason(
    client: Any, shop: dict[str, Any], query: str, message: str
) -> None:
    sign_in(client, shop["staff"])
    answer = client.get(f"/app/orders?{query}")
    assert answer.status_code == 400
    assert message in answer.data.decode()
    assert numbers(answer.data.decode()) == []


def test_another_accounts_order_is_404_and_the_beta_store_is_not_a_filter(
    client: Any, rt: Any, shop: dict[str, Any]
) -> None:
    csrf = sign_in(client, shop["staff"])
    assert client.get(f"/app/orders/{shop['theirs']}").status_code == 404
    answer = client.post(f"/app/orders/{shop['theirs']}/approve", data={"reason": "fine", "csrf_token": csrf})
    assert answer.status_code == 404
    assert client.get(f"/app/orders?store={shop['beta_store']}").status_code == 400
    bulk = client.post(
        "/app/orders/bulk",
        data={
            "action": "approve",
            "reason": "fine",
            "order": [str(shop["held"]), str(shop["theirs"])],
            "csrf_token": csrf,
        },
    )
    assert bulk.status_code == 404
    assert order_row(rt, shop["theirs"]).stage == "on_hold"
    assert order_row(rt, shop["held"]).stage == "on_hold"  # nothing done when one id is not ours


def test_bulk_approve_releases_the_held_orders_and_records_the_reviewer(
    client: Any, rt: Any, shop: dict[str, Any]
) -> None:
    second = held_order(rt, shop["alpha"], shop["store"], "1002")
    csrf = sign_in(client, shop["staff"])
    refused = client.post(
        "/app/orders/bulk", data={"action": "approve", "order": [str(shop["held"])], "csrf_token": csrf}
    )
    assert refused.status_code == 303
    assert "needs a reason" in client.get(refused.headers["Location"]).data.decode()
    assert order_row(rt, shop["held"]).stage == "on_hold"
    answer = client.post(
        "/app/orders/bulk",
        data={
            "action": "approve",
            "reason": "both checked by phone",
            "order": [str(shop["held"]), str(second)],
            "back": "/app/orders?stage=on_hold",
            "csrf_token": csrf,
        },
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/app/orders?stage=on_hold")
    for order_id in (shop["held"], second):
        row = order_row(rt, order_id)
        assert row.stage == "ready_to_ship"
        assert row.review is not None and row.review["reviewer"] == f"user:{shop['staff'].email}"
        assert row.review["reason"] == "both checked by phone"
    page = client.get("/app/orders?stage=on_hold").data.decode()
    assert "Approved 2 order(s)" in page


def test_bulk_print_sends_to_the_batch_print_in_the_checked_order(
    client: Any, rt: Any, shop: dict[str, Any]
) -> None:
    second = held_order(rt, shop["alpha"], shop["store"], "1002")
    csrf = sign_in(client, shop["staff"])
    answer = client.post(
        "/app/orders/bulk",
        data={"action": "print", "order": [str(second), str(shop["held"])], "csrf_token": csrf},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/app/labels/print?order={second}&order={shop['held']}")


def test_a_state_change_needs_the_csrf_token_and_a_staff_role(
    client: Any, rt: Any, shop: dict[str, Any]
) -> None:
    sign_in(client, shop["staff"])
    answer = client.post(f"/app/orders/{shop['held']}/approve", data={"reason": "fine"})
    assert answer.status_code == 400  # CSRF refused
    assert order_row(rt, shop["held"]).stage == "on_hold"
    client.post("/logout", data={"csrf_token": sign_in(client, shop["staff"])})
    packer = person(rt, Role.packer, account_id=shop["alpha"])
    csrf = sign_in(client, packer)
    assert client.get("/app/orders").status_code == 403
    assert client.get("/app/review").status_code == 403
    assert (
        client.post(
            f"/app/orders/{shop['held']}/approve", data={"reason": "ok", "csrf_token": csrf}
        ).status_code
        == 403
    )
    assert order_row(rt, shop["held"]).stage == "on_hold"
    home = client.get("/")
    assert home.status_code == 200 and "parcels shipped today" in home.data.decode()
    assert "Needs a person now" not in home.data.decode()  # a packer's dashboard is reduced


def test_approve_and_reject_from_the_order_page(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    second = held_order(rt, shop["alpha"], shop["store"], "1002")
    csrf = sign_in(client, shop["staff"])
    page = client.get(f"/app/orders/{shop['held']}").data.decode()
    for seen in (
        "high_risk_destination",
        "ships to NG",
        "Lagos",
        "TOTE",
        "900.00 USD",
        "Timeline",
        "Approve",
    ):
        assert seen in page, seen
    empty = client.post(f"/app/orders/{shop['held']}/approve", data={"reason": "  ", "csrf_token": csrf})
    assert empty.status_code == 400 and "reason" in empty.data.decode()
    assert order_row(rt, shop["held"]).stage == "on_hold"
    done = client.post(
        f"/app/orders/{shop['held']}/approve", data={"reason": "known buyer", "csrf_token": csrf}
    )
    assert done.status_code == 303
    assert order_row(rt, shop["held"]).stage == "ready_to_ship"
    again = client.post(
        f"/app/orders/{shop['held']}/reject", data={"reason": "changed mind", "csrf_token": csrf}
    )
    assert again.status_code == 409 and "already approved" in again.data.decode()
    rejected = client.post(f"/app/orders/{second}/reject", data={"reason": "stolen card", "csrf_token": csrf})
    assert rejected.status_code == 303 and order_row(rt, second).stage == "rejected"
    with rt.session() as s:
        actors = set(s.scalars(select(TimelineEntry.actor).where(TimelineEntry.subject == f"order:{second}")))
    assert f"reviewer:user:{shop['staff'].email}" in actors


def test_the_address_of_a_held_order_is_edited_and_verified_again(
    client: Any, rt: Any, shop: dict[str, Any]
) -> None:
    csrf = sign_in(client, shop["staff"])
    form = {
        "name": "Ada Lovelace",
        "line1": "1 Infinite Loop",
        "city": "Cupertino",
        "province_code": "CA",
        "postal_code": "95014",
        "country_code": "NG",
        "csrf_token": csrf,
    }
    bad = client.post(f"/app/orders/{shop['held']}/address", data={**form, "country_code": "Nigeria"})
    assert bad.status_code == 400 and "two letters" in bad.data.decode()
    missing = client.post(f"/app/orders/{shop['held']}/address", data={**form, "line1": ""})
    assert missing.status_code == 400 and "address line 1 is required" in missing.data.decode()
    assert order_row(rt, shop["held"]).data["shipping_address"]["line1"] == "12 Analytical St"
    ok = client.post(f"/app/orders/{shop['held']}/address", data={**form, "country_code": "us"})
    assert ok.status_code == 303
    row = order_row(rt, shop["held"])
    assert row.stage == "on_hold"
    assert row.data["shipping_address"]["line1"] == "1 Infinite Loop"
    assert row.data["shipping_address"]["country_code"] == "US"
    rules = [f["rule"] for f in (row.risk or {})["facts"]]
    assert "high_risk_destination" not in rules  # the verdict was taken again for the new address
    with rt.session() as s:
        edited = s.scalars(
            select(TimelineEntry).where(
                TimelineEntry.subject == f"order:{shop['held']}",
                TimelineEntry.action == "order.address_edited",
            )
        ).all()
        assert [e.actor for e in edited] == [f"user:{shop['staff'].email}"]
        assert "line1" in edited[0].data["changed"] and "country_code" in edited[0].data["changed"]
        verified = s.scalar(
            select(func.count()).where(
                TimelineEntry.subject == f"order:{shop['held']}", TimelineEntry.action == "order.verified"
            )
        )
        assert verified == 1
    client.post(f"/app/orders/{shop['held']}/approve", data={"reason": "fixed address", "csrf_token": csrf})
    late = client.post(f"/app/orders/{shop['held']}/address", data=form)
    assert late.status_code == 400 and "only a held order" in late.data.decode()


def test_the_review_queue_lists_held_orders_oldest_first(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    newer = held_order(rt, shop["alpha"], shop["store"], "1002")
    oversold = held_order(rt, shop["alpha"], shop["store"], "1003", hold_reason="oversold: TOTE short by 1")
    with rt.session() as s:
        row, first = s.get(OrderRow, newer), s.get(OrderRow, shop["held"])
        assert row is not None and first is not None
        row.created_at = first.created_at + timedelta(minutes=5)  # NOW is the module's import time
    csrf = sign_in(client, shop["staff"])
    page = client.get("/app/review").data.decode()
    ids = [int(i) for i in re.findall(r'data-order="(\d+)"', page)]
    assert ids == [shop["held"], newer] and oversold not in ids
    assert "ships to NG" in page and "<kbd>j</kbd>" in page and "console-review.js" in page
    answer = client.post(
        f"/app/orders/{shop['held']}/approve",
        data={"reason": "ok", "back": "/app/review", "csrf_token": csrf},
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/app/review")
    after = [int(i) for i in re.findall(r'data-order="(\d+)"', client.get("/app/review").data.decode())]
    assert after == [newer]


def test_the_dashboard_counts_stages_holds_and_shipments(client: Any, rt: Any, shop: dict[str, Any]) -> None:
    orders_in(rt, shop["alpha"], shop["store"], 4, stage="label_purchased")
    orders_in(rt, shop["beta"], shop["beta_store"], 9, stage="label_purchased")
    with rt.session() as s:
        ids = list(
            s.scalars(
                select(OrderRow.id).where(
                    OrderRow.account_id == shop["alpha"], OrderRow.stage == "label_purchased"
                )
            )
        )
        for n, order_id in enumerate(ids):
            s.add(
                Shipment(
                    account_id=shop["alpha"],
                    store_id=shop["store"],
                    order_id=order_id,
                    state="purchased",
                    carrier="USPS",
                    shipped_at=NOW,
                    delivered_at=NOW if n < 3 else None,
                    promised_at=NOW + timedelta(hours=1) if n < 2 else NOW - timedelta(hours=1),
                )
            )
    sign_in(client, shop["staff"])
    page = client.get("/").data.decode()
    assert re.search(r'id="shipped-today">4<', page)
    assert 'aria-label="4 orders label purchased"' in page
    assert 'aria-label="1 orders on hold"' in page
    assert re.search(r'<span class="badge warn">1</span>\s*<a href="/app/review">Held for review', page)
    assert "USPS on time 66.7 %" in page  # 2 of 3 delivered by the estimate
    assert (
        'role="img"' in page
        and "Orders received per day: 5 orders in the last 14 days, highest 5 orders on " in page
    )
    assert client.get("/?days=30").status_code == 200


def test_the_search_columns_follow_the_orders_data(rt: Any, shop: dict[str, Any]) -> None:
    """Written through the ORM (as intake, the address edit and erasure write), an order's
    search text and destination follow its data, so erased names leave the search too."""
    with rt.session() as s:
        row = s.get(OrderRow, shop["held"])
        assert row is not None
        assert (row.search, row.ship_country) == ("#1001 | ada@example.com | ada | tote", "NG")
        row.data = {
            **row.data,
            "shipping_address": {**row.data["shipping_address"], "name": "Grace", "country_code": "us"},
        }
    with rt.session() as s:
        row = s.get(OrderRow, shop["held"])
        assert row is not None
        assert (row.search, row.ship_country) == ("#1001 | ada@example.com | grace | ada | tote", "US")
        row.data = {**row.data, "shipping_address": None, "billing_address": None, "email": None}
        row.email = None
    with rt.session() as s:
        row = s.get(OrderRow, shop["held"])
        assert row is not None
        assert (row.search, row.ship_country) == ("#1001 | tote", None)


def test_edit_address_refuses_another_accounts_order_and_unknown_fields(
    rt: Any, shop: dict[str, Any]
) -> None:
    from core.errors import InvalidInput, OrderNotFound
    from sync import review

    fields = {"line1": "1 Main St", "city": "Springfield", "country_code": "US"}
    with pytest.raises(OrderNotFound):
        review.edit_address(rt, shop["alpha"], shop["theirs"], fields, "user:sam")
    with pytest.raises(InvalidInput, match="unknown address fields: planet"):
        review.edit_address(rt, shop["alpha"], shop["held"], {**fields, "planet": "Mars"}, "user:sam")
    with pytest.raises(InvalidInput, match="longer than 200"):
        review.edit_address(rt, shop["alpha"], shop["held"], {**fields, "line2": "x" * 201}, "user:sam")
    assert order_row(rt, shop["theirs"]).data["shipping_address"]["line1"] == "12 Analytical St"
    assert order_row(rt, shop["held"]).data["shipping_address"]["line1"] == "12 Analytical St"
    done = review.edit_address(rt, shop["alpha"], shop["held"], {**fields, "name": "  Ada   L. "}, "user:sam")
    assert done["stage"] == "on_hold" and done["deliverable"] is None  # no EasyPost key: check skipped
    row = order_row(rt, shop["held"])
    assert row.data["shipping_address"]["name"] == "Ada L."
    with rt.session() as s:
        skipped = s.scalar(
            select(TimelineEntry.reason).where(
                TimelineEntry.subject == f"order:{shop['held']}",
                TimelineEntry.action == "order.address_check_skipped",
            )
        )
    assert skipped in {  # sync.pipeline.address_check's reasons, by configuration
        "address verification is off (risk.verify_addresses)",
        "no EasyPost key configured: address not verified",
    }

"""The console's stock page on a real database and queue (both backends): levels per SKU and
channel, search and pages, one SKU's movements, adjust and count through ``sync.stock_admin``
(the API's functions), refusals that change nothing, and another account's SKU not found."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Role, StockDirty, StockMovement, TimelineEntry
from db.stock import find_item, move
from db.timeline import record
from sync.stock_reports import sku_forecasts
from tests.e2e.console import Person, person
from tests.integration.test_stock_admin import level, seed


def signed_in(client: Any, who: Person) -> str:
    """Sign ``client`` in as ``who``; returns the session's CSRF token."""
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    answer = client.post(
        "/login", data={"email": who.email, "password": who.password, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 302, answer.data[:300]
    home = client.get("/").data.decode()
    found = re.search(r'name="csrf-token" content="([^"]+)"', home)
    assert found is not None
    return found.group(1)


@pytest.fixture
def merchant(rt: Any) -> tuple[int, int]:
    return seed(rt, "North Wind", "north-wind.myshopify.com", **{"TEE-RED": 12, "TEE-BLUE": 4, "MUG": 30})


def test_the_stock_page_shows_levels_per_sku_and_channel(
    rt: Any, client: Any, merchant: tuple[int, int]
) -> None:
    account_id, _store = merchant
    signed_in(client, person(rt, Role.staff, account_id=account_id))
    page = client.get("/app/stock")
    assert page.status_code == 200
    html = page.data.decode()
    assert "3 SKUs" in html
    assert html.index("MUG") < html.index("TEE-BLUE") < html.index("TEE-RED")
    assert "north-wind.myshopify.com" in html
    searched = client.get("/app/stock?q=tee").data.decode()
    assert "2 SKUs" in searched and "MUG</a>" not in searched


def test_an_adjustment_moves_the_ledger_and_marks_every_channel(
    rt: Any, client: Any, merchant: tuple[int, int]
) -> None:
    account_id, store_id = merchant
    staff = person(rt, Role.staff, account_id=account_id)
    csrf = signed_in(client, staff)
    answer = client.post(
        "/app/stock/TEE-RED/adjust",
        data={"delta": "-3", "note": "two torn, one lost", "csrf_token": csrf, "once": "a1"},
    )
    assert answer.status_code == 303
    assert level(rt, account_id, "TEE-RED") == (9, 0)
    with rt.session() as s:
        assert "TEE-RED" in set(s.scalars(select(StockDirty.sku).where(StockDirty.store_id == store_id)))
        [entry] = s.scalars(
            select(TimelineEntry).where(
                TimelineEntry.subject == "sku:TEE-RED", TimelineEntry.action == "stock.adjusted"
            )
        )
        assert entry.actor == f"user:{staff.email}"
        assert entry.reason == "on hand -3: two torn, one lost"
    # The same form sent twice applies once.
    again = client.post(
        "/app/stock/TEE-RED/adjust",
        data={"delta": "-3", "note": "two torn, one lost", "csrf_token": csrf, "once": "a1"},
    )
    assert again.status_code == 303
    assert level(rt, account_id, "TEE-RED") == (9, 0)
    sku_page = client.get("/app/stock/TEE-RED").data.decode()
    assert "two torn, one lost" in sku_page and "manual_adjustment" in sku_page
    counted = client.post("/app/stock/TEE-RED/count", data={"on_hand": "20", "note": "", "csrf_token": csrf})
    assert counted.status_code == 303
    assert level(rt, account_id, "TEE-RED") == (20, 0)


@pytest.mark.parametrize(
    ("path", "form", "says"),
    [
        ("adjust", {"delta": "two", "note": "typo"}, "delta must be a whole number"),
        ("adjust", {"delta": "0", "note": "nothing"}, "delta must not be zero"),
        ("adjust", {"delta": "5", "note": "   "}, "an adjustment needs a note saying why"),
        ("adjust", {"delta": "1.5", "note": "half"}, "delta must be a whole number"),
        ("count", {"on_hand": "-1"}, "a count cannot be negative"),
        ("count", {"on_hand": ""}, "count must be a whole number"),
        ("threshold", {"threshold": "-2"}, "a threshold cannot be negative"),
        ("buffer", {"store_id": "1", "buffer": "lots"}, "bad buffer"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_changes_nothing(
    rt: Any, client: Any, merchant: tuple[int, int], path: str, form: dict[str, str], says: str
) -> None:
    account_id, store_id = merchant
    csrf = signed_in(client, person(rt, Role.staff, account_id=account_id))
    if path == "buffer":
        form = {**form, "store_id": str(store_id)}
    with rt.session() as s:
        before = len(list(s.scalars(select(StockMovement.id).where(StockMovement.account_id == account_id))))
        timeline_before = len(
            list(s.scalars(select(TimelineEntry.id).where(TimelineEntry.account_id == account_id)))
        )
    answer = client.post(f"/app/stock/TEE-BLUE/{path}", data={**form, "csrf_token": csrf})
    assert answer.status_code == 400
    assert says in answer.data.decode()
    assert level(rt, account_id, "TEE-BLUE") == (4, 0)
    with rt.session() as s:
        assert (
            len(list(s.scalars(select(StockMovement.id).where(StockMovement.account_id == account_id))))
            == before
        )
        assert (
            len(list(s.scalars(select(TimelineEntry.id).where(TimelineEntry.account_id == account_id))))
            == timeline_before
        )


def test_another_accounts_sku_is_not_found(rt: Any, client: Any, merchant: tuple[int, int]) -> None:
    account_id, _ = merchant
    other_account, _ = seed(rt, "Elsewhere", "elsewhere.myshopify.com", **{"SECRET-SKU": 7})
    csrf = signed_in(client, person(rt, Role.staff, account_id=account_id))
    assert client.get("/app/stock/SECRET-SKU").status_code == 404
    assert (
        client.post(
            "/app/stock/SECRET-SKU/adjust", data={"delta": "5", "note": "x", "csrf_token": csrf}
        ).status_code
        == 404
    )
    assert (
        client.post("/app/stock/SECRET-SKU/count", data={"on_hand": "0", "csrf_token": csrf}).status_code
        == 404
    )
    assert level(rt, other_account, "SECRET-SKU") == (7, 0)
    assert "SECRET-SKU" not in client.get("/app/stock?q=SECRET").data.decode()


def test_a_packer_may_not_open_stock(rt: Any, client: Any, merchant: tuple[int, int]) -> None:
    account_id, _ = merchant
    csrf = signed_in(client, person(rt, Role.packer, account_id=account_id))
    assert client.get("/app/stock").status_code == 403
    assert (
        client.post("/app/stock/MUG/adjust", data={"delta": "5", "note": "x", "csrf_token": csrf}).status_code
        == 403
    )
    assert level(rt, account_id, "MUG") == (30, 0)


def test_the_last_audits_differences_are_shown(rt: Any, client: Any, merchant: tuple[int, int]) -> None:
    account_id, store_id = merchant
    with rt.session() as s:  # what sync.stock_audit records, an older run and the last one
        record(
            s,
            account_id,
            "sku:MUG",
            "shopify:x",
            "stock.discrepancy",
            "old",
            {
                "store_id": store_id,
                "sku": "MUG",
                "channel": 1,
                "expected": 30,
                "difference": 29,
                "outcome": "pushed",
            },
        )
        record(s, account_id, f"store:{store_id}", "inventory_audit", "stock.audited", "first run", {})
    with rt.session() as s:
        record(
            s,
            account_id,
            "sku:TEE-BLUE",
            "shopify:x",
            "stock.discrepancy",
            "now",
            {
                "store_id": store_id,
                "sku": "TEE-BLUE",
                "channel": 6,
                "expected": 4,
                "difference": -2,
                "outcome": "pushed",
            },
        )
        record(
            s,
            account_id,
            f"store:{store_id}",
            "inventory_audit",
            "stock.audited",
            "3 SKU(s) checked, 1 difference(s)",
            {},
        )
    signed_in(client, person(rt, Role.staff, account_id=account_id))
    html = client.get("/app/stock").data.decode()
    audit = html[html.index("Last inventory audit") :]
    assert "3 SKU(s) checked, 1 difference(s)" in audit
    assert "TEE-BLUE" in audit and "MUG" not in audit
    assert "-2" in audit
    sku = client.get("/app/stock/TEE-BLUE").data.decode()
    assert "-2" in sku[sku.index("Last audit") :]


def test_pages_of_fifty_and_the_forecast_of_each_sku(rt: Any, client: Any) -> None:
    levels = {f"SKU-{n:03d}": n for n in range(1, 61)}
    account_id, _ = seed(rt, "Many Things", "many.myshopify.com", **levels)
    now = datetime.now(UTC)
    with rt.session() as s:  # SKU-060 sold 3 a day for ten days (reservations of its orders)
        item = find_item(s, account_id, "SKU-060", "default")
        assert item is not None
        item.created_at = now - timedelta(days=40)
        for day in range(1, 11):
            move(
                s,
                item,
                account_id=account_id,
                key=f"order:{day}",
                reason="order_reserved",
                source="test",
                reserved=3,
            )
            s.flush()
        for row in s.scalars(select(StockMovement).where(StockMovement.key.like("order:%"))):
            row.at = now - timedelta(days=int(row.key.split(":")[1]))
    signed_in(client, person(rt, Role.staff, account_id=account_id))
    first = client.get("/app/stock").data.decode()
    assert "60 SKUs" in first and "Page 1 of 2" in first
    assert "SKU-050" in first and "SKU-051" not in first
    second = client.get("/app/stock?page=2").data.decode()
    assert "SKU-051" in second and "SKU-060" in second and "SKU-050<" not in second
    with rt.session() as s:
        [forecast] = sku_forecasts(s, account_id, rt.settings, now.date(), ["SKU-060"])
    assert forecast.days_of_cover is not None and forecast.velocity > 0
    row = second[second.index("SKU-060</a>") :]
    row = row[: row.index("</tr>")]
    assert f"{forecast.days_of_cover:.1f}" in row
    assert "no sales" in second[second.index("SKU-051</a>") :]

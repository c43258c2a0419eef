"""Operator actions on the stock ledger, on a real database (both backends)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from db.accounts import get_or_create_account
from db.models import CatalogLink, StockBuffer, StockDirty, StockMovement, Store, StoreState, TimelineEntry
from db.stock import ensure_item, find_item, move
from sync import stock_admin
from sync.jobs import safe_job_id
from sync.stock_reports import stock_rows


def seed(
    rt: Any, account: str = "acme", domain: str = "acme.myshopify.com", **levels: int
) -> tuple[int, int]:
    """An account with one active Shopify store linking each SKU, and the ledger seeded at ``levels``."""
    with rt.session() as s:
        acct = get_or_create_account(s, account)
        store = Store(account_id=acct.id, platform="shopify", domain=domain, state=StoreState.active)
        s.add(store)
        s.flush()
        for n, (sku, qty) in enumerate(sorted(levels.items()), start=1):
            s.add(
                CatalogLink(
                    account_id=acct.id,
                    store_id=store.id,
                    sku=sku,
                    location="default",
                    product_id=1000 + n,
                    variant_id=2000 + n,
                    inventory_item_id=3000 + n,
                    location_id=77,
                    channel_qty=qty,
                )
            )
            item_id = ensure_item(s, acct.id, sku, "default")
            move(
                s,
                item_id,
                account_id=acct.id,
                key=f"import:{sku}",
                reason="initial_import",
                source=f"store:{store.id}",
                on_hand=qty,
                store_id=store.id,
            )
        return acct.id, store.id


def level(rt: Any, account_id: int, sku: str) -> tuple[int, int]:
    with rt.session() as s:
        item = find_item(s, account_id, sku, "default")
        assert item is not None
        return item.on_hand, item.reserved


def marked(rt: Any, store_id: int) -> set[str]:
    with rt.session() as s:
        return set(s.scalars(select(StockDirty.sku).where(StockDirty.store_id == store_id)))


def push_queued(rt: Any, store_id: int) -> bool:
    return bool(rt.queue.is_live(safe_job_id("push-stock", store_id)))


def timeline(rt: Any, account_id: int, subject: str) -> list[TimelineEntry]:
    with rt.session() as s:
        rows = list(
            s.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.account_id == account_id, TimelineEntry.subject == subject)
                .order_by(TimelineEntry.id)
            )
        )
        s.expunge_all()
        return rows


def test_adjust_moves_on_hand_records_why_and_schedules_a_push(rt: Any) -> None:
    account_id, store_id = seed(rt, TOTE=10, MUG=4)
    result = stock_admin.adjust(rt, account_id, " TOTE ", -3, "water damage", actor="cli")
    assert (result.on_hand, result.reserved, result.available, result.applied) == (7, 0, 7, True)
    assert level(rt, account_id, "TOTE") == (7, 0)
    with rt.session() as s:
        m = s.scalars(select(StockMovement).order_by(StockMovement.id.desc())).first()
        assert m is not None
        assert (m.reason, m.on_hand_delta, m.on_hand_after, m.note) == (
            "manual_adjustment",
            -3,
            7,
            "water damage",
        )
        assert m.source == "operator:cli" and m.key.startswith("manual:")
    assert marked(rt, store_id) == {"TOTE"}
    assert push_queued(rt, store_id)
    actions = [(e.action, e.actor) for e in timeline(rt, account_id, "sku:TOTE")]
    assert actions == [("stock.adjusted", "cli")]


def test_adjust_with_the_same_key_applies_once(rt: Any) -> None:
    account_id, _ = seed(rt, TOTE=10)
    first = stock_admin.adjust(rt, account_id, "TOTE", 5, "delivery", actor="api", key="api-adjust:k1")
    again = stock_admin.adjust(rt, account_id, "TOTE", 5, "delivery", actor="api", key="api-adjust:k1")
    assert (first.applied, again.applied) == (True, False)
    assert level(rt, account_id, "TOTE") == (15, 0) == (again.on_hand, again.reserved)


def test_count_sets_on_hand_and_computes_the_delta(rt: Any) -> None:
    account_id, store_id = seed(rt, TOTE=10)
    with rt.session() as s:  # an open order holds 3: a count changes on hand, never reserved
        move(
            s,
            ensure_item(s, account_id, "TOTE", "default"),
            account_id=account_id,
            key="order:1:TOTE:reserve",
            reason="order_reserved",
            source="order:1",
            reserved=3,
        )
    result = stock_admin.count(rt, account_id, "TOTE", 6, None, actor="cli")
    assert (result.on_hand, result.reserved, result.available, result.on_hand_delta) == (6, 3, 3, -4)
    with rt.session() as s:
        m = s.scalars(select(StockMovement).order_by(StockMovement.id.desc())).first()
        assert m is not None and (m.reason, m.on_hand_delta, m.on_hand_after) == ("count_correction", -4, 6)
    same = stock_admin.count(rt, account_id, "TOTE", 6, "recount", actor="cli")
    assert (same.on_hand, same.on_hand_delta) == (6, 0)
    assert marked(rt, store_id) == {"TOTE"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda rt, a: stock_admin.count(rt, a, "TOTE", -1, None, "cli"), "negative"),
        (lambda rt, a: stock_admin.count(rt, a, "TOTE", 1.5, None, "cli"), "whole number"),
        (lambda rt, a: stock_admin.adjust(rt, a, "TOTE", True, "x", "cli"), "whole number"),
        (lambda rt, a: stock_admin.adjust(rt, a, "TOTE", 0, "x", "cli"), "zero"),
        (lambda rt, a: stock_admin.adjust(rt, a, "TOTE", 2, "  ", "cli"), "note"),
        (lambda rt, a: stock_admin.adjust(rt, a, "  ", 2, "x", "cli"), "blank"),
        (lambda rt, a: stock_admin.set_threshold(rt, a, "TOTE", -2), "negative"),
        (lambda rt, a: stock_admin.set_buffer(rt, a, 1, "TOTE", "lots"), "bad buffer"),
        (lambda rt, a: stock_admin.set_buffer(rt, a, 1, "TOTE", "150%"), "bad buffer"),
        (lambda rt, a: stock_admin.set_buffer(rt, a, 1, "TOTE", "-2"), "bad buffer"),
        (lambda rt, a: stock_admin.set_buffer(rt, a, 1, "TOTE", "1.234"), "two decimals"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(rt: Any, call: Any, message: str) -> None:
    account_id, _ = seed(rt, TOTE=10)
    with pytest.raises(stock_admin.StockInputError, match=message):
        call(rt, account_id)
    assert level(rt, account_id, "TOTE") == (10, 0)
    with rt.session() as s:
        assert s.scalar(select(StockBuffer)) is None


def test_unknown_sku_is_refused_unless_created(rt: Any) -> None:
    account_id, _ = seed(rt, TOTE=10)
    with pytest.raises(stock_admin.UnknownSku):
        stock_admin.adjust(rt, account_id, "TOTE-TYPO", 5, "delivery", actor="cli")
    with pytest.raises(stock_admin.UnknownSku):
        stock_admin.set_threshold(rt, account_id, "TOTE-TYPO", 2)
    created = stock_admin.count(rt, account_id, "NEW", 12, "first delivery", actor="cli", create=True)
    assert (created.on_hand, created.on_hand_delta) == (12, 12)


def test_another_accounts_sku_and_store_are_not_found(rt: Any) -> None:
    account_a, store_a = seed(rt, "alpha", "alpha.myshopify.com", TOTE=10)
    account_b, store_b = seed(rt, "beta", "beta.myshopify.com", MUG=3)
    with pytest.raises(stock_admin.UnknownSku):
        stock_admin.adjust(rt, account_a, "MUG", 1, "x", actor="cli")
    with pytest.raises(stock_admin.UnknownStore):
        stock_admin.set_buffer(rt, account_a, store_b, "*", "2")
    assert level(rt, account_b, "MUG") == (3, 0)
    stock_admin.adjust(rt, account_a, "TOTE", 1, "x", actor="cli")
    assert marked(rt, store_b) == set() and marked(rt, store_a) == {"TOTE"}


def test_buffers_change_what_the_channel_publishes(rt: Any) -> None:
    account_id, store_id = seed(rt, TOTE=10, MUG=4)

    def published() -> dict[str, int]:
        with rt.session() as s:
            rows = stock_rows(s, account_id, "default")
        return {r["sku"]: r["channels"][0]["published"] for r in rows}

    assert published() == {"MUG": 4, "TOTE": 10}
    stock_admin.set_buffer(rt, account_id, store_id, "*", "25%")
    assert marked(rt, store_id) == {"MUG", "TOTE"}
    assert published() == {"MUG": 3, "TOTE": 7}  # 25% of 10 is 2.5, held back as 3
    stock_admin.set_buffer(rt, account_id, store_id, "TOTE", "2")
    assert published() == {"MUG": 3, "TOTE": 8}
    stock_admin.set_buffer(rt, account_id, store_id, "TOTE", "5")  # replaces, does not add a row
    with rt.session() as s:
        rows = {(b.sku, b.kind, Decimal(b.value)) for b in s.scalars(select(StockBuffer))}
    assert rows == {("*", "percent", Decimal(25)), ("TOTE", "absolute", Decimal(5))}
    stock_admin.set_buffer(rt, account_id, store_id, "*", None)
    stock_admin.set_buffer(rt, account_id, store_id, "TOTE", None)
    assert published() == {"MUG": 4, "TOTE": 10}
    assert [e.action for e in timeline(rt, account_id, f"store:{store_id}")] == ["stock.buffer_set"] * 5


def test_low_stock_alerts_once_and_clears_when_stock_recovers(rt: Any) -> None:
    account_id, _ = seed(rt, TOTE=10)
    stock_admin.set_threshold(rt, account_id, "TOTE", 3)
    with rt.session() as s:
        rows = stock_rows(s, account_id, "default")
    assert (rows[0]["threshold"], rows[0]["low_stock"]) == (3, False)
    stock_admin.adjust(rt, account_id, "TOTE", -7, "breakage", actor="cli")  # 3 available: at the threshold
    stock_admin.adjust(rt, account_id, "TOTE", -1, "breakage", actor="cli")  # still low: no second alert
    alerts = [e for e in timeline(rt, account_id, "sku:TOTE") if e.action == "stock.low"]
    assert len(alerts) == 1 and alerts[0].data == {"available": 3, "threshold": 3, "location": "default"}
    with rt.session() as s:
        assert stock_rows(s, account_id, "default")[0]["low_stock"] is True
    stock_admin.count(rt, account_id, "TOTE", 20, "delivery", actor="cli")
    with rt.session() as s:
        assert stock_rows(s, account_id, "default")[0]["low_stock"] is False
    stock_admin.set_threshold(rt, account_id, "TOTE", 25)  # a threshold already crossed alerts now
    alerts = [e for e in timeline(rt, account_id, "sku:TOTE") if e.action == "stock.low"]
    assert len(alerts) == 2
    stock_admin.set_threshold(rt, account_id, "TOTE", None)  # no threshold (none configured): not low
    with rt.session() as s:
        assert stock_rows(s, account_id, "default")[0]["low_stock"] is False


def test_the_stock_cli(app: Any, rt: Any) -> None:
    import json

    account_id, store_id = seed(rt, TOTE=10)
    cli = app.test_cli_runner()

    def run(*args: str) -> Any:
        return cli.invoke(args=["stock", *args])

    listed = run("list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [(r["sku"], r["available"]) for r in json.loads(listed.output)] == [("TOTE", 10)]
    assert "Missing option '--note'" in run("adjust", "TOTE", "-2").output
    assert run("adjust", "TOTE", "-2", "--note", "damaged").exit_code == 0
    counted = run("count", "TOTE", "6")
    assert counted.exit_code == 0 and "on hand 6" in counted.output
    refused = run("count", "TOTE", "-1")
    assert refused.exit_code == 1 and "cannot be negative" in refused.output
    assert run("threshold", "TOTE", "7").exit_code == 0
    assert "threshold must be a whole number" in run("threshold", "TOTE", "lots").output
    assert run("buffer", "--store", str(store_id), "--sku", "TOTE", "2").exit_code == 0
    assert "no store 999" in run("buffer", "--store", "999", "5").output
    shown = json.loads(run("show", "TOTE", "--json").output)
    assert (shown["on_hand"], shown["low_stock"], shown["threshold"]) == (6, True, 7)
    assert shown["channels"][0]["published"] == 4
    assert [m["reason"] for m in shown["movements"]] == [
        "count_correction",
        "manual_adjustment",
        "initial_import",
    ]
    assert json.loads(run("forecast", "--json").output)[0]["sku"] == "TOTE"
    assert "no SKU 'NOPE'" in run("show", "NOPE").output
    assert "REORDER" not in run("forecast", "TOTE").output
    assert run("buffer", "--store", str(store_id), "--sku", "TOTE", "none").exit_code == 0

    seed(rt, "other", "other.myshopify.com", MUG=1)
    several = run("list")
    assert several.exit_code == 1 and "--account" in several.output
    assert "MUG" in run("list", "--account", "other").output
    assert "no account named" in run("list", "--account", "nobody").output
    assert account_id

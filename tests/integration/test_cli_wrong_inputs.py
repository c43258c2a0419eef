"""Wrong inputs to the operator commands: a clear one-line error, a non-zero exit, no traceback,
and nothing changed."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from db.accounts import get_or_create_account
from db.models import Order, Store, StoreState, TimelineEntry


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["sandbox"] = True  # loopback store URLs are allowed, as in the demo
    return config


def _refused(result: Any, code: int = 1) -> str:
    """The error text of a command that failed cleanly (click's exit, not an exception)."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return str(result.output)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _held_order(rt: Any, reason: str) -> int:
    with rt.session() as s:
        account = get_or_create_account(s, "north")
        store = Store(account_id=account.id, platform="shopify", domain="north.myshopify.com")
        store.state = StoreState.active
        s.add(store)
        s.flush()
        order = Order(
            account_id=account.id,
            store_id=store.id,
            platform="shopify",
            platform_order_id="1001",
            number="#1001",
            stage="on_hold",
            hold_reason=reason,
            financial_status="paid",
            fulfillment_status="unfulfilled",
            platform_updated_at=datetime(2026, 3, 2, tzinfo=UTC),
            data={},
        )
        s.add(order)
        s.flush()
        return int(order.id)


@pytest.mark.parametrize("command", ["reconcile", "catalog", "inventory-audit"])
def test_a_store_that_does_not_exist_is_an_error_naming_it(app: Any, command: str) -> None:
    result = app.test_cli_runner().invoke(args=["sync", command, "--store", "99"])
    assert "Error: no store 99" in _refused(result)


@pytest.mark.parametrize(
    "args",
    [
        ["sync", "reconcile", "--store", str(2**70)],
        ["orders", "show", str(2**70)],
        ["orders", "list", "--store", str(2**40)],
        ["ship", "run", str(2**64)],
        ["jobs", "retry", str(2**40)],
        ["stock", "buffer", "--store", str(2**40), "5"],
    ],
)
def test_ids_beyond_the_database_range_are_refused_as_bad_input(app: Any, args: list[str]) -> None:
    result = app.test_cli_runner().invoke(args=args)
    assert "is not in the range" in _refused(result, code=2)


def test_an_unreachable_store_is_one_line_per_command_not_a_traceback(app: Any, rt: Any) -> None:
    runner = app.test_cli_runner()
    url = f"http://127.0.0.1:{_closed_port()}"
    keys = ["--key", "ck_x", "--secret", "cs_x"]
    added = runner.invoke(args=["shops", "add-woocommerce", "--url", url, *keys])
    assert added.exit_code == 0, added.output
    with rt.session() as s:
        store_id = s.scalar(select(Store.id).where(Store.domain == url))
    commands = [["sync", "reconcile"], ["sync", "reconcile", "--store", str(store_id)], ["sync", "catalog"]]
    for command in commands:
        result = runner.invoke(args=command)
        _refused(result)
        [line] = result.stderr.splitlines()
        assert line.startswith(f"Error: store {store_id} (woocommerce {url}): could not reach it"), line
        assert "ConnectionError" in line and line.endswith("; try again later")


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("review: score 65", "it is on hold: review: score 65; `ship run` releases only shipping holds"),
        ("oversold: TOTE short by 2", "it is on hold: oversold: TOTE short by 2"),
    ],
)
def test_ship_run_on_a_held_order_says_why_nothing_happened(
    app: Any, rt: Any, reason: str, said: str
) -> None:
    order_id = _held_order(rt, reason)
    result = app.test_cli_runner().invoke(args=["ship", "run", str(order_id)])
    _refused(result)
    assert f"Error: order {order_id} was not shipped: {said}" in result.stderr
    with rt.session() as s:
        row = s.get(Order, order_id)
        assert row is not None and (row.stage, row.hold_reason) == ("on_hold", reason)
        assert s.scalar(select(func.count(TimelineEntry.id))) == 0  # nothing was done


def test_ship_run_on_an_order_with_nothing_to_ship_exits_non_zero(app: Any, rt: Any) -> None:
    order_id = _held_order(rt, "review: score 65")
    with rt.session() as s:
        row = s.get(Order, order_id)
        assert row is not None
        row.stage, row.hold_reason = "cancelled", None
    result = app.test_cli_runner().invoke(args=["ship", "run", str(order_id)])
    assert f"order {order_id} was not shipped: nothing to ship while it is cancelled" in _refused(result)


@pytest.mark.parametrize("url", ["https://[::1", "https://127.0.0.1:99999"])
def test_a_malformed_store_url_is_refused_and_nothing_is_stored(app: Any, rt: Any, url: str) -> None:
    args = ["shops", "add-woocommerce", "--url", url, "--key", "ck_x", "--secret", "cs_x"]
    assert "Error: --url: " in _refused(app.test_cli_runner().invoke(args=args))
    with rt.session() as s:
        assert s.scalar(select(func.count(Store.id))) == 0


def test_a_malformed_new_key_is_refused_before_anything_is_re_encrypted(app: Any) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--new-key", "not-a-key"])
    assert "Error: --new-key: WAYBILL_SECRET_KEY must be Fernet keys" in _refused(result)


@pytest.mark.parametrize("command", ["upgrade", "downgrade"])
def test_an_unknown_migration_revision_is_one_line(app: Any, command: str) -> None:
    result = app.test_cli_runner().invoke(args=["db", command, "nonsense"])
    assert "Can't locate revision identified by 'nonsense'" in _refused(result)


def test_empty_lists_say_so_instead_of_printing_nothing(app: Any) -> None:
    runner = app.test_cli_runner()
    shops = runner.invoke(args=["shops", "list"])
    orders = runner.invoke(args=["orders", "list"])
    of_store = runner.invoke(args=["orders", "list", "--store", "3"])
    assert (shops.exit_code, orders.exit_code, of_store.exit_code) == (0, 0, 0)
    assert shops.output.startswith("no store connected yet")
    assert orders.output == "no orders yet\n" and of_store.output == "no orders from store 3\n"
    assert runner.invoke(args=["orders", "list", "--json"]).output.strip() == "[]"

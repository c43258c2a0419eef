"""When a SKU is reported low (``sync.inventory.low_stock_check``), through the operator's stock
actions: once when available falls to its threshold (its own, else the configured default),
again only after it recovered above it; the alert on the SKU's timeline says where and how low.
"""

from __future__ import annotations

from typing import Any

import pytest

from sync import stock_admin
from sync.stock_reports import stock_rows
from tests.integration.test_stock_admin import seed, timeline


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config.setdefault("inventory", {})["low_stock_threshold"] = 5
    return config


def low(rt: Any, account_id: int) -> bool:
    with rt.session() as s:
        return bool(stock_rows(s, account_id, "default")[0]["low_stock"])


def alerts(rt: Any, account_id: int) -> list[tuple[str, str | None, dict[str, Any]]]:
    return [
        (e.actor, e.reason, e.data) for e in timeline(rt, account_id, "sku:TOTE") if e.action == "stock.low"
    ]


def test_the_configured_default_threshold_alerts_at_it_not_above(rt: Any) -> None:
    account_id, _ = seed(rt, TOTE=7)
    stock_admin.adjust(rt, account_id, "TOTE", -1, "breakage", actor="cli")  # 6: above 5
    assert (low(rt, account_id), alerts(rt, account_id)) == (False, [])
    stock_admin.adjust(rt, account_id, "TOTE", -1, "breakage", actor="cli")  # 5: at the threshold
    assert low(rt, account_id) is True
    assert alerts(rt, account_id) == [
        (
            "inventory",
            "5 available at default (threshold 5)",
            {"available": 5, "threshold": 5, "location": "default"},
        )
    ]
    stock_admin.adjust(rt, account_id, "TOTE", 1, "found one", actor="cli")  # 6: recovered
    assert low(rt, account_id) is False
    stock_admin.adjust(rt, account_id, "TOTE", -2, "breakage", actor="cli")  # 4: low again, a new alert
    assert [reason for _, reason, _ in alerts(rt, account_id)] == [
        "5 available at default (threshold 5)",
        "4 available at default (threshold 5)",
    ]
    stock_admin.adjust(rt, account_id, "TOTE", 1, "found one", actor="cli")  # 5: back at it, still low
    assert low(rt, account_id) is True
    assert len(alerts(rt, account_id)) == 2


def test_a_skus_own_threshold_wins_over_the_default_even_zero(rt: Any) -> None:
    account_id, _ = seed(rt, TOTE=7)
    stock_admin.set_threshold(rt, account_id, "TOTE", 0)
    stock_admin.adjust(rt, account_id, "TOTE", -4, "breakage", actor="cli")  # 3: below the default only
    assert (low(rt, account_id), alerts(rt, account_id)) == (False, [])
    stock_admin.adjust(rt, account_id, "TOTE", -3, "breakage", actor="cli")  # 0: at its own threshold
    assert low(rt, account_id) is True
    assert [reason for _, reason, _ in alerts(rt, account_id)] == ["0 available at default (threshold 0)"]

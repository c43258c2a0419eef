"""Operator stock actions refuse what they cannot do, and change nothing (both backends):
an over-long SKU, a buffer on another merchant's store, removing a buffer that is not there."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import StockBuffer, StockMovement
from sync import stock_admin
from tests.integration.test_stock_admin import seed


def counts(rt: Any) -> tuple[int, int]:
    with rt.session() as s:
        return (
            int(s.scalar(select(func.count(StockMovement.id))) or 0),
            int(s.scalar(select(func.count(StockBuffer.id))) or 0),
        )


def test_an_over_long_or_blank_sku_is_refused(rt: Any) -> None:
    account_id, _ = seed(rt, **{"TEE-BLK-M": 4})
    before = counts(rt)
    with pytest.raises(stock_admin.StockInputError, match="SKU is longer than 255 characters"):
        stock_admin.adjust(rt, account_id, "X" * 256, 1, "found", actor="cli", create=True)
    with pytest.raises(stock_admin.StockInputError, match="SKU must not be blank"):
        stock_admin.adjust(rt, account_id, "  ", 1, "found", actor="cli", create=True)
    assert counts(rt) == before


def test_a_buffer_on_another_merchants_store_is_refused_as_unknown(rt: Any) -> None:
    _, theirs = seed(rt, account="other", domain="other.myshopify.com", **{"TEE-BLK-M": 4})
    mine, _ = seed(rt, **{"TEE-BLK-M": 4})
    with pytest.raises(stock_admin.UnknownStore, match=f"no store {theirs}"):
        stock_admin.set_buffer(rt, mine, theirs, "TEE-BLK-M", "2")
    assert counts(rt)[1] == 0


def test_removing_a_buffer_that_is_not_there_changes_nothing(rt: Any) -> None:
    account_id, store_id = seed(rt, **{"TEE-BLK-M": 4})
    assert stock_admin.set_buffer(rt, account_id, store_id, "TEE-BLK-M", None) is None
    assert counts(rt)[1] == 0
    stock_admin.set_buffer(rt, account_id, store_id, "TEE-BLK-M", "2")
    assert counts(rt)[1] == 1
    stock_admin.set_buffer(rt, account_id, store_id, "TEE-BLK-M", None)
    assert counts(rt)[1] == 0

"""The inventory audit job refuses a policy it does not know and skips a store it must not
touch (gone, or not active), before any call to the storefront (real database, both backends)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import Effect, StockMovement, Store, StoreState
from sync.stock_audit import inventory_audit
from tests.integration.test_stock_admin import seed


def untouched(rt: Any) -> tuple[int, int]:
    with rt.session() as s:
        return (
            int(s.scalar(select(func.count(StockMovement.id))) or 0),
            int(s.scalar(select(func.count(Effect.key))) or 0),
        )


def test_an_unknown_heal_policy_is_refused_before_anything_is_read(rt: Any) -> None:
    _, store_id = seed(rt, **{"TEE-BLK-M": 4})
    before = untouched(rt)
    with pytest.raises(ValueError, match="unknown heal policy 'overwrite': ledger, channel or report"):
        inventory_audit(rt, store_id=store_id, heal="overwrite")
    assert untouched(rt) == before


@pytest.mark.parametrize("state", [StoreState.uninstalled, StoreState.installing])
def test_a_store_that_is_not_active_or_gone_is_skipped(rt: Any, state: StoreState) -> None:
    _, store_id = seed(rt, **{"TEE-BLK-M": 4})
    with rt.session() as s:
        store = s.get(Store, store_id)
        assert store is not None
        store.state = state
    before = untouched(rt)
    skipped = inventory_audit(rt, store_id=store_id, heal="report")
    assert skipped["skipped"] is True and skipped["store_id"] == store_id and skipped["found"] == 0
    gone = inventory_audit(rt, store_id=store_id + 1000)
    assert gone["skipped"] is True
    assert untouched(rt) == before

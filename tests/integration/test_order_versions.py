"""Order versions of one second converge on the stored order, whatever order they arrive in.

Platform modification times have whole seconds, so two changes made in one second
carry the same time. These tests deliver the versions of one order to ``upsert_order``
(the real database) in orders chosen by hypothesis and compare what is held at the end.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.addresses import Address
from core.orders import FinancialStatus, Order
from db.accounts import get_or_create_account
from db.models import Order as OrderRow
from db.models import Store, StoreState, TimelineEntry
from sync.orders import upsert_order

BASE = Order.from_dict(
    json.loads(
        (
            Path(__file__).parents[1] / "fixtures" / "woocommerce" / "order_created__processing.expected.json"
        ).read_text()
    )
)
FETCHED = datetime(2024, 6, 1, 15, 10, tzinfo=UTC)
# Different contents one second can hold: the merchant fixes the street, the buyer's
# note is added, the order is put on hold awaiting a bank transfer.
VARIANTS = {
    "as placed": BASE,
    "street fixed": replace(BASE, shipping_address=Address(name="Maria Garcia", line1="12 Oak Lane")),
    "note added": replace(BASE, note="Leave at the back door"),
    "awaiting payment": replace(BASE, financial_status=FinancialStatus.PENDING),
}
# One store per delivery run: hypothesis examples share the test's database.
_ids = itertools.count(10_000)


def make_store(rt: Any) -> Store:
    """A store of its own for each hypothesis example (they share the test's database)."""
    with rt.session() as s:
        account = get_or_create_account(s, "Same Second Supplies")
        domain = f"same-second-{next(_ids)}.example"
        store = Store(account_id=account.id, platform="woocommerce", domain=domain, state=StoreState.active)
        s.add(store)
        s.flush()
        s.expunge(store)
        return store


def deliver(rt: Any, versions: list[tuple[Order, datetime | None]], fetched: bool = True) -> Any:
    """Each version in its own transaction, as one inbox event each, to a store of its own;
    returns the order held at the end."""
    store = make_store(rt)
    for order, fetched_at in versions:
        with rt.session() as s:
            if fetched:
                upsert_order(s, store, order, actor="test", fetched_at=fetched_at)
            else:
                upsert_order(s, store, order, actor="test")
    with rt.session() as s:
        row = s.scalar(
            select(OrderRow).where(OrderRow.store_id == store.id, OrderRow.platform_order_id == BASE.order_id)
        )
        assert row is not None
        return row.data


VARIANT_SETS = st.lists(st.sampled_from(sorted(VARIANTS)), min_size=2, max_size=4, unique=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_webhooks_of_one_second_end_in_the_same_state_in_any_order(rt: Any, data: st.DataObject) -> None:
    names = data.draw(VARIANT_SETS)
    first = data.draw(st.permutations(names))
    second = data.draw(st.permutations(names))
    held_first = deliver(rt, [(VARIANTS[n], None) for n in first], fetched=False)
    held_second = deliver(rt, [(VARIANTS[n], None) for n in second], fetched=False)
    assert held_first == held_second, (first, second)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_the_latest_read_of_the_platform_decides_a_second_in_any_order(rt: Any, data: st.DataObject) -> None:
    names = data.draw(VARIANT_SETS)
    truth = data.draw(st.sampled_from(names))
    stale_read = data.draw(st.sampled_from(names))
    # Webhook bodies of every variant, a read made while the second was still moving,
    # and the read made after it: the store's final state.
    deliveries = [(VARIANTS[n], None) for n in names]
    deliveries += [(VARIANTS[stale_read], FETCHED), (VARIANTS[truth], FETCHED + timedelta(seconds=5))]
    held = deliver(rt, data.draw(st.permutations(deliveries)))
    assert held == VARIANTS[truth].to_dict()


def test_a_second_with_two_contents_asks_for_a_read_and_says_so_on_the_timeline(rt: Any) -> None:
    store = make_store(rt)
    with rt.session() as s:
        upsert_order(s, store, VARIANTS["as placed"], actor="test")
    with rt.session() as s:
        again = upsert_order(s, store, VARIANTS["as placed"], actor="test")
        assert (again.changed, again.recheck) == (False, False)  # a duplicate is no conflict
    with rt.session() as s:
        other = upsert_order(s, store, VARIANTS["street fixed"], actor="test")
        assert other.recheck is True
        row_id = other.row.id
    with rt.session() as s:
        last = s.scalars(
            select(TimelineEntry).where(TimelineEntry.subject == f"order:{row_id}").order_by(TimelineEntry.id)
        ).all()[-1]
        assert last.reason is not None and "same second" in last.reason

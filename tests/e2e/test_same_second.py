"""Changes a WooCommerce store makes within one second, delivered by webhook, end right.

The store's clock is frozen, so every change below carries the same ``date_modified``
(WooCommerce stores whole seconds). Webhook bodies are built at delivery time, so a
delivery made between two changes carries the first content.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connectors.woocommerce.orders import order_from_rest
from db.models import InboxEvent, InboxState, Store
from db.models import Order as OrderRow
from sandbox.harness import FakeClock
from sandbox.woocommerce import WooCommerceSimulator
from sync.intake import process_inbox_event
from sync.reconcile import reconcile_store
from tests.conftest import drain
from tests.e2e.conftest import install_woocommerce, sign_in

SKU = "TEE-BLK-M"


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["risk"] = {"verify_addresses": False, "approve_below": 1000, "reject_at": 1001}
    config["shipping"] = {"auto_ship": False}
    config["reconcile"] = {"recheck_s": 0}
    return config


@pytest.fixture
def store(
    rt: Any,
    woo: WooCommerceSimulator,
    woo_url: str,
    browser: requests.Session,
    public_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> WooCommerceSimulator:
    """A connected store whose dates stand still (its OAuth checks keep the wall clock)."""
    sign_in(browser, public_url, rt, "Same Second Tees")
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    woo.deliver_webhooks()
    drain(rt)
    monkeypatch.setattr(woo.store, "clock", FakeClock(float(int(time.time())) + 0.25))
    return woo


def held(rt: Any, order_id: int) -> dict[str, Any]:
    with rt.session() as s:
        row = s.scalar(select(OrderRow).where(OrderRow.platform_order_id == str(order_id)))
        assert row is not None
        return dict(row.data)


def delivered(rt: Any, woo: WooCommerceSimulator) -> list[int]:
    """Deliver what the store queued; the inbox events it made, oldest first (not processed yet)."""
    with rt.session() as s:
        before = set(s.scalars(select(InboxEvent.id)))
    assert woo.deliver_webhooks()
    with rt.session() as s:
        events = s.scalars(
            select(InboxEvent.id).where(InboxEvent.state == InboxState.pending).order_by(InboxEvent.id)
        )
        return [e for e in events if e not in before]


def test_two_identical_orders_held_after_payment_show_the_same_financial_status(
    rt: Any, store: WooCommerceSimulator
) -> None:
    # One order's first deliveries leave while it is processing; the other's after the hold.
    first = store.place_order([(SKU, 1)], status="processing")
    store.deliver_webhooks()
    store.edit_order(first, status="on-hold")
    second = store.place_order([(SKU, 1)], status="processing")
    store.edit_order(second, status="on-hold")
    store.deliver_webhooks()
    drain(rt)
    for order_id in (first, second):
        body = store.order(order_id)
        assert (body["status"], body["date_paid_gmt"] is not None) == ("on-hold", True)
        assert body["date_modified_gmt"] == body["date_created_gmt"]  # all in one second
    assert (held(rt, first)["financial_status"], held(rt, second)["financial_status"]) == ("paid", "paid")


# Changes made in the second the order was paid. A street fix is other content at the
# same progress; a charge reversed by the gateway (failed) moves the order back, so of
# the two webhook bodies the stale one ranks first: only reading the store settles it.
EDITS = {
    "street fixed": {"shipping": {"address_1": "12 Oak Lane"}},
    "charge reversed": {"status": "failed"},
}


@pytest.mark.parametrize("processing", ["as delivered", "reversed"])
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_change_in_the_second_of_the_order_is_kept_whatever_order_the_events_run_in(
    rt: Any, store: WooCommerceSimulator, edit: str, processing: str
) -> None:
    order_id = store.place_order([(SKU, 1)], shipping={"first_name": "Ada", "address_1": "1 Elm St"})
    events = delivered(rt, store)
    store.edit_order(order_id, **EDITS[edit])
    events += delivered(rt, store)
    for event_id in events if processing == "as delivered" else reversed(events):
        process_inbox_event(rt, event_id=event_id)
    drain(rt)  # what the events queued: a read of the store when a second showed two contents
    final = store.order(order_id)
    assert final["date_modified_gmt"] == final["date_created_gmt"]
    assert held(rt, order_id) == order_from_rest(final).to_dict()


def polled_events(rt: Any) -> int:
    with rt.session() as s:
        return len(list(s.scalars(select(InboxEvent.id).where(InboxEvent.topic == "reconcile/order"))))


def test_a_poll_feeds_no_version_the_order_already_holds_and_feeds_a_changed_one(
    rt: Any, store: WooCommerceSimulator
) -> None:
    order_id = store.place_order([(SKU, 1)], shipping={"first_name": "Ada", "address_1": "1 Elm St"})
    store.deliver_webhooks()
    drain(rt)
    store_id = _store_id(rt)

    result = reconcile_store(rt, store_id)
    assert (result["found"], result["known"], result["queued"]) == (1, 1, 0)
    assert polled_events(rt) == 0  # no inbox row, no job
    with rt.session() as s:
        row = s.scalar(select(OrderRow).where(OrderRow.platform_order_id == str(order_id)))
        assert row is not None and row.platform_fetched_at is not None  # the read is noted

    store.edit_order(order_id, shipping={"address_1": "12 Oak Lane"})  # the same second
    result = reconcile_store(rt, store_id)
    assert (result["known"], result["queued"]) == (0, 1)
    drain(rt)
    assert held(rt, order_id) == order_from_rest(store.order(order_id)).to_dict()


def _store_id(rt: Any) -> int:
    with rt.session() as s:
        found = s.scalar(select(Store.id))
        assert found is not None
        return found

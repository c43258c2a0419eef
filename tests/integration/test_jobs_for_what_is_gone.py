"""Jobs queued for an order, parcel, store or inbox event that is gone by the time they run
(erased by a privacy request, removed by an operator) finish quietly, saying so, and claim
no effect (real database and runtime, both backends)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import DeadLetter, Effect, InboxEvent, InboxState, Platform, Store, TimelineEntry
from sync.intake import process_inbox_event
from sync.pipeline import stop_order, verify_order
from sync.shipping import ship_order, write_back
from sync.stock_push import push_stock

GONE = 424242


@pytest.mark.parametrize(
    ("run", "said"),
    [
        (lambda rt: verify_order(rt, order_id=GONE), "missing"),
        (lambda rt: ship_order(rt, order_id=GONE), "missing"),
        (lambda rt: write_back(rt, shipment_id=GONE), "missing"),
        (lambda rt: push_stock(rt, store_id=GONE)["skipped"], True),
    ],
    ids=["verify_order", "ship_order", "write_back", "push_stock"],
)
def test_a_job_for_what_is_gone_says_so_and_claims_nothing(rt: Any, run: Any, said: Any) -> None:
    assert run(rt) == said
    with rt.session() as s:
        assert s.scalar(select(func.count(Effect.key))) == 0
        assert s.scalar(select(func.count(TimelineEntry.id))) == 0


def test_stopping_or_processing_what_is_gone_raises_nothing(rt: Any) -> None:
    stop_order(rt, order_id=GONE, reason="cancelled on the storefront")
    assert process_inbox_event(rt, event_id=GONE) == "skipped"
    with rt.session() as s:
        assert s.scalar(select(func.count(Effect.key))) == 0
        assert s.scalar(select(func.count(DeadLetter.id))) == 0


@pytest.mark.parametrize(
    "topic", ["app/uninstalled", "customers/data_request", "customers/redact", "shop/redact"]
)
def test_a_privacy_webhook_for_a_shop_no_longer_connected_is_done_and_touches_nothing(
    rt: Any, topic: str
) -> None:
    body = b'{"shop_domain": "gone.myshopify.com", "customer": {"email": "ada@example.com"}}'
    with rt.session() as s:
        event = InboxEvent(
            platform=Platform.shopify,
            store_id=None,
            topic=topic,
            dedupe_key=f"gone:{topic}",
            body=body,
            headers={"X-Shopify-Shop-Domain": "gone.myshopify.com", "X-Shopify-Topic": topic},
        )
        s.add(event)
        s.flush()
        event_id = event.id
    assert process_inbox_event(rt, event_id=event_id) == "done"
    with rt.session() as s:
        row = s.get(InboxEvent, event_id)
        assert row is not None and row.state is InboxState.done and row.attempts == 1
        assert s.scalar(select(func.count(TimelineEntry.id))) == 0
        assert s.scalar(select(func.count(Store.id))) == 0

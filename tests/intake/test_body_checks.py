"""Signed bodies of the wrong shape are refused for good: kept as evidence, never retried,
nothing changed.

The edge answers 200 (a 4xx would only make the platform send the same body again for
hours); a body that is not a JSON object is stored as failed and given to no worker; the
inbox job refuses the rest as ``Permanent`` (dead-lettered at its first attempt). A stale
privacy request is stored, not acted on, and noted on the store's timeline.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import DeadLetter, InboxEvent, InboxState, Order, TimelineEntry, utcnow
from sync.intake import inbox_job_id
from sync.jobs import JobMessage, Outcome, execute
from tests.intake.test_receivers import (  # noqa: F401  # the fixtures: secrets, handled test topics
    add_store,
    handled_topics,
    inbox,
    secrets,
    shopify_post,
    woo_post,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
SHOP = "acme.myshopify.com"
BASIC = json.loads((FIXTURES / "shopify" / "orders_create__basic.json").read_text())
WOO = json.loads((FIXTURES / "woocommerce" / "order_created__processing.json").read_text())


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["risk"] = {"verify_addresses": False}
    config["shipping"] = {"auto_ship": False}
    return config


def run_inbox_job(rt: Any, event_id: int) -> Outcome:
    """One attempt of the event's job, with retries left: what the queue would do next."""
    msg = JobMessage(
        "process_inbox_event", {"event_id": event_id}, inbox_job_id(event_id), "intake", intervals=[1, 2, 4]
    )
    return execute(rt, msg).outcome


def event(rt: Any, event_id: int) -> InboxEvent:
    with rt.session() as s:
        row = s.get(InboxEvent, event_id)
        assert row is not None
        s.expunge(row)
        return row


def snapshot(rt: Any) -> list[tuple[Any, ...]]:
    with rt.session() as s:
        return [
            (o.platform_order_id, o.email, o.data, o.stage, o.redacted_at, o.updated_at)
            for o in s.scalars(select(Order).order_by(Order.id))
        ]


def last_event_id(rt: Any) -> int:
    return inbox(rt)[-1].id


@pytest.fixture
def held(client: Any, rt: Any) -> list[tuple[Any, ...]]:
    """The shop with one order already held; returns the orders as stored."""
    add_store(rt, "shopify", SHOP)
    assert shopify_post(client, json.dumps(BASIC).encode(), event_id="seed").json == {"status": "accepted"}
    assert run_inbox_job(rt, last_event_id(rt)) is Outcome.done
    before = snapshot(rt)
    assert [o[0] for o in before] == [str(BASIC["id"])]
    return before


def newer(**changes: Any) -> dict[str, Any]:
    """The held order, edited later (so only its shape can stop it)."""
    body = copy.deepcopy(BASIC)
    body["updated_at"] = "2024-05-03T10:00:00-04:00"
    body.update(changes)
    return body


def deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


MALFORMED = {
    "too_deep": newer(note_attributes=[{"name": "gift", "value": "no", "extra": deep(200)}]),
    "id_object": newer(id={"value": BASIC["id"]}, admin_graphql_api_id=None),
    "line_items_object": newer(line_items={"0": BASIC["line_items"][0]}),
    "customer_list": newer(customer=[BASIC.get("customer")]),
    "id_2_63": newer(id=2**63, admin_graphql_api_id=None),
    "id_2_64": newer(id=2**64, admin_graphql_api_id=None),
    "gid_2_64": newer(admin_graphql_api_id=f"gid://shopify/Order/{2**64 + 5}"),
    "line_id_2_64": newer(line_items=[{**BASIC["line_items"][0], "id": 2**64, "admin_graphql_api_id": None}]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_order_body_is_refused_at_once_and_changes_nothing(
    client: Any, rt: Any, held: list[tuple[Any, ...]], case: str
) -> None:
    answer = shopify_post(client, json.dumps(MALFORMED[case]).encode(), topic="orders/updated", event_id=case)
    assert answer.status_code == 200  # kept as evidence; a 4xx would be retried for hours
    event_id = last_event_id(rt)

    assert run_inbox_job(rt, event_id) is Outcome.dead  # not retried, though retries were left
    stored = event(rt, event_id)
    assert stored.state is InboxState.failed and "MalformedPayload" in (stored.last_error or "")
    with rt.session() as s:
        (dead,) = s.scalars(select(DeadLetter).where(DeadLetter.job_id == inbox_job_id(event_id)))
        assert dead.attempts == 1
    assert snapshot(rt) == held


@pytest.mark.parametrize("body", [b'[{"id": 1}]', b' "text"', b"12345678901234567890", b"null"])
def test_a_body_that_is_not_an_object_is_kept_as_failed_and_given_to_no_worker(
    client: Any, rt: Any, held: list[tuple[Any, ...]], body: bytes
) -> None:
    answer = shopify_post(client, body, topic="orders/updated", event_id="not-object")
    assert (answer.status_code, answer.json) == (200, {"status": "refused"})
    stored = event(rt, last_event_id(rt))
    assert (stored.state, stored.attempts, stored.body) == (InboxState.failed, 0, body)
    assert stored.last_error == "refused: body is not a JSON object"
    assert not rt.queue.is_live(inbox_job_id(stored.id))
    assert snapshot(rt) == held


WOO_MALFORMED = {
    "line_items_object": {**WOO, "line_items": {"0": WOO["line_items"][0]}},
    "id_2_64": {**WOO, "id": 2**64},
    "customer_id_object": {**WOO, "customer_id": {"id": 7}},
    "billing_list": {**WOO, "billing": [WOO["billing"]]},
}


@pytest.mark.parametrize("case", sorted(WOO_MALFORMED))
def test_a_malformed_woocommerce_order_is_refused_at_once(client: Any, rt: Any, case: str) -> None:
    store_id = add_store(rt, "woocommerce", "https://shop.example")
    assert woo_post(client, store_id, json.dumps(WOO_MALFORMED[case]).encode()).json == {"status": "accepted"}
    event_id = last_event_id(rt)
    assert run_inbox_job(rt, event_id) is Outcome.dead
    stored = event(rt, event_id)
    assert stored.state is InboxState.failed and "MalformedPayload" in (stored.last_error or "")
    assert snapshot(rt) == []


def redact_body(shop: str = SHOP) -> bytes:
    return json.dumps(
        {
            "shop_id": 954889,
            "shop_domain": shop,
            "customer": {"id": 191167, "email": BASIC["email"], "phone": None},
            "orders_to_redact": [BASIC["id"]],
        }
    ).encode()


def triggered(hours_ago: float) -> str:
    return (utcnow() - timedelta(hours=hours_ago)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_privacy_body_naming_another_shop_is_refused(
    client: Any, rt: Any, held: list[tuple[Any, ...]]
) -> None:
    for n, (topic, body) in enumerate(
        [
            ("customers/redact", redact_body("stranger.myshopify.com")),
            ("shop/redact", json.dumps({"shop_id": 1, "shop_domain": "stranger.myshopify.com"}).encode()),
            ("customers/redact", json.dumps({"shop_domain": ["acme.myshopify.com"]}).encode()),
        ]
    ):
        answer = shopify_post(client, body, topic=topic, event_id=f"other-{n}")
        assert answer.status_code == 200
        event_id = last_event_id(rt)
        assert run_inbox_job(rt, event_id) is Outcome.dead
        assert event(rt, event_id).state is InboxState.failed
    assert snapshot(rt) == held


@pytest.mark.parametrize("topic", ["customers/redact", "shop/redact"])
def test_a_stale_privacy_request_is_recorded_and_not_acted_on(
    client: Any, rt: Any, held: list[tuple[Any, ...]], topic: str
) -> None:
    body = redact_body() if topic == "customers/redact" else json.dumps({"shop_domain": SHOP}).encode()
    stale = {"X-Shopify-Triggered-At": triggered(hours_ago=5.5)}
    assert shopify_post(client, body, topic=topic, event_id="stale", **stale).status_code == 200
    event_id = last_event_id(rt)

    assert run_inbox_job(rt, event_id) is Outcome.done
    stored = event(rt, event_id)
    assert stored.state is InboxState.ignored and (stored.last_error or "").startswith("stale: ")
    assert snapshot(rt) == held
    with rt.session() as s:
        notes = [
            e.action for e in s.scalars(select(TimelineEntry).where(TimelineEntry.subject.like("store:%")))
        ]
        assert notes == ["webhook.not_acted_on"]
        assert list(s.scalars(select(DeadLetter))) == []

    # The same request within Shopify's retry window is acted on.
    fresh = {"X-Shopify-Triggered-At": triggered(hours_ago=3.9)}
    assert shopify_post(client, body, topic=topic, event_id="fresh", **fresh).status_code == 200
    assert run_inbox_job(rt, last_event_id(rt)) is Outcome.done
    (redacted,) = snapshot(rt)
    assert redacted[1] is None and redacted[4] is not None


def test_an_unreadable_triggered_at_on_a_privacy_request_is_refused(
    client: Any, rt: Any, held: list[tuple[Any, ...]]
) -> None:
    bad = {"X-Shopify-Triggered-At": "yesterday"}
    assert (
        shopify_post(client, redact_body(), topic="customers/redact", event_id="bad", **bad).status_code
        == 200
    )
    assert run_inbox_job(rt, last_event_id(rt)) is Outcome.dead
    assert snapshot(rt) == held

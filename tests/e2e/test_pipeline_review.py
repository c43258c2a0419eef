"""Verification and review end to end: one merchant with a Shopify shop and a WooCommerce store.

Orders travel through the real receivers, inbox, queue and database; the storefronts and
EasyPost (address verification) are the simulators. What the storefronts were told (risk
assessments, notes, statuses, cancellations) is read back from the simulators.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import select

from db.accounts import get_or_create_account, issue_token
from db.models import DeadLetter, Effect, EffectState, Order, Platform, Store, TimelineEntry
from sandbox.easypost import EasyPostSimulator
from sandbox.harness import Faults
from sandbox.woocommerce import WooCommerceSimulator
from tests.conftest import drain_until_quiet
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, install_woocommerce, sign_in, stores

MERCHANT = "North Wind Trading"
RISKY = "fraudster@throwaway.example"
LAGOS = {
    "name": "Ola Ade",
    "address1": "5 Marina Road",
    "city": "Lagos",
    "countryCode": "NG",
    "zip": "101001",
}
NEW_YORK = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "address_1": "350 Fifth Avenue",
    "city": "New York",
    "state": "NY",
    "postcode": "10001",
    "country": "US",
}


@pytest.fixture
def reject_action() -> str:
    return "hold"


@pytest.fixture
def config(config: dict[str, Any], reject_action: str) -> dict[str, Any]:
    # high value (25) + high-risk destination (40) + disposable e-mail (25) = 90: held for review
    # below reject_at; an undeliverable address alone (100) is rejected.
    config["risk"] = {
        "high_risk_countries": ["NG"],
        "disposable_domains": ["throwaway.example"],
        "reject_at": 100,
        "reject_action": reject_action,
    }
    config["inventory"] = {"settle_s": 0}
    config["shipping"] = {"auto_ship": False}  # verification and review are under test, not labels
    return config


@pytest.fixture
def channels(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    easypost: EasyPostSimulator,
    browser: requests.Session,
    public_url: str,
) -> tuple[Store, Store]:
    sign_in(browser, public_url, rt, MERCHANT)
    assert install_shopify(browser, public_url).status_code == 200
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    shop_store, woo_store = stores(rt)
    assert shop_store.platform is Platform.shopify and woo_store.platform is Platform.woocommerce
    flush(shopify, woo, rt)
    return shop_store, woo_store


@pytest.fixture
def api(rt: Any, channels: tuple[Store, Store]) -> dict[str, str]:
    with rt.session() as s:
        account = get_or_create_account(s, MERCHANT)
        return {"Authorization": f"Bearer {issue_token(s, account)}"}


def flush(shopify: ShopifySandbox, woo: WooCommerceSimulator, rt: Any) -> None:
    """Deliver what both storefronts queued and run every job it caused, until quiet."""
    drain_until_quiet(rt, shopify.deliver_due, woo.deliver_webhooks)


def order_for(rt: Any, store: Store, platform_order_id: int | str) -> Order:
    with rt.session() as s:
        row = s.scalar(
            select(Order).where(Order.store_id == store.id, Order.platform_order_id == str(platform_order_id))
        )
        assert row is not None
        s.expunge(row)
        return row


def actions(rt: Any, order_id: int) -> list[str]:
    with rt.session() as s:
        return list(
            s.scalars(
                select(TimelineEntry.action)
                .where(TimelineEntry.subject == f"order:{order_id}")
                .order_by(TimelineEntry.id)
            )
        )


def rules(order: Order) -> list[str]:
    return sorted(f["rule"] for f in (order.risk or {}).get("facts", []))


def assessments(shopify: ShopifySandbox, order_id: int) -> list[tuple[str, list[dict[str, str]]]]:
    return [(r.risk_level, r.facts) for r in shopify.shops[SHOP].risk_assessments if r.order_id == order_id]


def woo_notes(woo: WooCommerceSimulator, order_id: int) -> list[str]:
    """The notes Waybill wrote on the order (WooCommerce adds its own on status changes)."""
    notes = sorted(woo.store.notes.values(), key=lambda n: n["id"])
    return [n["note"] for n in notes if n["order_id"] == order_id and "[waybill " in n["note"]]


def risky_shopify_order(shopify: ShopifySandbox) -> Any:
    """30 tees (570.00) from a throwaway address to Lagos."""
    return shopify.place_order(SHOP, [("TEE-BLK-M", 30)], email=RISKY, shipping_address=LAGOS)


def test_a_clean_order_is_approved_and_reaches_ready_to_ship(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 1)], email="ada@example.com")
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.hold_reason is None
    assert (order.risk or {})["decision"] == "approve" and rules(order) == []
    trail = actions(rt, order.id)
    assert trail[trail.index("order.received") :][:5] == [
        "order.received",
        "order.verifying",
        "order.verified",
        "order.approved",
        "order.ready_to_ship",
    ]
    assert assessments(shopify, placed.id) == [
        ("LOW", [{"description": "No risk rule fired (score 0)", "sentiment": "POSITIVE"}])
    ]


def test_a_risky_order_is_held_with_its_facts_and_a_reviewer_resumes_it(
    rt: Any,
    client: Any,
    api: dict[str, str],
    channels: tuple[Store, Store],
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
) -> None:
    placed = risky_shopify_order(shopify)
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "on_hold"
    assert (order.hold_reason or "").startswith("review: ")
    assert rules(order) == ["disposable_email", "high_risk_destination", "high_value"]
    assert (order.risk or {})["score"] == 90
    assert "order.ready_to_ship" not in actions(rt, order.id)
    ((level, facts),) = assessments(shopify, placed.id)
    assert level == "MEDIUM" and len(facts) == 3 and {f["sentiment"] for f in facts} == {"NEGATIVE"}

    queue = client.get("/api/v1/orders?stage=on_hold", headers=api).json["orders"]
    assert [o["id"] for o in queue] == [order.id]
    answer = client.post(
        f"/api/v1/orders/{order.id}/approve",
        json={"reviewer": "sam", "reason": "called the customer: a genuine gift order"},
        headers=api,
    )
    assert answer.status_code == 200, answer.json
    flush(shopify, woo, rt)
    resumed = order_for(rt, channels[0], placed.id)
    assert resumed.hold_reason is None and (resumed.review or {})["reviewer"] == "sam"
    trail = actions(rt, order.id)
    assert trail.count("order.approved") == 1
    assert trail.index("order.ready_to_ship") > trail.index("order.approved")
    assert [a[0] for a in assessments(shopify, placed.id)] == ["MEDIUM", "LOW"]


def test_a_trusted_customer_is_not_held(
    rt: Any,
    client: Any,
    api: dict[str, str],
    channels: tuple[Store, Store],
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
) -> None:
    added = client.post("/api/v1/trusted-customers", json={"email": RISKY.upper()}, headers=api)
    assert added.status_code == 201
    placed = risky_shopify_order(shopify)
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.hold_reason is None and (order.risk or {})["decision"] == "approve"
    assert "order.ready_to_ship" in actions(rt, order.id)


def test_an_undeliverable_address_holds_with_the_carriers_message(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    nowhere = {**NEW_YORK, "address_1": "1 Undeliverable Way"}
    placed = woo.place_order(
        [("MUG-12OZ", 1)], billing={**nowhere, "email": "grace@example.com"}, shipping=nowhere
    )
    flush(shopify, woo, rt)
    order = order_for(rt, channels[1], placed)
    assert order.stage == "on_hold"
    assert (order.hold_reason or "").startswith("rejected by rules: ")
    (fact,) = [f for f in (order.risk or {})["facts"] if f["rule"] == "address_undeliverable"]
    assert "Address not found" in fact["detail"]
    notes = woo_notes(woo, placed)
    assert len(notes) == 1 and "address_undeliverable" in notes[0] and "Address not found" in notes[0]
    assert woo.store.order(placed)["status"] == "on-hold"


def test_the_verdict_goes_to_woocommerce_once_even_when_the_answer_is_lost(
    rt: Any,
    client: Any,
    api: dict[str, str],
    channels: tuple[Store, Store],
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
) -> None:
    lagos = {
        "first_name": "Ola",
        "address_1": "5 Marina Road",
        "city": "Lagos",
        "postcode": "101001",
        "country": "NG",
    }
    woo.faults = Faults(lost_response_rate=1.0, lost_response_ops=("notes.create",), hang_s=0)
    placed = woo.place_order([("TEE-BLK-M", 30)], billing={**lagos, "email": RISKY}, shipping=lagos)
    flush(shopify, woo, rt)
    woo.faults = Faults()
    order = order_for(rt, channels[1], placed)
    assert order.stage == "on_hold" and (order.risk or {})["score"] == 90
    (note,) = woo_notes(woo, placed)
    assert "score 90" in note and f"[waybill risk:{order.id}:1]" in note
    assert woo.calls["notes.create"] == 1
    assert woo.store.order(placed)["status"] == "on-hold"

    answer = client.post(
        f"/api/v1/orders/{order.id}/approve", json={"reviewer": "sam", "reason": "known buyer"}, headers=api
    )
    assert answer.status_code == 200
    flush(shopify, woo, rt)
    assert woo.store.order(placed)["status"] == "processing"
    assert "Approved by sam after review: known buyer" in woo_notes(woo, placed)[-1]
    assert order_for(rt, channels[1], placed).stage != "on_hold"


@pytest.mark.parametrize("reject_action", ["cancel"])
def test_a_reviewer_rejection_cancels_on_the_storefront_once(
    rt: Any,
    client: Any,
    api: dict[str, str],
    channels: tuple[Store, Store],
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
) -> None:
    placed = risky_shopify_order(shopify)
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "on_hold"
    # The first cancellation's answer is lost after Shopify acted: the retry must not cancel again.
    shopify.faults = Faults(lost_response_rate=1.0, lost_response_ops=("orderCancel",), hang_s=0)
    answer = client.post(
        f"/api/v1/orders/{order.id}/reject",
        json={"reviewer": "kim", "reason": "card reported stolen"},
        headers=api,
    )
    assert answer.status_code == 200 and answer.json["stage"] == "rejected"
    flush(shopify, woo, rt)
    shopify.faults = Faults()
    assert shopify.shops[SHOP].orders[placed.id].cancelled_at is not None
    assert shopify.calls["orderCancel"] == 1
    rejected = order_for(rt, channels[0], placed.id)
    assert rejected.stage == "rejected" and rejected.cancelled_at is not None
    with rt.session() as s:
        effect = s.scalar(select(Effect).where(Effect.key == f"cancel:{order.id}"))
        assert effect is not None and effect.state is EffectState.done
        assert s.scalars(select(DeadLetter)).all() == []
    assert [a[0] for a in assessments(shopify, placed.id)] == ["MEDIUM", "HIGH"]


@pytest.mark.parametrize("reject_action", ["cancel"])
def test_rules_reject_cancels_a_woocommerce_order(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    nowhere = {**NEW_YORK, "address_1": "1 Undeliverable Way"}
    placed = woo.place_order(
        [("MUG-12OZ", 1)], billing={**nowhere, "email": "grace@example.com"}, shipping=nowhere
    )
    flush(shopify, woo, rt)
    order = order_for(rt, channels[1], placed)
    assert order.stage == "rejected" and order.hold_reason is None
    assert woo.store.order(placed)["status"] == "cancelled"
    assert order.cancelled_at is not None  # the storefront's cancellation came back
    trail = actions(rt, order.id)
    assert trail.count("order.rejected") == 1 and "order.cancelled" in trail
    assert "order.ready_to_ship" not in trail


def test_a_storefront_cancellation_stops_the_pipeline(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    placed = risky_shopify_order(shopify)
    flush(shopify, woo, rt)
    assert order_for(rt, channels[0], placed.id).stage == "on_hold"
    shopify.cancel_order(SHOP, placed.id)
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "cancelled"
    trail = actions(rt, order.id)
    assert trail.count("order.pipeline_stopped") == 1

"""Shopify's lifecycle topics end to end: uninstall, and the three mandatory privacy topics.

Orders are placed in the sandbox shop and delivered to the installed app; the merchant
(or Shopify on the customer's behalf) then uninstalls, asks for a customer's data or
asks for redaction, and the webhooks travel through the real receiver, inbox and queue.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from sqlalchemy import select

from db.accounts import get_or_create_account, issue_token
from db.models import Account, DataExport, InboxEvent, Order, Store, StoreState
from db.timeline import entries
from sandbox.harness import Delivery
from sync.reconcile import reconcile_store
from tests.conftest import drain
from tests.e2e.conftest import HTTP_TIMEOUT_S, SHOP, ShopifySandbox, install_shopify, stores

ADA, GRACE = "ada@example.com", "grace@example.com"
PERSONAL = ("email", "customer_id", "browser_ip", "billing_address", "shipping_address", "note")
KEPT = ("order_id", "number", "line_items", "subtotal", "total", "total_tax", "total_shipping", "currency")
REDACTED_BODY = b'{"redacted": true}'


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    # Intake is under test: approved orders wait in ready_to_ship instead of being shipped, so
    # the storefronts send no fulfilment updates of their own.
    config["shipping"] = {"auto_ship": False}
    return config


@pytest.fixture
def store(rt: Any, shopify: ShopifySandbox, browser: requests.Session, public_url: str) -> Store:
    """SHOP installed through the real OAuth flow, its subscriptions pointing at the app; the
    catalog import it queued runs with the first order's jobs (an order in flight at install)."""
    assert install_shopify(browser, public_url).status_code == 200
    (row,) = stores(rt)
    return row


def deliver(shopify: ShopifySandbox, rt: Any) -> list[tuple[str, int | None]]:
    """Send what the shop has queued, then run the jobs it caused; (topic, answer) per delivery."""
    sent: list[Delivery] = shopify.deliver_due()
    drain(rt)
    return [(d.topic, d.status) for d in sent]


def place(shopify: ShopifySandbox, email: str, sku: str = "TEE-BLK-M", quantity: int = 1) -> str:
    return str(shopify.place_order(SHOP, [(sku, quantity)], email=email).id)


def orders(rt: Any) -> dict[str, Order]:
    with rt.session() as s:
        rows = {o.platform_order_id: o for o in s.scalars(select(Order))}
        s.expunge_all()
        return rows


def event_bodies(rt: Any) -> dict[str, list[bytes]]:
    """Inbox bodies of order events, by the order id they carry (``"redacted"`` once erased)."""
    out: dict[str, list[bytes]] = {}
    with rt.session() as s:
        for event in s.scalars(select(InboxEvent).order_by(InboxEvent.id)):
            if event.topic.startswith("orders/"):
                out.setdefault(str(json.loads(event.body).get("id", "redacted")), []).append(event.body)
    return out


def naming(rt: Any, email: str) -> list[str]:
    """Topics of the inbox events whose stored body still contains ``email``."""
    with rt.session() as s:
        return sorted(e.topic for e in s.scalars(select(InboxEvent)) if email.encode() in e.body)


def token_for(rt: Any, account_id: int | None) -> str:
    """An API token for the account (None: a new, unrelated account)."""
    with rt.session() as s:
        account = s.get(Account, account_id) if account_id else get_or_create_account(s, "someone else")
        return issue_token(s, account)


def api(public_url: str, path: str, token: str, status: int = 200) -> Any:
    answer = requests.get(
        f"{public_url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT_S
    )
    assert answer.status_code == status, answer.text
    return answer.json()


def kept(order: Order) -> dict[str, Any]:
    return {k: order.data[k] for k in KEPT}


def assert_anonymised(order: Order) -> None:
    assert {k: order.data[k] for k in PERSONAL} == dict.fromkeys(PERSONAL)
    assert order.email is None and order.redacted_at is not None


def test_uninstall_erases_the_token_and_later_orders_are_refused(
    rt: Any, shopify: ShopifySandbox, store: Store
) -> None:
    first = place(shopify, ADA)
    assert deliver(shopify, rt) == [("orders/create", 200), ("inventory_levels/update", 200)]

    shopify.uninstall_app(SHOP)
    assert deliver(shopify, rt) == [("app/uninstalled", 200)]

    (row,) = stores(rt)
    assert (row.state, row.credentials) == (StoreState.uninstalled, None)
    assert row.uninstalled_at is not None
    with rt.session() as s:
        actions = [e.action for e in entries(s, row.account_id, f"store:{row.id}")]
    assert actions[-1] == "store.uninstalled"
    assert reconcile_store(rt, row.id) == {"skipped": True}

    late = place(shopify, ADA)
    answers = deliver(shopify, rt)
    assert answers == [("orders/create", 401), ("inventory_levels/update", 401)]
    assert list(orders(rt)) == [first]
    assert late not in event_bodies(rt)


def test_reinstalling_after_uninstall_stores_the_new_token_and_orders_flow_again(
    rt: Any, shopify: ShopifySandbox, store: Store, browser: requests.Session, public_url: str
) -> None:
    shopify.uninstall_app(SHOP)
    deliver(shopify, rt)

    assert install_shopify(browser, public_url).status_code == 200
    order_id = place(shopify, GRACE)
    answers = deliver(shopify, rt)

    (row,) = stores(rt)
    assert (row.id, row.state, row.uninstalled_at) == (store.id, StoreState.active, None)
    assert rt.vault.decrypt_json(row.credentials) == {"access_token": shopify.shop(SHOP).token}
    assert answers == [("orders/create", 200), ("inventory_levels/update", 200)]
    assert orders(rt)[order_id].email == GRACE


def test_data_request_exports_that_customers_orders_for_the_merchant(
    rt: Any, shopify: ShopifySandbox, store: Store, public_url: str
) -> None:
    ada = sorted([place(shopify, ADA), place(shopify, ADA, "MUG-12OZ", 2)])
    place(shopify, GRACE)
    deliver(shopify, rt)

    shopify.request_customer_data(SHOP, ADA)
    assert deliver(shopify, rt) == [("customers/data_request", 200)]

    with rt.session() as s:
        (export,) = s.scalars(select(DataExport))
        s.expunge(export)
    assert (export.store_id, export.account_id, export.customer_email) == (store.id, store.account_id, ADA)
    assert export.data["customer"]["email"] == ADA
    exported = export.data["orders"]
    assert sorted(o["order"]["order_id"] for o in exported) == ada
    assert {o["order"]["email"] for o in exported} == {ADA}
    assert all(o["timeline"][0]["action"] == "order.received" for o in exported)
    merchant, stranger = token_for(rt, store.account_id), token_for(rt, None)
    listed = api(public_url, "/data-exports", merchant)
    assert [(e["id"], e["store_id"]) for e in listed["exports"]] == [(export.id, store.id)]
    assert api(public_url, f"/data-exports/{export.id}", merchant)["data"] == export.data
    assert api(public_url, f"/data-exports/{export.id}", stranger, status=404) == {"error": "not found"}


def test_customer_redaction_erases_their_personal_data_only(
    rt: Any, shopify: ShopifySandbox, store: Store
) -> None:
    ada = [place(shopify, ADA), place(shopify, ADA, "MUG-12OZ", 2)]
    grace = place(shopify, GRACE)
    shopify.fake_clock.advance(60)
    shopify.update_order(SHOP, int(ada[0]), note="Leave with the neighbour at 12")
    shopify.request_customer_data(SHOP, ADA)
    deliver(shopify, rt)
    before, bodies_before = orders(rt), event_bodies(rt)
    assert before[ada[0]].data["note"] == "Leave with the neighbour at 12"
    assert before[ada[0]].data["shipping_address"] is not None

    shopify.redact_customer(SHOP, ADA)
    assert deliver(shopify, rt) == [("customers/redact", 200)]

    after, bodies = orders(rt), event_bodies(rt)
    for order_id in ada:
        assert_anonymised(after[order_id])
        assert kept(after[order_id]) == kept(before[order_id])
    assert [li["sku"] for li in after[ada[1]].data["line_items"]] == ["MUG-12OZ"]
    assert bodies["redacted"] == [REDACTED_BODY] * 3  # ada's two creations and the note update
    assert not set(ada) & set(bodies)
    assert after[grace].data == before[grace].data and after[grace].email == GRACE
    assert after[grace].redacted_at is None
    assert bodies[grace] == bodies_before[grace]
    with rt.session() as s:
        assert list(s.scalars(select(DataExport))) == []


def test_after_customer_redaction_no_stored_event_names_the_customer(
    rt: Any, shopify: ShopifySandbox, store: Store
) -> None:
    place(shopify, ADA)
    place(shopify, GRACE)
    shopify.request_customer_data(SHOP, ADA)
    deliver(shopify, rt)
    assert naming(rt, ADA) == ["customers/data_request", "orders/create"]

    shopify.redact_customer(SHOP, ADA)
    deliver(shopify, rt)

    assert (naming(rt, ADA), naming(rt, GRACE)) == ([], ["orders/create"])


def test_export_and_redaction_match_the_customers_address_exactly(
    rt: Any, shopify: ShopifySandbox, store: Store
) -> None:
    # "_" and "%" are legal in addresses and are wildcards in SQL LIKE patterns.
    wanted, lookalike = place(shopify, "jo_n@example.com"), place(shopify, "join@example.com")
    deliver(shopify, rt)

    shopify.request_customer_data(SHOP, "jo_n@example.com")
    deliver(shopify, rt)
    with rt.session() as s:
        (export,) = s.scalars(select(DataExport))
        exported = sorted(o["order"]["order_id"] for o in export.data["orders"])
    shopify.redact_customer(SHOP, "jo_n@example.com")
    deliver(shopify, rt)

    held = orders(rt)
    assert_anonymised(held[wanted])
    other = (held[lookalike].email, held[lookalike].data["email"], held[lookalike].redacted_at)
    assert (exported, other) == ([wanted], ("join@example.com", "join@example.com", None))


def test_shop_redaction_after_uninstall_anonymises_every_order(
    rt: Any, shopify: ShopifySandbox, store: Store
) -> None:
    placed = [place(shopify, ADA), place(shopify, GRACE), place(shopify, "linus@example.com")]
    deliver(shopify, rt)
    before = orders(rt)
    shopify.uninstall_app(SHOP)
    deliver(shopify, rt)

    shopify.redact_shop(SHOP)
    assert deliver(shopify, rt) == [("shop/redact", 200)]

    after = orders(rt)
    assert sorted(after) == sorted(placed)
    for order_id in placed:
        assert_anonymised(after[order_id])
        assert kept(after[order_id]) == kept(before[order_id])
    with rt.session() as s:
        bodies = {e.topic: e.body for e in s.scalars(select(InboxEvent))}
        others = [e.body for e in s.scalars(select(InboxEvent).where(InboxEvent.topic != "shop/redact"))]
    assert len(others) == 7 and set(others) == {REDACTED_BODY}  # 3 orders, 3 stock changes, uninstall
    assert json.loads(bodies["shop/redact"])["shop_domain"] == SHOP

"""The dashboard, the orders grid, the order page and the review queue in a real browser.

Orders reach the database the real way: placed at the Shopify simulator, delivered as
webhooks, verified by the pipeline (risky ones are held for review). A staff user then
finds an order by search, approves a held order on its page, and approves another from the
review queue with the keyboard; every page passes axe-core with no console error.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from db.models import Order, Role, Store, TimelineEntry
from sandbox.easypost import EasyPostSimulator
from sandbox.woocommerce import WooCommerceSimulator
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, stores
from tests.e2e.conftest import sign_in as token_sign_in
from tests.e2e.console import axe_violations, person, screenshot, sign_in
from tests.e2e.test_pipeline_review import LAGOS, RISKY, flush

MERCHANT = "Harbour Goods"


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    # high value + high-risk destination + disposable e-mail = 90: held for review
    config["risk"] = {
        "high_risk_countries": ["NG"],
        "disposable_domains": ["throwaway.example"],
        "reject_at": 100,
        "reject_action": "hold",
    }
    config["inventory"] = {"settle_s": 0}
    config["shipping"] = {"auto_ship": False}
    return config


@pytest.fixture
def orders(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    easypost: EasyPostSimulator,
    browser: requests.Session,
    public_url: str,
) -> dict[str, Any]:
    """Two held orders and a clean one, through the webhooks and the pipeline."""
    account_id = token_sign_in(browser, public_url, rt, MERCHANT)
    assert install_shopify(browser, public_url).status_code == 200
    (store,) = stores(rt)
    flush(shopify, woo, rt)
    clean = shopify.place_order(SHOP, [("MUG-12OZ", 1)], email="grace@example.com")
    first = shopify.place_order(
        SHOP, [("TEE-BLK-M", 25), ("MUG-12OZ", 5)], email=RISKY, shipping_address=LAGOS
    )
    second = shopify.place_order(
        SHOP, [("TEE-BLK-M", 24), ("MUG-12OZ", 6)], email=RISKY, shipping_address=LAGOS
    )
    flush(shopify, woo, rt)
    found = {
        name: row_of(rt, store, placed.id)
        for name, placed in (("clean", clean), ("first", first), ("second", second))
    }
    assert found["clean"].stage == "ready_to_ship"
    assert found["first"].stage == found["second"].stage == "on_hold"
    return {"account_id": account_id, "store": store, **found}


def row_of(rt: Any, store: Store, platform_order_id: int) -> Order:
    with rt.session() as s:
        row = s.scalar(
            select(Order).where(Order.store_id == store.id, Order.platform_order_id == str(platform_order_id))
        )
        assert row is not None
        s.expunge(row)
        return row


def now(rt: Any, order_id: int) -> Order:
    with rt.session() as s:
        row = s.get(Order, order_id)
        assert row is not None
        s.expunge(row)
        return row


def checked(page: Any) -> None:
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_find_an_order_by_search_and_approve_it_on_its_page(
    rt: Any, app: Any, page: Any, public_url: str, orders: dict[str, Any]
) -> None:
    staff = person(rt, Role.staff, account_id=orders["account_id"])
    sign_in(page, public_url, staff)
    assert page.locator("h1").inner_text() == MERCHANT
    assert page.locator("svg.chart[role=img]").count() == 4
    checked(page)
    screenshot(page, "dashboard")

    page.goto(f"{public_url}/app/orders")
    rows = page.locator("#results tbody tr")
    assert rows.count() == 3
    clean = orders["clean"]
    page.fill("#q", clean.number)
    page.press("#q", "Enter")
    expect(page.locator("#results tbody tr")).to_have_count(1)  # htmx swapped the results in
    assert page.locator("#results tbody tr a").inner_text() == clean.number
    assert "q=" in page.url  # the search is in the address (htmx pushed it)
    checked(page)
    screenshot(page, "orders")

    held = orders["first"]
    page.goto(f"{public_url}/app/orders?stage=on_hold")
    assert page.locator("#results tbody tr").count() == 2
    page.click(f"text={held.number}")
    page.wait_for_url(f"**/app/orders/{held.id}")
    assert "high_risk_destination" in page.inner_text("main")
    checked(page)
    screenshot(page, "order")
    page.click("text=Edit the shipping address")
    page.fill("#addr-line1", "7 Broad Street")
    with page.expect_navigation():
        page.click("text=Save and verify")
    assert "saved and verified again" in page.inner_text(".flashes")
    timeline = page.inner_text("ol.timeline")
    assert "order.address_edited" in timeline and "order.address_checked" in timeline  # EasyPost's check
    assert now(rt, held.id).data["shipping_address"]["line1"] == "7 Broad Street"
    assert now(rt, held.id).stage == "on_hold"
    page.fill("#decide-reason", "called the customer: a genuine gift")
    with page.expect_navigation():
        page.click("form.decide button.primary")
    assert "approved" in page.inner_text(".flashes")
    after = now(rt, held.id)
    assert after.stage == "ready_to_ship"
    assert (after.review or {})["reviewer"] == f"user:{staff.email}"
    with rt.session() as s:
        actors = set(
            s.scalars(select(TimelineEntry.actor).where(TimelineEntry.subject == f"order:{held.id}"))
        )
    assert f"reviewer:user:{staff.email}" in actors
    assert "order.approved" in page.inner_text("ol.timeline")
    checked(page)


def test_approve_a_held_order_from_the_review_queue_by_keyboard(
    rt: Any, app: Any, page: Any, public_url: str, orders: dict[str, Any]
) -> None:
    staff = person(rt, Role.staff, account_id=orders["account_id"])
    sign_in(page, public_url, staff, then="/app/review")
    items = page.locator(".review-item")
    assert items.count() == 2
    first, second = orders["first"], orders["second"]
    assert items.nth(0).get_attribute("data-order") == str(first.id)  # oldest first
    checked(page)
    screenshot(page, "review")
    page.once("dialog", lambda dialog: dialog.accept("address confirmed with the buyer"))
    page.keyboard.press("j")
    page.keyboard.press("j")  # the second held order
    assert "selected" in (items.nth(1).get_attribute("class") or "")
    with page.expect_navigation():
        page.keyboard.press("a")
    assert "approved" in page.inner_text(".flashes"), page.inner_text(".flashes")
    assert page.locator(".review-item").count() == 1
    assert page.locator(".review-item").get_attribute("data-order") == str(first.id)
    approved = now(rt, second.id)
    assert approved.stage == "ready_to_ship"
    assert (approved.review or {})["reason"] == "address confirmed with the buyer"
    assert now(rt, first.id).stage == "on_hold"
    checked(page)
    page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("o")
    assert page.url.endswith(f"/app/orders/{first.id}")
    checked(page)

"""Stock, exceptions and returns in the console, in a real browser.

- Adjust stock and see it on the channel: a SKU sold on the Shopify simulator's shop and the
  WooCommerce simulator's store (both installed through the real install flows, their
  catalogs imported by the queue); a staff user adjusts it on its console page; the queue's
  push job writes the new level to both storefronts, read back from the simulators.
- Acknowledge an exception: a delivery exception of a shipped order, acknowledged and then
  resolved with a note from the exceptions page.
- A returns page action: a return received and inspected from its page.

Every page visited has no serious or critical axe-core violation and no console error.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import select

from db.models import DeliveryException, Return, Role, StockItem
from sandbox.woocommerce import WooCommerceSimulator
from sync import catalog, stock_push  # noqa: F401  (registers their jobs)
from sync.returns.requests import request_return
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, install_woocommerce, sign_in, stores
from tests.e2e.console import axe_violations, person, screenshot
from tests.e2e.console import sign_in as console_sign_in
from tests.e2e.test_inventory import flush, shopify_level, woo_level
from tests.integration.returns_shops import north_and_south
from tests.integration.test_shipping_api import add_order, canonical, merchant
from tests.integration.test_tracking_desk import add_exception, add_shipment

SKU = "LANTERN-BRASS"
REFUSED = "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["inventory"] = {"settle_s": 0}
    return config


def accessible(page: Any) -> None:
    assert axe_violations(page) == []
    assert page.console_errors == []


def submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_adjust_stock_and_see_it_on_every_channel(
    rt: Any,
    page: Any,
    public_url: str,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    browser: requests.Session,
) -> None:
    shopify.add_product(
        SHOP, "Brass lantern", [{"sku": SKU, "price": "42.00", "available": 10, "grams": 900}]
    )
    woo.add_product("Brass lantern", sku=SKU, price="42.00", stock=10)
    account_id = sign_in(browser, public_url, rt, "Lamplight Goods")
    assert install_shopify(browser, public_url).status_code == 200
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    assert len(stores(rt)) == 2
    flush(shopify, woo, rt)  # the catalog imports seed the ledger and link the SKU on both channels
    assert (shopify_level(shopify, SKU), woo_level(woo, SKU)) == (10, 10)

    staff = person(rt, Role.staff, account_id=account_id)
    console_sign_in(page, public_url, staff, then="/app/stock")
    assert page.url.endswith("/app/stock")
    row = page.locator("table.stock-table tbody tr", has_text=SKU)
    assert "shopify" in row.inner_text() and "woocommerce" in row.inner_text()
    accessible(page)
    screenshot(page, "stock")

    page.fill("#stock-q", "lantern")
    submit(page, "form.filters button[type=submit]")
    submit(page, f"table.stock-table a:has-text('{SKU}')")
    assert page.locator("h1").inner_text() == SKU
    accessible(page)

    # A refused adjustment changes nothing and says why.
    page.fill("#adjust-delta", "lots")
    page.fill("#adjust-note", "miscounted")
    with page.expect_navigation() as refused:
        page.click("form[action$='/adjust'] button[type=submit]")
    assert refused.value.status == 400
    assert "delta must be a whole number" in page.inner_text(".flashes")
    # The browser logs the refusal's status; nothing else may be logged.
    assert page.console_errors == [REFUSED]
    page.console_errors.clear()
    accessible(page)

    page.fill("#adjust-delta", "-3")
    page.fill("#adjust-note", "three broken in the stockroom")
    submit(page, "form[action$='/adjust'] button[type=submit]")
    assert "Adjusted" in page.inner_text(".flashes")
    assert page.inner_text("#sku-on-hand") == "7"
    assert "three broken in the stockroom" in page.inner_text("#movements")
    accessible(page)
    with rt.session() as s:
        item = s.scalar(select(StockItem).where(StockItem.account_id == account_id, StockItem.sku == SKU))
        assert item is not None and item.on_hand == 7

    channels = page.locator("#sku-channels tbody tr")
    assert channels.count() == 2
    assert all("push pending" in text for text in channels.all_inner_texts())

    flush(shopify, woo, rt)  # the push job the adjustment queued
    assert (shopify_level(shopify, SKU), woo_level(woo, SKU)) == (7, 7)
    page.reload()
    for text in channels.all_inner_texts():  # what each channel shows now, as Waybill knows it
        assert "pending" not in text and "differs" not in text
        assert [cell.strip() for cell in text.split("\t")[1:3]] == ["7", "7"]
    accessible(page)


def test_acknowledge_and_resolve_an_exception(rt: Any, page: Any, public_url: str) -> None:
    account_id, store_id, _ = merchant(rt, "Harbour Supply")
    order = add_order(rt, account_id, store_id, "1001", canonical("1001", [("MUG", 1)]), "fulfilled")
    parcel = add_shipment(rt, account_id, store_id, order)
    exception_id = add_exception(
        rt, parcel, "attempted_delivery", reason="Delivery attempted: nobody home", action="Ask the customer"
    )
    staff = person(rt, Role.staff, account_id=account_id)
    console_sign_in(page, public_url, staff, then="/app/exceptions")
    row = page.locator(f"#exception-{exception_id}")
    assert "nobody home" in row.inner_text() and "Ask the customer" in row.inner_text()
    accessible(page)
    screenshot(page, "exceptions")

    submit(page, f"#exception-{exception_id} button:has-text('Acknowledge')")
    assert "acknowledged" in page.inner_text(".flashes")
    assert "acknowledged" in page.locator(f"#exception-{exception_id}").inner_text()
    accessible(page)
    page.fill(f"#resolve-note-{exception_id}", "customer collects at the depot")
    submit(page, f"#exception-{exception_id} button:has-text('Resolve')")
    assert page.locator(f"#exception-{exception_id}").count() == 0  # no longer needs attention
    with rt.session() as s:
        row_db = s.get(DeliveryException, exception_id)
        assert row_db is not None
        assert (row_db.state, row_db.actor, row_db.note) == (
            "resolved",
            f"user:{staff.email}",
            "customer collects at the depot",
        )
    page.click("nav.tabs a:has-text('Resolved')")
    page.wait_for_selector(f"#exception-{exception_id}")
    accessible(page)


def test_receive_and_inspect_a_return_from_its_page(rt: Any, page: Any, public_url: str) -> None:
    shop = north_and_south(rt)
    made = request_return(
        rt,
        account_id=shop["account"],
        order_id=shop["order"],
        asks=[{"line_id": "0", "quantity": 1, "reason": "unwanted"}],
        source="merchant",
        key="browser-1",
        actor="test",
    )
    staff = person(rt, Role.staff, account_id=shop["account"])
    console_sign_in(page, public_url, staff, then="/app/returns")
    accessible(page)
    submit(page, f"a:has-text('Return {made.id}')")
    assert page.locator("h1").inner_text().startswith(f"Return {made.id}")
    accessible(page)
    screenshot(page, "returns")
    page.select_option("form[action$='/receive'] select", "damaged")
    page.fill("#weight-oz", "11")
    submit(page, "form[action$='/receive'] button[type=submit]")
    assert "Received and inspected" in page.inner_text(".flashes")
    assert "damaged" in page.inner_text("table")
    accessible(page)
    with rt.session() as s:
        ret = s.get(Return, made.id)
        assert ret is not None and ret.state == "inspected"

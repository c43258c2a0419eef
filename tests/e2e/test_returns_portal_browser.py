"""The returns portal in a real browser: Playwright drives Debian's ``chromium`` against the
served app, as a customer would, with the stores, EasyPost and the queue of
tests/integration/test_returns_flow.py (the simulators outside, Waybill's own code inside).

A WooCommerce order placed and shipped through the pipeline; the customer opens the portal,
finds the order by its number and postcode, chooses an item, a quantity and a reason,
and asks; the return's page says it is approved, and once the label job has run (at the
EasyPost simulator) it shows the label's link. A wrong e-mail or postcode shows exactly
the page of an unknown order; too many lookups get the 429 page that says to wait.

Without Chromium the tests skip outside CI; under ``CI=true`` they fail.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from db.models import Return, Store
from sandbox.easypost import EasyPostSimulator
from sandbox.woocommerce import WooCommerceSimulator
from tests.conftest import drain
from tests.e2e.test_shipping import NEW_YORK, channels, flush  # noqa: F401  (fixtures)
from tests.integration.test_returns_flow import (  # noqa: F401  (fixtures)
    MUG,
    TEE,
    ShopifySandbox,
    app,
    browser,
    config,
    easypost,
    outbox,
    returns,
    returns_easypost,
    shipped,
    shopify,
    shopify_server,
    waybill_server,
    woo,
    woo_server,
    woo_url,
)


@pytest.fixture
def order(
    rt: Any,
    channels: tuple[Store, Store],  # noqa: F811
    shopify: ShopifySandbox,  # noqa: F811
    woo: WooCommerceSimulator,  # noqa: F811
    easypost: EasyPostSimulator,  # noqa: F811
) -> Any:
    placed = woo.place_order([(MUG, 2), (TEE, 1)], shipping=NEW_YORK, shipping_total="6.00")
    flush(shopify, woo, rt)
    return shipped(rt, easypost, channels[1], placed)


def look_up(page: Any, public_url: str, number: str, contact: str) -> Any:
    page.goto(f"{public_url}/returns")
    page.fill("#number", number)
    page.fill("#contact", contact)
    with page.expect_navigation() as navigation:
        page.click("#lookup button[type=submit]")
    return navigation.value


def test_a_customer_asks_for_a_return_and_gets_the_label(
    rt: Any,
    page: Any,
    public_url: str,
    order: Any,
    easypost: EasyPostSimulator,  # noqa: F811
) -> None:
    answer = look_up(page, public_url, f" {order.number.lstrip('#')} ", "10 001")
    assert answer.status == 200 and "/returns/o/" in page.url
    assert page.inner_text("h1") == f"Return items from order {order.number}"
    # The page's own stylesheet applies under its Content-Security-Policy.
    assert page.evaluate("getComputedStyle(document.querySelector('.card')).maxWidth") == "608px"
    mug = page.locator("fieldset.line", has_text="Enamel mug")
    mug.locator("select[name^=qty]").select_option("1")
    mug.locator("select[name^=reason]").select_option("unwanted")
    with page.expect_navigation():
        page.click("#return-form button[type=submit]")
    assert "/returns/r/" in page.url
    assert page.inner_text("#state") == "Approved. Your return label is on its way."
    assert page.locator("#label").count() == 0
    assert page.locator("#items li").all_inner_texts() == ["1 \u00d7 Enamel mug (Unwanted)"]

    drain(rt)  # the label job buys the return label at the EasyPost simulator
    page.reload()
    assert page.inner_text("#state") == "Approved: your return label is ready."
    with rt.session() as s:
        ret = s.scalars(select(Return)).one()
    assert ret.source == "portal" and ret.label is not None
    assert page.get_attribute("#label a", "href") == ret.label["label_url"]
    assert page.inner_text("#label") == "Print your return label"
    assert [sh for sh in easypost.shipping.shipments.values() if sh.get("is_return")]
    assert page.console_errors == []


def test_a_wrong_e_mail_or_postcode_looks_exactly_like_an_unknown_order(
    rt: Any, page: Any, public_url: str, order: Any
) -> None:
    number = order.number.lstrip("#")
    seen = []
    for typed_number, contact in ((number, "nobody@example.com"), (number, "99999"), ("999999", "10001")):
        answer = look_up(page, public_url, typed_number, contact)
        seen.append((answer.status, page.title(), page.inner_text("main"), answer.body()))
    assert seen[0][0] == 404 and seen[0][1] == "Order not found"
    assert seen[1] == seen[0] and seen[2] == seen[0]  # status, title, text and bytes all the same
    assert number not in seen[0][2]
    with rt.session() as s:
        assert s.scalars(select(Return)).all() == []


def test_too_many_lookups_get_a_page_that_says_to_wait(
    rt: Any, page: Any, public_url: str, order: Any
) -> None:
    rt.settings.returns.portal_rate_limit = "2 per minute"
    number = order.number.lstrip("#")
    assert [look_up(page, public_url, number, f"guess{n}@example.com").status for n in range(2)] == [404, 404]
    limited = look_up(page, public_url, number, "10001")  # even the right postcode now
    assert limited.status == 429
    assert page.inner_text("h1") == "Too many attempts"
    assert "wait a minute" in page.inner_text("#too-many")
    assert int(limited.headers["retry-after"]) > 0

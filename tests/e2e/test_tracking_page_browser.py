"""The public tracking page in a real browser: Playwright drives Debian's ``chromium``
against the served app (tests/e2e/conftest.py), as a customer opening the link would.

Three parcels of one order, written as tracking writes them: delivered, in transit, and
held up by an open exception. The browser shows each one's state in words, its estimate
or delivery time, its scans newest first and the exception's notice; the page's own
stylesheet loads under its Content-Security-Policy (no console error, the styles apply).
A wrong or altered token is a 404 page.

Without Chromium the tests skip outside CI; under ``CI=true`` they fail.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sync.tracking.links import token_for
from tests.integration.test_shipping_api import add_order, canonical, merchant
from tests.integration.test_tracking_desk import T0, add_exception, add_scan, add_shipment

MEMPHIS = {"city": "Memphis", "state": "TN", "country": "US", "postal_code": "38118"}
BROOKLYN = {"city": "Brooklyn", "state": "NY", "country": "US", "postal_code": "11201"}


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["tracking"] = {"merchants": {"harbour": {"name": "Harbour Supply Co."}}}
    return config


@pytest.fixture
def parcels(rt: Any) -> dict[str, int]:
    account, store, _ = merchant(rt, "harbour")
    order = add_order(
        rt, account, store, "7001", canonical("7001", [("MUG-12OZ", 2), ("TEE-BLK-M", 1)]), stage="fulfilled"
    )
    delivered = add_shipment(
        rt,
        account,
        store,
        order,
        package=1,
        delivery_state="delivered",
        est_delivery_at=T0 + timedelta(days=3),
        delivered_at=T0 + timedelta(days=2, hours=6, minutes=12),
    )
    add_scan(rt, delivered, T0 + timedelta(hours=2), "pre_transit", "Shipping label created")
    add_scan(
        rt, delivered, T0 + timedelta(hours=20), "in_transit", "Departed USPS Regional Facility", MEMPHIS
    )
    add_scan(rt, delivered, T0 + timedelta(days=2, hours=1), "out_for_delivery", "Out for Delivery", BROOKLYN)
    add_scan(rt, delivered, T0 + timedelta(days=2, hours=6, minutes=12), "delivered", "Delivered", BROOKLYN)

    moving = add_shipment(
        rt,
        account,
        store,
        order,
        package=2,
        delivery_state="in_transit",
        est_delivery_at=T0 + timedelta(days=4),
    )
    add_scan(rt, moving, T0 + timedelta(hours=3), "pre_transit", "Shipping label created")
    add_scan(rt, moving, T0 + timedelta(hours=26), "in_transit", "Arrived at USPS Regional Facility", MEMPHIS)

    stuck = add_shipment(
        rt, account, store, order, package=3, delivery_state="failure", est_delivery_at=T0 + timedelta(days=2)
    )
    add_scan(rt, stuck, T0 + timedelta(hours=4), "in_transit", "Accepted at USPS Origin Facility", MEMPHIS)
    add_scan(
        rt, stuck, T0 + timedelta(days=2, hours=3), "failure", "Delivery attempt failed: no access", BROOKLYN
    )
    add_exception(rt, stuck, "failure", reason="the carrier reports failure: no access")
    return {"delivered": delivered, "moving": moving, "stuck": stuck}


def open_page(page: Any, url: str, status: int = 200) -> None:
    response = page.goto(url)
    assert response is not None and response.status == status, url
    page.wait_for_selector("main")


def timeline(page: Any) -> list[str]:
    return [" ".join(text.split()) for text in page.locator("#timeline li").all_inner_texts()]


def test_a_delivered_parcel(rt: Any, page: Any, public_url: str, parcels: dict[str, int]) -> None:
    open_page(page, f"{public_url}/t/{token_for(rt, parcels['delivered'])}")
    assert page.title() == "Harbour Supply Co.: order #7001"
    assert page.inner_text(".merchant") == "Harbour Supply Co."
    assert page.inner_text("h1") == "Order #7001"
    assert page.inner_text("#state") == "Delivered"
    assert page.inner_text("#delivered") == "Delivered on 4 Mar 2026, 15:12 UTC"
    assert page.locator("#estimate").count() == 0 and page.locator(".notice").count() == 0
    assert timeline(page) == [
        "4 Mar 2026, 15:12 UTC Delivered Brooklyn, NY, US",
        "4 Mar 2026, 10:00 UTC Out for Delivery Brooklyn, NY, US",
        "3 Mar 2026, 05:00 UTC Departed USPS Regional Facility Memphis, TN, US",
        "2 Mar 2026, 11:00 UTC Shipping label created",
    ]
    assert page.locator("#items li").all_inner_texts() == ["2 \u00d7 Mug-12Oz", "1 \u00d7 Tee-Blk-M"]
    # The page's own stylesheet loaded and applies (the policy allows 'self' styles only).
    assert page.evaluate("getComputedStyle(document.querySelector('.card')).maxWidth") == "608px"
    link = page.get_attribute("text=Start a return", "href")
    assert link == f"/returns?token={token_for(rt, parcels['delivered'])}"  # the returns portal
    assert page.console_errors == []


def test_a_parcel_in_transit(rt: Any, page: Any, public_url: str, parcels: dict[str, int]) -> None:
    open_page(page, f"{public_url}/t/{token_for(rt, parcels['moving'])}")
    assert page.inner_text("#state") == "On its way"
    assert page.inner_text("#estimate") == "Estimated delivery: Friday 6 March 2026"
    assert page.locator(".notice").count() == 0
    assert timeline(page) == [
        "3 Mar 2026, 11:00 UTC Arrived at USPS Regional Facility Memphis, TN, US",
        "2 Mar 2026, 12:00 UTC Shipping label created",
    ]
    assert page.console_errors == []


def test_a_parcel_with_an_open_exception(
    rt: Any, page: Any, public_url: str, parcels: dict[str, int]
) -> None:
    open_page(page, f"{public_url}/t/{token_for(rt, parcels['stuck'])}")
    assert page.inner_text("#state") == "Delivery failed"
    assert page.inner_text("#estimate") == "Estimated delivery: Wednesday 4 March 2026"
    assert (
        page.inner_text("#notice-1") == "The carrier could not deliver this parcel. We are looking into it."
    )
    assert page.locator("#notice-1").is_visible()
    assert timeline(page)[0] == "4 Mar 2026, 12:00 UTC Delivery attempt failed: no access Brooklyn, NY, US"
    assert "no access" not in page.inner_text("#notice-1")  # the merchant's reason is not shown
    assert page.console_errors == []


def test_a_wrong_or_altered_token_is_not_found(
    rt: Any, page: Any, public_url: str, parcels: dict[str, int]
) -> None:
    good = token_for(rt, parcels["moving"])
    payload, signature = good.rsplit(".", 1)
    altered = f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    for token in (altered, "not-a-token", good[:-1]):
        open_page(page, f"{public_url}/t/{token}", status=404)
        assert page.inner_text("h1") == "Page not found"
        assert "#7001" not in page.content() and "Harbour" not in page.content()
    open_page(page, f"{public_url}/t/{good}")  # the untouched token still works
    assert page.inner_text("#state") == "On its way"

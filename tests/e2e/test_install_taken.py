"""A store connected to one account cannot be connected by another, whichever step of the
install the other account had reached when the first one connected it (against the sandbox)."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.woocommerce import WooCommerceSimulator
from tests.e2e.conftest import (
    HTTP_TIMEOUT_S,
    SHOP,
    ShopifySandbox,
    connect_shopify,
    csrf_token,
    install_shopify,
    install_woocommerce,
    sign_in,
    stores,
)
from web.install import TAKEN


def test_a_store_another_account_connected_meanwhile_is_refused_at_every_step(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    browser: requests.Session,
    public_url: str,
) -> None:
    first = sign_in(browser, public_url, rt, "North Wind Trading")
    other = requests.Session()
    sign_in(other, public_url, rt, "South Sea Goods")
    # The other account starts both installs before the first account connects the stores.
    confirm = other.get(
        f"{public_url}/install/woocommerce", params={"store_url": woo_url}, timeout=HTTP_TIMEOUT_S
    )
    assert confirm.status_code == 200, confirm.text
    begin = connect_shopify_unfollowed(other, public_url)
    grant = other.get(begin.headers["Location"], allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    assert grant.status_code == 302, grant.text

    assert install_shopify(browser, public_url).status_code == 200
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    connected = [(s.id, s.account_id, s.domain, s.credentials) for s in stores(rt)]
    assert {(account, domain) for _, account, domain, _ in connected} == {(first, SHOP), (first, woo_url)}

    # Shopify's callback for the other account's install, then a fresh connect: both refused.
    callback = other.get(grant.headers["Location"], allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    assert callback.status_code == 409 and TAKEN.format(name=SHOP) in callback.text
    again = connect_shopify(other, public_url)
    assert again.status_code == 409 and TAKEN.format(name=SHOP) in again.text
    # The WooCommerce confirmation the other account had open, then a fresh confirm page.
    confirmed = other.post(
        f"{public_url}/install/woocommerce",
        data={"store_url": woo_url, "csrf_token": csrf_token(confirm)},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    assert confirmed.status_code == 409 and TAKEN.format(name=woo_url) in confirmed.text
    fresh = other.get(
        f"{public_url}/install/woocommerce", params={"store_url": woo_url}, timeout=HTTP_TIMEOUT_S
    )
    assert fresh.status_code == 409 and TAKEN.format(name=woo_url) in fresh.text

    assert [(s.id, s.account_id, s.domain, s.credentials) for s in stores(rt)] == connected


def connect_shopify_unfollowed(browser: requests.Session, public_url: str) -> Any:
    """The console's connect form posted, stopping at Waybill's redirect to Shopify's grant page."""
    home = browser.get(f"{public_url}/", timeout=HTTP_TIMEOUT_S)
    begin = browser.post(
        f"{public_url}/install/shopify",
        data={"shop": SHOP, "csrf_token": csrf_token(home)},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT_S,
    )
    assert begin.status_code == 302, begin.text
    return begin


def woo_confirm_page(browser: requests.Session, public_url: str, woo_url: str) -> Any:
    url = f"{public_url}/install/woocommerce"
    return browser.get(url, params={"store_url": woo_url}, timeout=HTTP_TIMEOUT_S)

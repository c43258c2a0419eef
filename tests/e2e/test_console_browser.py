"""The console's sign-in, store connection and sign-out in a real browser.

Playwright drives Debian's ``chromium`` (never a downloaded browser) against the served
app and the WooCommerce simulator. What a browser adds over ``requests``: it submits the
forms as rendered (hidden CSRF fields, the ``Origin`` header it sets itself), follows the
store's redirects, and keeps cookies by the browser's own rules. A page on another origin
that posts to Waybill is refused by the browser's own ``Origin`` header.

Without Chromium the tests skip outside CI; under ``CI=true`` they fail (``.ci/run``
installs it), so CI never passes without running them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db.models import ConsoleSession, Role, StoreState
from sandbox.woocommerce import WooCommerceSimulator
from tests.e2e.conftest import new_token, stores
from tests.e2e.console import person, sign_in


def submit(page: Any, selector: str) -> None:
    """Click a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def live_sessions(rt: Any) -> int:
    with rt.session() as s:
        return len(list(s.scalars(select(ConsoleSession.id).where(ConsoleSession.ended_at.is_(None)))))


def test_a_merchant_signs_in_connects_a_store_and_signs_out(
    rt: Any, page: Any, public_url: str, woo: WooCommerceSimulator, woo_url: str
) -> None:
    owner = person(rt, Role.owner, name="Harbour Supply")

    page.goto(f"{public_url}/")
    assert page.url.startswith(f"{public_url}/login")
    sign_in(page, public_url, owner)
    page.wait_for_selector("text=Harbour Supply")
    assert page.url.rstrip("/") == public_url

    # Connect the WooCommerce store from the console's Stores page: a confirm page names it first.
    page.click("header.top nav a:has-text('Stores')")
    page.wait_for_selector("h1:has-text('Stores')")
    page.fill("input[name=store_url]", woo_url)
    submit(page, "button:has-text('Connect WooCommerce')")
    page.wait_for_selector(f"text=Connect {woo_url}")
    assert stores(rt) == []
    submit(page, f"button:has-text('Connect {woo_url}')")
    page.wait_for_selector("text=Installed")

    [store] = stores(rt)
    assert (store.account_id, store.domain, store.state) == (owner.account_id, woo_url, StoreState.active)
    assert woo.calls["wc-auth.authorize"] == 1

    submit(page, "text=Back to your stores")
    page.wait_for_selector(f"#store-{store.id} >> text={woo_url}")
    assert live_sessions(rt) == 1
    submit(page, "button:has-text('Sign out')")
    page.wait_for_selector("input#email")
    assert live_sessions(rt) == 0
    page.goto(f"{public_url}/")
    assert page.url.startswith(f"{public_url}/login")


def test_a_form_on_another_site_cannot_sign_the_browser_in(rt: Any, page: Any, public_url: str) -> None:
    """Login CSRF: an attacker's page submits the attacker's token to Waybill's login."""
    token, _ = new_token(rt, "Attacker Ltd")
    page.set_content(
        f'<form id="f" method="post" action="{public_url}/login">'
        f'<input name="token" value="{token}"></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    page.wait_for_load_state("load")
    page.wait_for_url(f"{public_url}/login")
    assert "Attacker Ltd" not in page.content()
    assert live_sessions(rt) == 0

    page.goto(f"{public_url}/")
    assert page.url.startswith(f"{public_url}/login")

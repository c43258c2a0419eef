"""The console's Stores, Failed jobs and Settings pages in a real browser.

The sandbox button is the path ``make run`` with ``WAYBILL_SANDBOX=1`` takes: no Shopify
app configured, so the button starts a Shopify simulator in this process, points the app
at it and connects a new shop through the real OAuth install; a WooCommerce store is
started the same way and connected through the confirm page and the key exchange. Jobs
run when the test drains the queue; the pages poll (htmx) until they see the outcome.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from db.models import DeadLetter, Platform, Role, Store, StoreState, TimelineEntry
from tests.conftest import drain
from tests.e2e.console import axe_violations, person, screenshot, sign_in


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    # As `WAYBILL_SANDBOX=1 make run`: sandbox mode, no Shopify app configured.
    config["shopify"] = {}
    return config


def submit(page: Any, selector: str) -> Any:
    with page.expect_navigation() as nav:
        page.click(selector)
    return nav.value


def account_stores(rt: Any, account_id: int) -> list[Store]:
    with rt.session() as s:
        return list(s.scalars(select(Store).where(Store.account_id == account_id).order_by(Store.id)))


def test_connect_sandbox_stores_from_the_button_then_reconcile_and_import(
    rt: Any, app: Any, page: Any, public_url: str
) -> None:
    owner = person(rt, Role.owner, name="Sandbox Traders")
    sign_in(page, public_url, owner, then="/app/stores")
    page.wait_for_selector("h1:has-text('Stores')")
    assert page.locator("text=No store is connected yet").count() == 1

    # Shopify: the button starts the simulator, the browser goes through the OAuth install.
    submit(page, "button:has-text('Connect a sandbox Shopify shop')")
    page.wait_for_selector("text=Installed")
    [shop] = account_stores(rt, owner.account_id)
    assert (shop.platform, shop.state) == (Platform.shopify, StoreState.active)
    assert shop.domain.endswith(".myshopify.com") and rt.settings.shopify.base_url

    # WooCommerce: a store started for it, the confirm page, then the key exchange.
    submit(page, "text=Back to your stores")
    submit(page, "button:has-text('Connect a sandbox WooCommerce store')")
    page.wait_for_selector("h1:has-text('Connect a WooCommerce store')")
    submit(page, "button:has-text('Connect http')")
    page.wait_for_selector("text=Installed")
    shop, woo = account_stores(rt, owner.account_id)
    assert (woo.platform, woo.state) == (Platform.woocommerce, StoreState.active)
    drain(rt)  # the catalog imports and webhook pings the installs started

    submit(page, "text=Back to your stores")
    card = f"#store-{shop.id}"
    page.wait_for_selector(f"{card} >> text=registered")
    assert axe_violations(page) == []

    # Reconcile now: queued, run, and the card (polling) shows when it finished.
    page.click(f"{card} button:has-text('Reconcile now')")
    page.wait_for_selector(f"{card} >> text=reconciling")
    drain(rt)
    page.wait_for_selector(f"{card} .last-reconcile time")
    page.wait_for_selector(f"{card} >> text=reconciling", state="detached")
    with rt.session() as s:
        asked = s.scalars(select(TimelineEntry).where(TimelineEntry.action == "reconcile.requested")).one()
        assert asked.subject == f"store:{shop.id}" and owner.email in asked.actor

    # Catalog import: the progress bar starts at 0 % and reaches 100 % as the job runs.
    page.click(f"{card} button:has-text('Import catalog')")
    page.wait_for_selector(f"{card} .progress-percent:text-is('0 %')")
    drain(rt)
    page.wait_for_selector(f"{card} .progress-percent:text-is('100 %')")  # exact: "100 %" holds "0 %"
    page.wait_for_selector(f"{card} progress[value='100']")
    page.wait_for_selector(f"{card} .catalog-state >> text=SKU(s) linked")
    assert axe_violations(page) == []
    screenshot(page, "stores")
    assert page.console_errors == []


def test_a_failed_job_is_retried_from_the_page(rt: Any, app: Any, page: Any, public_url: str) -> None:
    owner = person(rt, Role.owner)
    other = person(rt, Role.owner)
    with rt.session() as s:
        for account, error in (
            (owner.account_id, "Permanent: the store refused"),
            (other.account_id, "theirs"),
        ):
            s.add(
                DeadLetter(
                    account_id=account,
                    job_id=f"noop-{account}",
                    name="noop",
                    queue="intake",
                    error=error,
                    attempts=6,
                )
            )
    staff = person(rt, Role.staff, account_id=owner.account_id)
    sign_in(page, public_url, staff, then="/app/jobs")
    page.wait_for_selector("text=Permanent: the store refused")
    assert page.locator("text=theirs").count() == 0
    assert axe_violations(page) == []
    screenshot(page, "jobs")
    submit(page, "button:has-text('Retry')")
    page.wait_for_selector("text=queued again")
    drain(rt)
    with rt.session() as s:
        states = {d.account_id: d.state for d in s.scalars(select(DeadLetter))}
    assert states == {owner.account_id: "retried", other.account_id: "dead"}
    page.reload()
    page.wait_for_selector("text=No failed jobs")
    assert page.console_errors == []


def test_settings_refuse_a_bad_value_then_save_a_good_one(
    rt: Any, app: Any, page: Any, public_url: str
) -> None:
    owner = person(rt, Role.owner)
    sign_in(page, public_url, owner, then="/app/settings")
    page.wait_for_selector("h1:has-text('Settings')")
    assert axe_violations(page) == []

    page.fill("#approve_below", "lots")
    page.fill("#w-velocity", "45")
    answer = submit(page, "button:has-text('Save risk weights')")
    assert answer.status == 400
    page.wait_for_selector("#err-approve_below")
    assert page.get_attribute("#approve_below", "aria-invalid") == "true"
    assert page.input_value("#w-velocity") == "45"  # what was typed stays to be corrected
    assert axe_violations(page) == []
    with rt.session() as s:
        assert s.scalars(select(TimelineEntry).where(TimelineEntry.subject == "settings")).all() == []
    # The refused form's page answers 400, which Chromium reports as a failed load; nothing else.
    assert [e for e in page.console_errors if "status of 400" not in e] == []
    page.console_errors.clear()

    page.fill("#approve_below", "15")
    answer = submit(page, "button:has-text('Save risk weights')")
    assert answer.status == 200
    page.wait_for_selector("text=Risk weights saved")
    page.wait_for_selector(".settings-audit >> text=approve_below")
    assert page.input_value("#approve_below") == "15" and page.input_value("#w-velocity") == "45"
    assert axe_violations(page) == []
    screenshot(page, "settings")
    assert page.console_errors == []


def test_a_packer_cannot_open_settings(rt: Any, app: Any, page: Any, public_url: str) -> None:
    packer = person(rt, Role.packer)
    sign_in(page, public_url, packer)
    answer = page.goto(f"{public_url}/app/settings")
    assert answer is not None and answer.status == 403
    assert page.locator("header.top nav a:has-text('Settings')").count() == 0

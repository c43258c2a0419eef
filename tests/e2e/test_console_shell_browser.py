"""The console's shell in a real browser: the login page, signing in as a user, the
layout's navigation by role, and axe-core's accessibility check on both pages."""

from __future__ import annotations

from typing import Any

from db.models import Role
from tests.e2e.console import axe_violations, person, screenshot, sign_in


def test_sign_in_shows_the_navigation_of_the_role(rt: Any, app: Any, page: Any, public_url: str) -> None:
    page.goto(f"{public_url}/")
    assert "/login" in page.url
    assert axe_violations(page) == []
    screenshot(page, "login")
    packer = person(rt, Role.packer)
    sign_in(page, public_url, packer)
    assert page.url.rstrip("/") == public_url
    labels = page.locator("header.top nav a").all_inner_texts()
    assert "Dashboard" in labels and "Settings" not in labels
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_a_wrong_password_is_refused(rt: Any, app: Any, page: Any, public_url: str) -> None:
    owner = person(rt, Role.owner)
    page.goto(f"{public_url}/login")
    page.fill("#email", owner.email)
    page.fill("#password", "not the password")
    with page.expect_navigation() as nav:
        page.click("form.stack button[type=submit]")
    assert nav.value.status == 401
    assert "do not match" in page.inner_text("[role=alert]")

"""Users in a real browser: an owner invites a packer, who joins from the e-mailed link and
cannot open settings or users; a password reset end to end; and the Shopify embedded sign-in
with an App Bridge session token (a real one works and is framed only by the shop's admin,
a forged one is refused). axe-core checks every page visited."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import jwt
import requests

from db.models import Role, User
from tests.e2e.conftest import APP_KEY, APP_SECRET, SHOP, install_shopify, stores
from tests.e2e.console import PASSWORD, Person, axe_violations, person, screenshot, sign_in

LINK = re.compile(r"https?://\S+/(?:invite|password/reset)/wbl_[A-Za-z0-9_-]+")
NEW_PASSWORD = "a brand new passphrase"


def mails(config: dict[str, Any]) -> list[dict[str, Any]]:
    folder = Path(config["var_dir"]) / "outbox"
    return [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.exists() else []


def link_to(config: dict[str, Any], address: str) -> str:
    (mail,) = [m for m in mails(config) if m["to"] == address]
    found = LINK.search(mail["body"])
    assert found is not None, mail["body"]
    return found.group(0)


def nav_labels(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("header.top nav a").all_inner_texts()]


def console_errors_but(page: Any, *statuses: int) -> list[str]:
    """The page's console errors, less the one Chromium logs for each page this test opened
    knowing it would be refused (``statuses``, in order)."""
    left = list(page.console_errors)
    for status in statuses:
        wanted = [e for e in left if f"status of {status} " in e and e.startswith("Failed to load resource")]
        assert wanted, (status, left)
        left.remove(wanted[0])
    return left


def sign_out(page: Any) -> None:
    with page.expect_navigation():
        page.click("header.top form.who button")


def test_an_invited_packer_joins_and_cannot_open_settings(
    rt: Any, app: Any, page: Any, public_url: str, config: dict[str, Any]
) -> None:
    owner = person(rt, Role.owner)
    sign_in(page, public_url, owner, then="/app/users")
    assert page.url == f"{public_url}/app/users"
    assert "Users" in nav_labels(page)
    assert axe_violations(page) == []
    screenshot(page, "users")

    page.fill("#invite-email", "pat.packer@example.com")
    page.select_option("#invite-role", "packer")
    with page.expect_navigation():
        page.click("text=Send invitation")
    assert "Invitation sent to pat.packer@example.com" in page.inner_text(".flashes")
    assert "pat.packer@example.com" in page.inner_text("table.invites")
    assert axe_violations(page) == []
    link = link_to(config, "pat.packer@example.com")
    assert link.startswith(f"{public_url}/invite/")
    sign_out(page)

    page.goto(link)
    assert "as packer" in page.inner_text("main")
    assert axe_violations(page) == []
    page.fill("#name", "Pat Packer")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    with page.expect_navigation():
        page.click("text=Join and sign in")
    assert page.url.rstrip("/") == public_url
    labels = nav_labels(page)
    assert "Pick & pack" in labels or "Dashboard" in labels
    assert "Settings" not in labels and "Users" not in labels
    assert axe_violations(page) == []

    assert page.console_errors == []
    # A packer never gets the owner's pages.
    settings = page.goto(f"{public_url}/app/settings")
    assert settings is not None and settings.status == 403
    assert "Not for your role" in page.inner_text("h1")
    users = page.goto(f"{public_url}/app/users")
    assert users is not None and users.status == 403
    assert axe_violations(page) == []
    # The link worked once.
    again = page.goto(link)
    assert again is not None and again.status == 410
    assert axe_violations(page) == []

    # And the packer signs in again with the password they chose.
    page.goto(f"{public_url}/")
    sign_out(page)
    sign_in(page, public_url, Person(owner.account_id, "pat.packer@example.com", PASSWORD, Role.packer))
    assert page.url.rstrip("/") == public_url
    assert console_errors_but(page, 403, 403, 410) == [], page.console_errors


def test_a_forgotten_password_is_reset_from_the_emailed_link(
    rt: Any, app: Any, page: Any, public_url: str, config: dict[str, Any]
) -> None:
    staff = person(rt, Role.staff)
    page.goto(f"{public_url}/login")
    with page.expect_navigation():
        page.click("text=Forgot your password?")
    assert axe_violations(page) == []
    page.fill("#email", staff.email)
    with page.expect_navigation():
        page.click("text=Send the link")
    assert "If that e-mail belongs to a Waybill user" in page.inner_text("main")
    assert axe_violations(page) == []

    page.goto(link_to(config, staff.email))
    assert staff.email in page.inner_text("main")
    assert axe_violations(page) == []
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    with page.expect_navigation():
        page.click("text=Set the password and sign in")
    assert page.url.rstrip("/") == public_url
    assert "Your password is changed" in page.inner_text(".flashes")
    sign_out(page)

    page.goto(f"{public_url}/login")
    page.fill("#email", staff.email)
    page.fill("#password", staff.password)
    with page.expect_navigation() as old:
        page.click("form.stack button[type=submit]")
    assert old.value.status == 401  # the old password no longer works
    sign_in(page, public_url, Person(staff.account_id, staff.email, NEW_PASSWORD, Role.staff))
    assert page.url.rstrip("/") == public_url
    assert console_errors_but(page, 401) == []


def session_token(secret: str, shop: str = SHOP, user: str = "7001") -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": APP_KEY,
        "sub": user,
        "exp": now + 60,
        "nbf": now - 1,
        "iat": now - 1,
        "jti": f"jti-{now}",
        "sid": "session-e2e",
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def test_an_embedded_session_token_signs_in_and_a_forged_one_is_refused(
    rt: Any, app: Any, page: Any, public_url: str, shopify: Any, browser: requests.Session
) -> None:
    installed = install_shopify(browser, public_url)
    assert installed.status_code == 200, installed.text
    (store,) = stores(rt)
    assert store.domain == SHOP

    entry = f"{public_url}/app/embedded?shop={SHOP}&host=aG9zdA&id_token={session_token(APP_SECRET)}"
    # A valid token opened as a top-level page (a link someone sent) signs nobody in.
    linked = page.goto(entry)
    assert linked is not None and linked.status == 403 and "Shopify admin" in page.inner_text("main")
    assert page.goto(f"{public_url}/") is not None and "/login" in page.url
    assert "frame-ancestors 'none'" in linked.headers["content-security-policy"]
    assert axe_violations(page) == []

    # App Bridge hands the app its session token and the app posts it (Authorization header:
    # no other site can send that). A forged token is refused and signs nobody in.
    post = """async ([token]) => {
        const headers = {Authorization: "Bearer " + token};
        const answer = await fetch("/app/session-token", {method: "POST", headers});
        return [answer.status, await answer.json()];
    }"""
    status, body = page.evaluate(post, [session_token("not-the-secret")])
    assert status == 401 and "not valid" in body["error"]
    home = page.goto(f"{public_url}/")
    assert home is not None and "/login" in page.url  # nobody was signed in

    status, body = page.evaluate(post, [session_token(APP_SECRET)])
    assert status == 200 and body["shop"] == SHOP
    landed = page.goto(f"{public_url}{body['next']}")
    ancestors = f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    assert landed is not None and landed.status == 200 and page.url.rstrip("/") == public_url
    assert ancestors in landed.headers["content-security-policy"]  # the embedded session's pages too
    assert "Dashboard" in nav_labels(page) and "Users" not in nav_labels(page)  # a new Shopify user is staff
    assert axe_violations(page) == []
    with rt.session() as s:
        user = s.query(User).filter(User.shopify_user_id == "7001").one()
        assert (user.account_id, user.role) == (store.account_id, Role.staff)
    assert console_errors_but(page, 403, 401) == []

"""Shared ground of the console's browser tests (Playwright driving Debian's ``chromium``).

A test module imports what it needs; its tests name the fixtures ``page`` and ``chromium``
(``tests/e2e/chromium.py``, offered to every test under ``tests/e2e/`` by its conftest)::

    from tests.e2e.console import Person, axe_violations, person, screenshot, sign_in

- ``person(rt, role)``: a new account's user of ``role`` with a known password
  (:class:`Person`: account id, e-mail, password); ``person(rt, role, account_id=...)`` adds
  one to an existing account.
- ``sign_in(page, public_url, who)``: signs in through the login form, returns the page.
- ``axe_violations(page)``: axe-core (vendored from npm, ``tests/e2e/vendor/axe.min.js``)
  run in the page; the serious and critical violations, as ``"rule: target"`` strings.
- ``screenshot(page, name)``: when ``WAYBILL_SCREENSHOTS`` names a folder (``make
  screenshots`` sets ``docs/screenshots``), saves the page there as ``NAME.png``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from db.accounts import get_or_create_account
from db.models import Account, Role
from db.users import create_user

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PASSWORD = "correct horse battery"  # a test user's


@dataclass(frozen=True)
class Person:
    account_id: int
    email: str
    password: str
    role: Role


def person(rt: Any, role: Role | str = Role.owner, account_id: int | None = None, name: str = "") -> Person:
    tag = secrets.token_hex(4)
    with rt.session() as s:
        account = (
            s.get(Account, account_id)
            if account_id is not None
            else get_or_create_account(s, name or f"Merchant {tag}")
        )
        assert account is not None
        user = create_user(s, account, f"{Role(role).value}-{tag}@example.com", PASSWORD, role)
        return Person(account.id, str(user.email), PASSWORD, Role(role))


def sign_in(page: Any, public_url: str, who: Person, then: str = "/") -> Any:
    page.goto(f"{public_url}/login?next={then}")
    page.fill("#email", who.email)
    page.fill("#password", who.password)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
    return page


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of ``impacts`` on the page as it is now."""
    page.evaluate(AXE.read_text())  # evaluated by the browser's debugger: the page's CSP does not apply
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {', '.join(str(n['target']) for n in v['nodes'][:3])}"
        for v in result
        if v.get("impact") in impacts
    ]


def screenshot(page: Any, name: str) -> Path | None:
    folder = os.environ.get("WAYBILL_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(path), full_page=False)
    return path

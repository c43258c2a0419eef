"""Every console page in Chromium, with a merchant's data in it: axe-core finds no serious or
critical violation, the browser's console stays quiet, a packer is refused every page above
their role, and the main pages hold at a tablet's width.

The pages are not listed here: they come from the app's URL map (``bench.console_seed.pages``:
every GET view wrapped by ``web.console.page``, the login page, the API's docs page if there
is one), with their parameters filled from a small seeded account (200 orders, the same
generator ``bench.console`` measures 10,000 with). A page added later is swept without
touching this file; a route whose parameters the seeded data cannot fill fails the sweep
by name. Failures are collected and asserted at the end, so one run lists every bad page.

With ``WAYBILL_SCREENSHOTS`` set (``make screenshots``), the main pages are saved there.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.console_seed import Page, World, pages, seed
from db.models import Account, Role
from db.users import create_user, may
from tests.e2e.console import PASSWORD, Person, axe_violations, person, screenshot, sign_in
from web.console import NAV

TABLET = {"width": 820, "height": 1180}
LAPTOP = {"width": 1280, "height": 800}
# The pages checked at a tablet's width too (those that exist): the packing bench's and the day's.
TABLET_PAGES = ("console.home", "console.orders", "console.pick", "console.review", "console.labels")
MAIN = {endpoint for endpoint, _label, _role in NAV}


@pytest.fixture
def world(rt: Any) -> World:
    return seed(rt.engine, orders=200, other_orders=40, days=30)


def owner_of(rt: Any, world: World) -> Person:
    """The seeded account's owner, under a fixed address (the screenshots show it)."""
    with rt.session() as s:
        account = s.get(Account, world.main.account_id)
        create_user(s, account, "owner@outfitters.example.com", PASSWORD, Role.owner)
        s.commit()
    return Person(world.main.account_id, "owner@outfitters.example.com", PASSWORD, Role.owner)


def screenshot_name(p: Page) -> str | None:
    """A main page's screenshot name: the navigation's pages and the pages of one thing."""
    area = p.endpoint.removeprefix("console.")
    if p.endpoint == "console.home":
        return "dashboard"
    if p.endpoint in MAIN:
        return area
    if "[" in p.name and p.endpoint.startswith("console."):
        return area.replace("_", "-")
    return None


def check(page: Any, public_url: str, p: Page, problems: list[str]) -> bool:
    """Opens ``p``; records what is wrong with it. True when it is an HTML page that opened."""
    page.console_errors.clear()
    answer = page.request.get(public_url + p.url, max_redirects=0)
    kind = answer.headers.get("content-type", "")
    if answer.status != 200:
        problems.append(f"{p.url}: answered {answer.status}")
        return False
    if not kind.startswith("text/html"):
        return False  # a PDF, an image, JSON: its status is what a browser sweep can judge
    page.goto(public_url + p.url)
    for violation in axe_violations(page):
        problems.append(f"{p.url}: {violation}")
    if page.console_errors:
        problems.append(f"{p.url}: console errors {page.console_errors}")
    return True


def test_every_console_page_passes_axe_without_console_errors(
    rt: Any, app: Any, page: Any, public_url: str, world: World
) -> None:
    found = pages(app, world.main)
    problems = [f"{route}: parameters not filled from the seeded data" for route in found.unfilled]
    login = [p for p in found.found if p.endpoint == "console.login"]
    opened = [p.endpoint for p in login if check(page, public_url, p, problems)]  # signed out
    sign_in(page, public_url, owner_of(rt, world))
    for p in found.found:
        if p in login or p.kind != "page":  # a fragment is checked inside the page it is swapped into
            continue
        page.set_viewport_size(LAPTOP)
        if check(page, public_url, p, problems):
            opened.append(p.endpoint)
            name = screenshot_name(p)
            if name:
                screenshot(page, name)
    assert "console.home" in opened and "console.login" in opened
    assert problems == [], "\n" + "\n".join(problems)


def test_main_pages_at_a_tablets_width(rt: Any, app: Any, page: Any, public_url: str, world: World) -> None:
    found = [p for p in pages(app, world.main).found if p.endpoint in TABLET_PAGES]
    owner = person(rt, Role.owner, account_id=world.main.account_id)
    sign_in(page, public_url, owner)
    page.set_viewport_size(TABLET)
    problems: list[str] = []
    for p in found:
        if check(page, public_url, p, problems):
            # Wide tables scroll inside their own box; the page itself never scrolls sideways.
            wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if wide > 0:
                problems.append(f"{p.url}: {wide} px wider than a tablet's {TABLET['width']} px")
    assert [p.endpoint for p in found][:1] == ["console.home"]
    assert problems == [], "\n" + "\n".join(problems)


def test_a_packer_is_refused_every_page_above_their_role(
    rt: Any, app: Any, page: Any, public_url: str, world: World
) -> None:
    found = pages(app, world.main)
    problems = [f"{route}: parameters not filled from the seeded data" for route in found.unfilled]
    packer = person(rt, Role.packer, account_id=world.main.account_id)
    sign_in(page, public_url, packer)
    allowed = []
    for p in found.found:
        if p.endpoint == "console.login":
            continue  # the sign-in page, signed in, may send the user on
        if p.least_role is not None and not may(Role.packer, p.least_role):
            status = page.request.get(public_url + p.url, max_redirects=0).status
            if status != 403:
                problems.append(f"{p.url} (least role {p.least_role}): a packer got {status}, not 403")
        elif p.kind == "page" and check(page, public_url, p, problems):
            allowed.append(p.endpoint)
    assert "console.home" in allowed
    assert problems == [], "\n" + "\n".join(problems)

"""Waybill served over HTTP beside the Shopify and WooCommerce simulators, for end-to-end tests.

Only the outside world is simulated: the app, its database and its queue are the real
ones of the backend under test (``config``/``app``/``rt`` and ``drain`` from
``tests/conftest.py``). Servers live for the whole session (stopping one costs half a
second); every test gets reset simulators and its own app and database.

Fixtures:

- ``config`` (extends the root one): sandbox mode, ``public_url`` of the served app, and
  the Shopify app's key, secret and simulator URL. Tests may still edit it before ``app``.
- ``app`` (extends the root one): the test's app, also mounted on the HTTP server that
  the simulators and ``browser`` reach at ``public_url``.
- ``public_url``: where the served app answers (``http://127.0.0.1:<port>``).
- ``shopify``: a :class:`ShopifySandbox` with shops :data:`SHOP` and :data:`OTHER_SHOP`
  (the :data:`CATALOG` SKUs in stock), its ``fake_clock`` set to the wall clock (Waybill
  checks OAuth timestamps against real time) and privacy topics sent to Waybill. Webhooks
  go out when the test calls ``shopify.deliver_due()``; retries wait for the fake clock.
- ``waybill_server``, ``shopify_server``, ``woo_server`` (session): the running servers.
- ``woo``: a WooCommerce store with the :data:`CATALOG` products, approving key requests;
  ``woo_url`` is its home URL. Webhooks go out on ``woo.deliver_webhooks()``.
- ``browser``: a ``requests.Session`` playing the merchant's browser (follows redirects
  across Waybill and the simulators, keeps Waybill's session cookie).
- ``chromium`` (session) and ``page``: the real browser of the browser tests
  (``tests/e2e/chromium.py``), launched once per test process when a test first asks for it.

Helpers: :func:`install_shopify`, :func:`connect_shopify`, :func:`install_woocommerce`,
:func:`sign_in`, :func:`csrf_token`, :func:`signed_in`, :func:`stores`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from db.accounts import get_or_create_account, issue_token
from db.models import Store
from sandbox.easypost import EasyPostSimulator
from sandbox.harness import FakeClock, RunningServer, serve
from sandbox.shopify import ShopifySimulator
from sandbox.woocommerce import WooCommerceSimulator
from tests.e2e.chromium import chromium_fixture, page_fixture  # noqa: F401  (fixtures)

APP_KEY, APP_SECRET = "e2e-app-key", "e2e-app-secret"
SHOP = "north-wind.myshopify.com"
OTHER_SHOP = "south-wind.myshopify.com"
CATALOG = [("TEE-BLK-M", "Black tee", "19.00"), ("MUG-12OZ", "Enamel mug", "14.50")]
HTTP_TIMEOUT_S = 15


class Mount:
    """A WSGI app forwarding to the current test's Flask app (503 between tests)."""

    def __init__(self) -> None:
        self.target: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.target is None:
            return Response("no Waybill app mounted", status=503)(environ, start_response)
        return self.target(environ, start_response)


class ShopifySandbox(ShopifySimulator):
    """The Shopify simulator with one hook for install tests.

    ``on_token_granted`` (if set) runs after each successful OAuth code exchange, before
    the answer leaves: e.g. to take the shop's API down between the grant and the
    webhook registration that follows it in the same install.
    """

    on_token_granted: Callable[[], None] | None = None

    @property
    def fake_clock(self) -> FakeClock:
        """The simulator's clock (a fake one here): ``advance`` moves it, negative seconds too."""
        assert isinstance(self.clock, FakeClock)
        return self.clock

    def dispatch(self, request: Request) -> Response:
        response = super().dispatch(request)
        granted = request.path == "/admin/oauth/access_token" and response.status_code == 200
        if granted and self.on_token_granted is not None:
            self.on_token_granted()
        return response


@pytest.fixture(scope="session")
def waybill_server() -> Iterator[RunningServer]:
    server = serve(Mount())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shopify_server() -> Iterator[RunningServer]:
    sim = ShopifySandbox(api_key=APP_KEY, api_secret=APP_SECRET, clock=FakeClock(start=time.time()))
    server = serve(sim)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def woo_server() -> Iterator[RunningServer]:
    sim = WooCommerceSimulator(allow_http_callback=True, allow_unsafe_delivery_urls=True)
    server = serve(sim)
    sim.bind(server.url)
    yield server
    server.stop()


EP_KEY, EP_WEBHOOK_SECRET = "EZTK-e2e-key", "e2e-easypost-secret"


@pytest.fixture(scope="session")
def easypost_server() -> Iterator[RunningServer]:
    sim = EasyPostSimulator(api_keys=[EP_KEY], webhook_secret=EP_WEBHOOK_SECRET)
    server = serve(sim)
    yield server
    server.stop()


@pytest.fixture
def easypost(easypost_server: RunningServer) -> EasyPostSimulator:
    """The EasyPost simulator, emptied and without faults, for this test."""
    sim: EasyPostSimulator = easypost_server.app
    sim.reset()
    return sim


@pytest.fixture
def public_url(waybill_server: RunningServer) -> str:
    return waybill_server.url


@pytest.fixture
def config(
    config: dict[str, Any], public_url: str, shopify_server: RunningServer, easypost_server: RunningServer
) -> dict[str, Any]:
    config.update(
        sandbox=True,
        public_url=public_url,
        shopify={"api_key": APP_KEY, "api_secret": APP_SECRET, "base_url": shopify_server.url},
        easypost={"api_key": EP_KEY, "webhook_secret": EP_WEBHOOK_SECRET, "base_url": easypost_server.url},
    )
    return config


@pytest.fixture
def app(app: Flask, waybill_server: RunningServer) -> Iterator[Flask]:
    mount: Mount = waybill_server.app
    mount.target = app
    yield app
    mount.target = None


@pytest.fixture
def shopify(shopify_server: RunningServer, public_url: str) -> ShopifySandbox:
    sim: ShopifySandbox = shopify_server.app
    sim.reset()
    sim.on_token_granted = None
    sim.fake_clock.advance(time.time() - sim.fake_clock.now())
    sim.set_compliance_uri(f"{public_url}/webhooks/shopify")
    for domain in (SHOP, OTHER_SHOP):
        sim.add_shop(domain)
        for sku, title, price in CATALOG:
            sim.add_product(domain, title, [{"sku": sku, "price": price, "available": 50, "grams": 200}])
    return sim


@pytest.fixture
def woo(woo_server: RunningServer) -> WooCommerceSimulator:
    sim: WooCommerceSimulator = woo_server.app
    sim.reset()
    sim.approve_key_requests = True
    for sku, title, price in CATALOG:
        sim.add_product(title, sku=sku, price=price, stock=50)
    return sim


@pytest.fixture
def woo_url(woo_server: RunningServer) -> str:
    return woo_server.url


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: requests.Response) -> str:
    """The CSRF token of the (first) form on ``page``."""
    found = CSRF_FIELD.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def signed_in(browser: requests.Session, public_url: str) -> bool:
    home = browser.get(f"{public_url}/", allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    return home.status_code == 200


def install_shopify(browser: requests.Session, public_url: str, shop: str = SHOP) -> requests.Response:
    """The merchant installs the app on ``shop``; returns Waybill's last page.

    A signed-in browser connects it from the console (:func:`connect_shopify`), so it joins
    the signed-in account; otherwise it is Shopify's own install (the shop's own account).
    """
    if signed_in(browser, public_url):
        return connect_shopify(browser, public_url, shop)
    return browser.get(f"{public_url}/install/shopify", params={"shop": shop}, timeout=HTTP_TIMEOUT_S)


def connect_shopify(browser: requests.Session, public_url: str, shop: str = SHOP) -> requests.Response:
    """A signed-in merchant connects ``shop`` from the console's Stores page (POST with the
    form's CSRF token)."""
    stores_page = browser.get(f"{public_url}/app/stores", timeout=HTTP_TIMEOUT_S)
    return browser.post(
        f"{public_url}/install/shopify",
        data={"shop": shop, "csrf_token": csrf_token(stores_page)},
        timeout=HTTP_TIMEOUT_S,
    )


def install_woocommerce(browser: requests.Session, public_url: str, store_url: str) -> requests.Response:
    """The signed-in merchant opens the install link, confirms, and the store approves the key
    request; returns Waybill's last page."""
    confirm = browser.get(
        f"{public_url}/install/woocommerce", params={"store_url": store_url}, timeout=HTTP_TIMEOUT_S
    )
    assert confirm.status_code == 200, confirm.text
    return browser.post(
        f"{public_url}/install/woocommerce",
        data={"store_url": store_url, "csrf_token": csrf_token(confirm)},
        timeout=HTTP_TIMEOUT_S,
    )


def new_token(rt: Any, account: str) -> tuple[str, int]:
    """A fresh API token for ``account`` (created if new) and the account's id."""
    with rt.session() as s:
        row = get_or_create_account(s, account)
        token, account_id = issue_token(s, row), row.id
    return token, int(account_id)


def sign_in(browser: requests.Session, public_url: str, rt: Any, account: str) -> int:
    """Sign ``browser`` in to the console as ``account`` (created if new); returns the account id."""
    token, account_id = new_token(rt, account)
    login = browser.get(f"{public_url}/login", timeout=HTTP_TIMEOUT_S)
    page = browser.post(
        f"{public_url}/login", data={"token": token, "csrf_token": csrf_token(login)}, timeout=HTTP_TIMEOUT_S
    )
    assert page.status_code == 200, page.text
    return account_id


def stores(rt: Any) -> list[Store]:
    """Every store row, detached, in id order."""
    with rt.session() as s:
        rows = list(s.scalars(select(Store).order_by(Store.id)))
        s.expunge_all()
        return rows


def stock_under_test(config: dict[str, Any]) -> dict[str, Any]:
    """Settings of the stock ledger's tests: a level report is settled at once (the tests
    deliver a sale's order before its level report, so nothing needs to wait); the risk
    rules approve every order (racing orders share addresses and would be held for
    velocity); orders stay open, so their units stay reserved."""
    config["inventory"] = {"settle_s": 0}
    config["risk"] = {"verify_addresses": False, "approve_below": 1000, "reject_at": 1001}
    config["shipping"] = {"auto_ship": False}
    return config

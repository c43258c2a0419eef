"""A storefront per implementation, with ``responses`` active: the two real connectors and the
test shop (a third platform defined in the suite). Every contract test runs on each.

``mocked`` (the active ``responses``) comes from ``tests/contract/conftest.py``; a contract test
module serves each platform's answers through its own per-platform fakes.
"""

from __future__ import annotations

import pytest
import responses

import tests.contract.storefront.testshop.shop  # noqa: F401  # registers the test shop
from connectors.storefront import StoreAccess, Storefront, storefront_for

IMPLEMENTATIONS = ("shopify", "woocommerce", "testshop")
STORE_ID = 7
PUBLIC_URL = "https://waybill.example"
WEBHOOK_SECRET = "whsec-contract"
DOMAINS = {
    "shopify": "acme.myshopify.com",
    "woocommerce": "https://shop.example",
    "testshop": "testshop.example",
}
CREDENTIALS = {
    "shopify": {"access_token": "shpat_contract"},
    "woocommerce": {"consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40},
    "testshop": {"token": "contract"},
}


@pytest.fixture(params=IMPLEMENTATIONS)
def platform(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def access(platform: str) -> StoreAccess:
    return StoreAccess(
        store_id=STORE_ID,
        platform=platform,
        domain=DOMAINS[platform],
        credentials=CREDENTIALS[platform],
        webhook_secret=WEBHOOK_SECRET,
        public_url=PUBLIC_URL,
        api_version="2026-10",
    )


@pytest.fixture
def storefront(access: StoreAccess, mocked: responses.RequestsMock) -> Storefront:
    """The implementation under test, its HTTP answered by ``mocked`` only."""
    return storefront_for(access)

"""The test shop's storefront: the three concerns' mixins, registered as platform ``testshop``."""

from __future__ import annotations

from connectors.storefront import register
from connectors.storefront.access import StoreAccess
from tests.contract.storefront.testshop.orders import TestShopOrders
from tests.contract.storefront.testshop.stock import TestShopStock
from tests.contract.storefront.testshop.writes import TestShopWrites

PLATFORM = "testshop"


class TestShopStorefront(TestShopOrders, TestShopStock, TestShopWrites):
    __test__ = False  # not a test class

    platform = PLATFORM

    def __init__(self, access: StoreAccess) -> None:
        self.access = access


register(PLATFORM, TestShopStorefront)

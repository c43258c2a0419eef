"""A trashed WooCommerce order: the store sends ``order.deleted`` with ``{"id": N}`` only."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from sqlalchemy import select

from db.models import Order
from sandbox.woocommerce import WooCommerceSimulator
from tests.conftest import drain_until_quiet
from tests.e2e.conftest import install_woocommerce, sign_in


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["risk"] = {"verify_addresses": False, "approve_below": 1000, "reject_at": 1001}
    config["shipping"] = {"auto_ship": False}  # the order stays open until it is trashed
    return config


def flush(woo: WooCommerceSimulator, rt: Any) -> None:
    drain_until_quiet(rt, woo.deliver_webhooks)


def test_a_trashed_order_is_cancelled_from_its_id_alone(
    rt: Any, woo: WooCommerceSimulator, woo_url: str, browser: requests.Session, public_url: str
) -> None:
    woo.add_product("Mug", sku="MUG", price="12.00", stock=5)
    sign_in(browser, public_url, rt, "North Wind Trading")
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    flush(woo, rt)
    order_id = woo.place_order([("MUG", 1)])
    flush(woo, rt)
    woo.delete_order(order_id)
    deliveries = [d for d in woo.deliver_webhooks() if d.topic == "order.deleted"]
    assert [json.loads(d.body) for d in deliveries] == [{"id": order_id}]
    assert deliveries[0].status == 200
    flush(woo, rt)
    with rt.session() as s:
        row = s.scalar(select(Order).where(Order.platform_order_id == str(order_id)))
        assert row is not None
        assert (row.stage, row.cancelled_at is not None) == ("cancelled", True)

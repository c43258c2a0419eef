"""`make demo` in small: the demo's order generator against the real app and the simulators.

The same properties as the five-minute check (``python -m sandbox.demo --check``) on a
smaller sample: most orders reach ``fulfilled``, the few held are held for clear and
different reasons, no stock level goes below zero (the merchant restocks), and the
parcels' trackers advance.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sandbox import demo
from sandbox.demo_orders import DemoOrders, run_stream
from tests.conftest import BACKEND
from tests.procs import free_port

pytestmark = pytest.mark.skipif(
    BACKEND != "embedded", reason="the demo runs Waybill in embedded mode whatever the backend: run it once"
)

ORDERS = 30


def test_a_demo_sample_mostly_ships_holds_a_few_for_clear_reasons_and_never_oversells(tmp_path: Path) -> None:
    # Little opening stock, so that restocking is part of the sample; a fast courier clock.
    running, token = demo.start(free_port(), tmp_path / "demo", tracking_speed=100_000, opening_stock=18)
    try:
        orders = DemoOrders(running.shopify, running.woo, demo.SHOP, running.public, token)
        run_stream(orders, every_s=0.3, count=ORDERS, stop=threading.Event())
        found = demo.settle(running, orders, timeout_s=60)
        held = demo.held_orders(running, orders)
    finally:
        running.close()

    assert found["orders_placed"] == ORDERS and found["in_flight"] == 0, found
    assert found["fulfilled_ratio"] >= demo.MIN_FULFILLED_RATIO, (found, held)
    assert found["negative_stock_skus"] == 0 and found["lowest_stock"] >= 0, found
    assert found["restocks"] >= 1, found
    assert demo.passed(found)
    # One order in ten is built to be held, each for its own reason.
    assert found["held"] == len(held) == ORDERS // 10, held
    reasons = " | ".join(held)
    assert "City does not match ZIP code (suggested: city SAN FRANCISCO" in reasons
    assert "first order, expedited shipping (Express), high value" in reasons
    assert "House number is missing" in reasons
    # The parcels' trackers moved on the EasyPost simulator's clock.
    assert found["parcels_delivered"] >= 1, found
    line = demo.line(found)
    assert line.startswith(f"orders_placed={ORDERS} fulfilled=") and "negative_stock_skus=0" in line

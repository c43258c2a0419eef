"""Tracking end to end: label -> carrier Events -> each status change on the storefront once.

One merchant with a Shopify shop and a WooCommerce store. An order travels through the real
receivers, inbox, queue and database to its label (as in test_shipping.py); then the
EasyPost simulator's tracker advances on its fake clock (Waybill's ``rt.now`` is that clock)
and sends signed ``tracker.updated`` Events to ``/webhooks/easypost``. What the storefront
simulators hold afterwards (Shopify fulfilment events, WooCommerce tracking meta and
customer notes) is read back from them; replayed Events write nothing twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import select

from connectors.easypost.webhooks import sign
from db.models import InboxEvent, Store, TrackingScan
from sandbox.easypost import EasyPostSimulator
from sandbox.harness import FakeClock, RunningServer, serve
from sandbox.woocommerce import WooCommerceSimulator
from tests.conftest import drain
from tests.e2e.conftest import EP_KEY, EP_WEBHOOK_SECRET, SHOP, ShopifySandbox
from tests.e2e.test_shipping import (  # noqa: F401  (channels is a fixture)
    NEW_YORK,
    channels,
    flush,
    fulfilments,
    order_for,
    shipments,
    timeline,
    woo_notes_with,
)

HOUR = 3600.0
TRACKING_META = "_wc_shipment_tracking_items"


@pytest.fixture(scope="module")
def tracking_server() -> Iterator[RunningServer]:
    """An EasyPost simulator of this module's own, on a fake clock that only the test moves."""
    sim = EasyPostSimulator(
        api_keys=[EP_KEY], webhook_secret=EP_WEBHOOK_SECRET, clock=FakeClock(start=time.time())
    )
    server = serve(sim)
    yield server
    server.stop()


@pytest.fixture
def config(config: dict[str, Any], tracking_server: RunningServer) -> dict[str, Any]:
    config["risk"] = {"verify_addresses": False, "approve_below": 1000, "reject_at": 1001}
    config["inventory"] = {"settle_s": 0}
    config["easypost"] = {**config["easypost"], "base_url": tracking_server.url}
    return config


@pytest.fixture
def easypost(tracking_server: RunningServer, public_url: str) -> EasyPostSimulator:
    sim: EasyPostSimulator = tracking_server.app
    sim.reset()
    sim.events.create_webhook("test", {"url": f"{public_url}/webhooks/easypost"})
    return sim


@pytest.fixture
def sim_now(rt: Any, easypost: EasyPostSimulator) -> None:
    """Waybill's tracking clock is the simulator's."""
    rt.now = lambda: datetime.fromtimestamp(easypost.clock.now(), UTC)


def travel(rt: Any, easypost: EasyPostSimulator, tracker_id: str, step_h: float = 6) -> None:
    """Move the carrier's clock, deliver its Events, and run what they cause, step by step,
    until the tracker is delivered (two weeks at most: its span is the rate's delivery days)."""
    for _ in range(int(14 * 24 / step_h)):
        easypost.advance(step_h * HOUR)
        drain(rt)
        if easypost.trackers[tracker_id]["status"] == "delivered":
            return
    raise AssertionError("the parcel was not delivered within two weeks")


def replay(public_url: str, easypost: EasyPostSimulator) -> int:
    """Every tracker Event the carrier sent, sent again as new Events (new ids), newest first."""
    sent = 0
    for event in reversed(easypost.events_sent("tracker.updated")):
        body = json.dumps({**event, "id": f"{event['id']}r"}).encode()
        answer = requests.post(
            f"{public_url}/webhooks/easypost",
            data=body,
            headers={"X-Hmac-Signature": sign(EP_WEBHOOK_SECRET, body), "Content-Type": "application/json"},
            timeout=15,
        )
        assert answer.status_code == 200
        sent += 1
    return sent


def scan_count(rt: Any, shipment_id: int) -> int:
    with rt.session() as s:
        return len(list(s.scalars(select(TrackingScan.id).where(TrackingScan.shipment_id == shipment_id))))


def tracker_events(rt: Any) -> list[str]:
    with rt.session() as s:
        return [
            str(e.state) for e in s.scalars(select(InboxEvent).where(InboxEvent.topic == "tracker.updated"))
        ]


def woo_item(woo: WooCommerceSimulator, order_id: int) -> dict[str, Any]:
    order = woo.store.orders[order_id]
    (meta,) = [m for m in order.get("meta_data") or [] if m.get("key") == TRACKING_META]
    value = meta["value"]
    (item,) = value.values() if isinstance(value, dict) else value
    return dict(item)


@pytest.mark.usefixtures("sim_now")
def test_a_shopify_parcel_gets_each_carrier_event_once_and_its_order_ends_delivered(
    rt: Any,
    channels: tuple[Store, Store],  # noqa: F811
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    easypost: EasyPostSimulator,
    public_url: str,
) -> None:
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 1)], email="ada@example.com")
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    assert sh.tracker_id and sh.carrier and sh.shipped_at is not None
    travel(rt, easypost, str(sh.tracker_id))
    flush(shopify, woo, rt)
    (shipped,) = fulfilments(shopify, placed.id)
    statuses = [e["status"] for e in shipped.events]
    assert statuses == ["CARRIER_PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]
    assert order_for(rt, channels[0], placed.id).stage == "delivered"
    scans = scan_count(rt, sh.id)
    carrier_scans = easypost.trackers[str(sh.tracker_id)]["tracking_details"]
    assert scans == len(carrier_scans) >= 5 and set(tracker_events(rt)) == {"done"}
    assert replay(public_url, easypost) == len(easypost.events_sent("tracker.updated"))
    drain(rt)
    flush(shopify, woo, rt)
    (shipped,) = fulfilments(shopify, placed.id)
    assert [e["status"] for e in shipped.events] == statuses  # nothing written twice
    assert scan_count(rt, sh.id) == scans
    assert order_for(rt, channels[0], placed.id).stage == "delivered"


@pytest.mark.usefixtures("sim_now")
def test_a_woocommerce_parcel_gets_its_tracking_meta_and_customer_notes_once(
    rt: Any,
    channels: tuple[Store, Store],  # noqa: F811
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    easypost: EasyPostSimulator,
    public_url: str,
) -> None:
    placed = woo.place_order([("TEE-BLK-M", 1)], shipping=NEW_YORK)
    flush(shopify, woo, rt)
    order = order_for(rt, channels[1], placed)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    travel(rt, easypost, str(sh.tracker_id))
    flush(shopify, woo, rt)
    item = woo_item(woo, placed)
    assert item["waybill_status"] == "delivered"
    told = woo_notes_with(woo, placed, "[waybill event:")
    assert [n["customer_note"] for n in told] == [True, True]
    assert sorted(n["note"].split(" is ")[1].split(" ")[0] for n in told) == ["delivered", "out"]
    assert order_for(rt, channels[1], placed).stage == "delivered"
    replay(public_url, easypost)
    drain(rt)
    flush(shopify, woo, rt)
    assert woo_item(woo, placed) == item
    assert len(woo_notes_with(woo, placed, "[waybill event:")) == 2
    assert scan_count(rt, sh.id) == len(easypost.trackers[str(sh.tracker_id)]["tracking_details"])

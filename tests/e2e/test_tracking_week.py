"""Issue 18 acceptance: a simulated week of tracking across both storefronts.

Orders on a Shopify shop and a WooCommerce store travel through the real receivers, inbox,
queue and database to their labels. Then the EasyPost simulator's clock runs a week in
refresh-interval steps: its trackers follow realistic per-carrier scan gaps, 10 % stall,
5 % fail, 3 % go back to the sender; 5 % of its tracker Events are dropped and the rest are
duplicated or reordered. After each step Waybill's scheduled tracking refresh runs (its
clock, ``rt.now``, is the simulator's).

What must hold, read back from the storefront simulators and Waybill's database:

- every status change reaches its storefront exactly once: the Shopify fulfilment events
  are, per parcel, exactly the carrier's status changes (worked out here from the
  carrier's own scans, independently of Waybill's mapping), each once; each WooCommerce
  order has exactly one customer note per milestone the merchant chose;
- every stall is flagged within one refresh interval of crossing its threshold (the
  threshold in force, as the exception records it);
- no parcel that moves normally is flagged (0 false exceptions);
- every order whose parcels were all delivered ends ``delivered`` (and WooCommerce's
  order takes the merchant's ``delivered`` status).

``make tracking-week`` runs it with 500 shipments (``WAYBILL_TRACKING_WEEK_SHIPMENTS``);
``make test`` runs the same week with 24, half on each storefront (the simulator's draws are
seeded by tracking code: on the embedded backend 18 move normally, 3 stall, 2 fail and 1 goes
back to the sender; the test fails if none stalls).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import select

from db.models import DeadLetter, DeliveryException, Order, Shipment
from sandbox.easypost import EasyPostSimulator
from sandbox.easypost.simulator import EasyPostFaults
from sandbox.harness import FakeClock, RunningServer, serve
from sandbox.woocommerce import WooCommerceSimulator
from sync.tracking.refresh import refresh_tracking, route_key, thresholds_for
from tests.conftest import drain
from tests.e2e.conftest import (
    EP_KEY,
    EP_WEBHOOK_SECRET,
    SHOP,
    ShopifySandbox,
    install_shopify,
    install_woocommerce,
    sign_in,
    stores,
)
from tests.e2e.test_pipeline_acceptance import shopify_in_real_time

SHIPMENTS = int(os.environ.get("WAYBILL_TRACKING_WEEK_SHIPMENTS", "24"))
STEP_S = 900.0  # the refresh interval (config.yaml schedules: refresh_tracking)
WEEK_S = 7 * 86400.0
BOOK = "BOOK-PB"
MIX = {"stalled": {"share": 0.10, "stall_after": 2}, "failure": 0.05, "return_to_sender": 0.03}
EXCEPTIONAL = {"stalled", "failure", "return_to_sender"}
ATTEMPT_DETAILS = {"attempted_delivery", "delivery_attempted", "notice_left"}
DELAY_DETAILS = {"delayed", "weather_delay", "transit_exception", "held", "awaiting_information"}
# Shopify's FulfillmentEventStatus for a carrier scan's status, when its detail says nothing more.
BY_STATUS = {
    "out_for_delivery": "OUT_FOR_DELIVERY",
    "delivered": "DELIVERED",
    "available_for_pickup": "READY_FOR_PICKUP",
    "failure": "FAILURE",
    "return_to_sender": "FAILURE",
}
CUSTOMER_MILESTONES = {"OUT_FOR_DELIVERY", "DELIVERED", "FAILURE", "ATTEMPTED_DELIVERY", "READY_FOR_PICKUP"}


@pytest.fixture(scope="module")
def week_server() -> Iterator[RunningServer]:
    """An EasyPost simulator of this module's own, on a fake clock that only the test moves."""
    sim = EasyPostSimulator(
        api_keys=[EP_KEY], webhook_secret=EP_WEBHOOK_SECRET, clock=FakeClock(start=time.time()), seed=18
    )
    server = serve(sim)
    yield server
    server.stop()


@pytest.fixture
def config(config: dict[str, Any], week_server: RunningServer) -> dict[str, Any]:
    config["risk"] = {"verify_addresses": False, "approve_below": 1000, "reject_at": 1001}
    config["inventory"] = {"settle_s": 0}
    config["easypost"] = {**config["easypost"], "base_url": week_server.url}
    config["tracking"] = {"order_status": {"delivered": "delivered"}}
    return config


@pytest.fixture
def easypost(week_server: RunningServer, public_url: str) -> EasyPostSimulator:
    sim: EasyPostSimulator = week_server.app
    sim.reset()
    sim.events.create_webhook("week", {"url": f"{public_url}/webhooks/easypost"})
    return sim


def place(shopify: ShopifySandbox, woo: WooCommerceSimulator, n: int) -> tuple[str, int]:
    if n % 2 == 0:
        address = {
            "name": f"Buyer {n}",
            "address1": f"{100 + n} Market Street",
            "city": "San Francisco",
            "provinceCode": "CA",
            "zip": "94107",
            "countryCode": "US",
        }
        return "shopify", int(
            shopify.place_order(SHOP, [(BOOK, 1)], email=f"s{n}@example.com", shipping_address=address).id
        )
    ship = {"first_name": "Buyer", "last_name": str(n), "address_1": f"{200 + n} Fifth Avenue"}
    ship |= {"city": "New York", "state": "NY", "postcode": "10001", "country": "US"}
    billing = {"first_name": "Buyer", "last_name": str(n), "email": f"w{n}@example.com", "country": "US"}
    return "woocommerce", int(woo.place_order([(BOOK, 1)], billing=billing, shipping=ship))


def flush(shopify: ShopifySandbox, woo: WooCommerceSimulator, rt: Any) -> None:
    for _ in range(20):
        sent = len(shopify.deliver_due()) + len(woo.deliver_webhooks())
        drain(rt, timeout_s=300)
        if not sent:
            return
    raise AssertionError("the storefronts kept sending webhooks")


def expected_changes(scans: list[dict[str, Any]]) -> list[tuple[str, datetime]]:
    """What the storefront must show, worked out from the carrier's scans: a delay or an
    attempted delivery by the scan's detail, the first scan in transit as the pickup, the
    others by status; consecutive equal statuses are one change."""
    out: list[tuple[str, datetime]] = []
    picked_up = False
    for scan in sorted(scans, key=lambda d: d["datetime"]):
        status, detail = scan["status"], scan["status_detail"]
        mapped: str | None
        if status in ("in_transit", "out_for_delivery") and detail in ATTEMPT_DETAILS:
            mapped = "ATTEMPTED_DELIVERY"
        elif status in ("in_transit", "out_for_delivery") and detail in DELAY_DETAILS:
            mapped = "DELAYED"
        elif status == "in_transit":
            mapped = "IN_TRANSIT" if picked_up else "CARRIER_PICKED_UP"
            picked_up = True
        else:
            mapped = BY_STATUS.get(status)
        if mapped is not None and (not out or out[-1][0] != mapped):
            out.append((mapped, when(scan["datetime"])))
    return out


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


Limits = list[tuple[datetime, dict[tuple[str, str, str], float]]]


def week(rt: Any, easypost: EasyPostSimulator, keys: set[tuple[str, str, str]]) -> Limits:
    """The carrier's clock moves one refresh interval at a time; Waybill hears what the
    carrier sends, then runs its scheduled refresh, as the scheduler would. Returns, per
    run, the stall threshold of each route as the run found it (thresholds are learned as
    the week goes on, so "flagged within one interval of crossing" is judged per run)."""
    limits: Limits = []
    for _ in range(int(WEEK_S / STEP_S)):
        easypost.advance(STEP_S)
        drain(rt, timeout_s=300)
        limits.append((rt.now(), {k: t.stall_s for k, t in thresholds_for(rt, keys).items()}))
        refresh_tracking(rt)
        drain(rt, timeout_s=300)
    return limits


def first_crossing(limits: Limits, key: tuple[str, str, str], last_scan: datetime) -> datetime | None:
    """The first refresh run at which the parcel had been quiet longer than its threshold."""
    return next((at for at, by_key in limits if (at - last_scan).total_seconds() > by_key[key]), None)


def test_a_simulated_week_of_tracking_reaches_every_storefront_once_and_flags_every_stall_in_time(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    easypost: EasyPostSimulator,
    browser: requests.Session,
    public_url: str,
) -> None:
    rt.now = lambda: datetime.fromtimestamp(easypost.clock.now(), UTC)
    shopify.add_product(
        SHOP, "Paperback", [{"sku": BOOK, "price": "12.00", "available": 10_000, "grams": 300}]
    )
    woo.add_product("Paperback", sku=BOOK, price="12.00", stock=10_000, weight="0.3")
    woo.register_order_status("wc-delivered", "Delivered")
    sign_in(browser, public_url, rt, "North Wind Trading")
    assert install_shopify(browser, public_url).status_code == 200
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    shop_store, woo_store = stores(rt)
    flush(shopify, woo, rt)

    easypost.script_mix(MIX)
    easypost.faults = EasyPostFaults(
        seed=18, tracker_drop_rate=0.05, tracker_duplicate_rate=0.5, tracker_reorder_window_s=STEP_S
    )
    with shopify_in_real_time(shopify):  # its cost buckets refill as Shopify's do
        placed = [place(shopify, woo, n) for n in range(SHIPMENTS)]
        flush(shopify, woo, rt)
        with rt.session() as s:
            keys = {route_key(sh.carrier, sh.service, sh.route_class) for sh in s.scalars(select(Shipment))}
        limits = week(rt, easypost, keys)
    with rt.session() as s:
        orders = {(o.store_id, o.platform_order_id): o for o in s.scalars(select(Order))}
        parcels = {sh.order_id: sh for sh in s.scalars(select(Shipment))}
        s.expunge_all()
    store_of = {"shopify": shop_store, "woocommerce": woo_store}
    assert len(parcels) == SHIPMENTS and all(sh.state == "fulfilled" for sh in parcels.values())

    report = easypost.tracking_report()
    trackers = {r["tracking_code"]: r for r in report["trackers"].values()}
    totals = report["totals"]
    scenarios = Counter(r["scenario"] for r in trackers.values())
    assert totals["dropped"] > 0 and totals["duplicated"] > 0, totals
    assert scenarios["stalled"] >= 1 and scenarios["normal"] > SHIPMENTS // 2, scenarios

    with rt.session() as s:
        exceptions = list(s.scalars(select(DeliveryException)))
        dead = list(s.scalars(select(DeadLetter.name)))
        final_orders = {o.id: o for o in s.scalars(select(Order))}
        shipments_now = {sh.id: sh for sh in s.scalars(select(Shipment))}
        s.expunge_all()
    assert dead == []
    by_shipment: dict[int, list[DeliveryException]] = {}
    for exc in exceptions:
        by_shipment.setdefault(exc.shipment_id, []).append(exc)

    problems: list[str] = []
    notes_expected = notes_found = events_expected = events_found = 0
    for platform, platform_id in placed:
        order = orders[(store_of[platform].id, str(platform_id))]
        sh = shipments_now[parcels[order.id].id]
        tracker = trackers[sh.tracking_code or ""]
        changes = expected_changes(tracker["scans"])
        mine = by_shipment.get(sh.id, [])
        # 0 false exceptions: a parcel that moved normally is never flagged.
        if tracker["scenario"] not in EXCEPTIONAL and mine:
            flagged = [(e.kind, e.data, e.opened_at.isoformat()) for e in mine]
            scans = [(d["datetime"], d["status"]) for d in tracker["scans"]]
            problems.append(f"{sh.tracking_code} ({tracker['scenario']}) flagged: {flagged}; scans {scans}")
        stalls = [e for e in mine if e.kind == "stalled"]
        if tracker["scenario"] == "stalled" and len(stalls) != 1:  # it never moves again: once
            problems.append(f"{sh.tracking_code} stalled, flagged {len(stalls)} times")
        if tracker["scenario"] != "stalled" and stalls:
            problems.append(f"{sh.tracking_code} ({tracker['scenario']}) called stalled")
        for exc in stalls:
            key = route_key(sh.carrier, sh.service, sh.route_class)
            crossed = first_crossing(limits, key, when(exc.data["last_scan_at"]))
            late_by = (exc.opened_at - crossed).total_seconds() if crossed is not None else None
            if late_by is None or not 0 <= late_by <= STEP_S:
                problems.append(f"{sh.tracking_code} stall flagged at {exc.opened_at}, crossed at {crossed}")
        if tracker["scenario"] in ("failure", "return_to_sender") and not any(
            e.kind in ("failure", "return_to_sender") for e in mine
        ):
            problems.append(f"{sh.tracking_code} {tracker['scenario']} not flagged: {[e.kind for e in mine]}")
        if platform == "shopify":
            written = [
                (e["status"], when(e["happenedAt"]))
                for e in shopify.fulfillment_events(SHOP, int((sh.fulfillment_ref or "0").rsplit("/", 1)[-1]))
            ]
            events_expected += len(changes)
            events_found += len(written)
            if written != changes:
                problems.append(f"{sh.tracking_code}: Shopify events {written} != carrier changes {changes}")
        else:
            notes = [
                n
                for n in woo.store.notes.values()
                if n["order_id"] == platform_id and n["customer_note"] and "[waybill event:" in n["note"]
            ]
            wanted = [c for c in changes if c[0] in CUSTOMER_MILESTONES]
            notes_expected += len(wanted)
            notes_found += len(notes)
            if len(notes) != len(wanted):
                problems.append(
                    f"{sh.tracking_code}: {len(notes)} customer notes for {len(wanted)} milestones"
                )
        delivered = tracker["status"] == "delivered"
        stage = final_orders[order.id].stage
        if delivered and stage != "delivered":
            problems.append(f"order {order.id} delivered by the carrier but {stage}")
        if not delivered and stage == "delivered":
            problems.append(f"order {order.id} delivered in Waybill, {tracker['status']} at the carrier")
        if delivered and platform == "woocommerce" and woo.store.orders[platform_id]["status"] != "delivered":
            problems.append(f"WooCommerce order {platform_id} is {woo.store.orders[platform_id]['status']}")
    assert problems == [], "\n".join(problems[:40])
    assert events_found == events_expected and notes_found == notes_expected
    print(
        f"\ntracking week: shipments={SHIPMENTS} scenarios={dict(scenarios)} events={totals} "
        f"shopify_events={events_found} woo_customer_notes={notes_found} exceptions="
        f"{dict(Counter(e.kind for e in exceptions))}"
    )

"""CLI actions in embedded mode take effect before the command returns.

In embedded mode the service's queue lives inside the service's process; a CLI command
runs its follow-up jobs itself (``web/cli_work.py``). The storefront and EasyPost are the
simulators; the app, its database and its queue are real. Production mode (Redis) keeps
enqueueing for the workers, so these tests run on the embedded backend only.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from db.models import Effect, Order, Shipment, Store
from sandbox.easypost import EasyPostSimulator
from settings import load_settings
from sync.runtime import build_runtime
from sync.schedule import Scheduler
from tests.conftest import BACKEND, drain
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, sign_in, stores

pytestmark = pytest.mark.skipif(
    BACKEND != "embedded",
    reason="embedded mode only: in production the CLI enqueues to Redis for the workers",
)

MERCHANT = "North Wind Trading"
RISKY = "gift.buyer@throwaway.example"
NEW_YORK = {
    "name": "Grace Hopper",
    "address1": "350 Fifth Avenue",
    "city": "New York",
    "provinceCode": "NY",
    "countryCode": "US",
    "zip": "10001",
    "phone": "+12125550100",
}


@pytest.fixture
def config(config: dict[str, Any], public_url: str) -> dict[str, Any]:
    # high value (25) + throwaway e-mail (25) = 50: held for review; labels bought at once when approved
    config["risk"] = {"disposable_domains": ["throwaway.example"]}
    config["inventory"] = {"settle_s": 0}
    config["port"] = int(urlsplit(public_url).port or 0)  # the "service" a CLI asks is the served app
    return config


@pytest.fixture
def shop_store(
    rt: Any, shopify: ShopifySandbox, easypost: EasyPostSimulator, browser: requests.Session, public_url: str
) -> Store:
    sign_in(browser, public_url, rt, MERCHANT)
    assert install_shopify(browser, public_url).status_code == 200
    flush(shopify, rt)
    (store,) = stores(rt)
    return store


def flush(shopify: ShopifySandbox, rt: Any) -> None:
    for _ in range(10):
        sent = len(shopify.deliver_due())
        drain(rt)
        if not sent:
            return
    raise AssertionError("the storefront kept sending webhooks")


def held_order(rt: Any, shopify: ShopifySandbox, store: Store) -> tuple[int, int]:
    """A risky order (30 tees, 570.00, from a throwaway mailbox) held for review: (our id, Shopify's)."""
    placed = shopify.place_order(SHOP, [("TEE-BLK-M", 30)], email=RISKY, shipping_address=NEW_YORK)
    flush(shopify, rt)
    with rt.session() as s:
        row = s.scalar(
            select(Order).where(Order.store_id == store.id, Order.platform_order_id == str(placed.id))
        )
        assert row is not None and row.stage == "on_hold", row and (row.stage, row.hold_reason)
        return row.id, placed.id


def fulfilments(shopify: ShopifySandbox, shopify_order_id: int) -> list[Any]:
    return [f for f in shopify.shops[SHOP].fulfillments.values() if f.order_id == shopify_order_id]


def parcels(rt: Any, order_id: int) -> list[Shipment]:
    with rt.session() as s:
        rows = list(s.scalars(select(Shipment).where(Shipment.order_id == order_id)))
        s.expunge_all()
        return rows


def effect_keys(rt: Any, order_id: int, shipment_ids: list[int]) -> Counter[str]:
    wanted = {f"label:{order_id}:", f"shipment:{order_id}:"} | {f"fulfil:{i}" for i in shipment_ids}
    with rt.session() as s:
        keys = list(s.scalars(select(Effect.key)))
    return Counter(k for k in keys if any(k.startswith(w) for w in wanted))


def approve(app: Any, order_id: int) -> Any:
    args = ["orders", "approve", str(order_id), "--reviewer", "sam", "--reason", "called the customer"]
    return app.test_cli_runner().invoke(args=args)


def test_approving_from_the_cli_ships_the_order_before_the_command_returns(
    app: Any, rt: Any, shop_store: Store, shopify: ShopifySandbox, easypost: EasyPostSimulator
) -> None:
    order_id, shopify_id = held_order(rt, shopify, shop_store)

    done = approve(app, order_id)

    # Nothing drained the queue since: what is done, the command did.
    assert done.exit_code == 0, done.output
    assert f"approved order {order_id}; ran its next steps here: " in done.output
    assert "fulfilment written back to the storefront" in done.output
    assert done.output.rstrip().endswith(f"order {order_id} is now fulfilled")
    rows = parcels(rt, order_id)  # 30 tees need two boxes
    assert f"label bought for {len(rows)} parcel(s)" in done.output
    assert {p.state for p in rows} == {"fulfilled"} and all(p.tracking_code for p in rows)
    assert [len(easypost.labels_for(p.easypost_id or "")) for p in rows] == [1] * len(rows)
    numbers = sorted(t["number"] for f in fulfilments(shopify, shopify_id) for t in f.tracking)
    assert numbers == sorted(str(p.tracking_code) for p in rows)
    assert not rt.queue.depth()["shipping"]


def test_the_cli_and_the_services_sweeper_doing_the_same_work_act_once(
    app: Any,
    rt: Any,
    config: dict[str, Any],
    shop_store: Store,
    shopify: ShopifySandbox,
    easypost: EasyPostSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_id, shopify_id = held_order(rt, shopify, shop_store)
    # The running service: its own runtime on the same database, worker threads and a sweeper
    # that takes up every order ready to ship at once (normally after a minute).
    monkeypatch.setattr("sync.shipping.recovery.STALLED_AFTER", timedelta(0))
    service = build_runtime(load_settings({**config, "schedules": {"resume_shipping": 0.05}}))
    service.queue.start(threads=2)
    sweeper = Scheduler(service)
    threading.Thread(target=sweeper.run, kwargs={"poll_s": 0.02}, daemon=True).start()
    try:
        done = approve(app, order_id)
        # The sweeper keeps sweeping after the command: two more sweeps, each queued once the
        # one before has been run (here or on the service's threads).
        for later in (1e9, 2e9):
            sweeper.tick(now=later)
            service.queue.run_until_idle(30)
    finally:
        sweeper.stop()
        service.close()

    assert done.exit_code == 0, done.output
    assert "ran its next steps here" in done.output
    rows = parcels(rt, order_id)
    assert rows and {p.state for p in rows} == {"fulfilled"}
    assert easypost.label_purchases == len(rows)
    assert len(fulfilments(shopify, shopify_id)) == len(rows)
    keys = effect_keys(rt, order_id, [p.id for p in rows])
    assert keys and set(keys.values()) == {1}, keys


def test_jobs_ping_answers_with_no_service_running(app: Any, config: dict[str, Any], free_port: int) -> None:
    app.extensions["waybill"].settings.port = free_port  # nothing listens there

    pinged = app.test_cli_runner().invoke(args=["jobs", "ping", "--timeout", "5"])

    assert pinged.exit_code == 0, pinged.output
    first, second = pinged.output.strip().splitlines()
    assert first.startswith("pong from worker:") and "ran in this process" in first
    assert second.startswith(f"service: no service answers at http://127.0.0.1:{free_port}/readyz")


def test_jobs_ping_answers_with_the_service_running_and_reports_its_readiness(
    app: Any, public_url: str, shop_store: Store
) -> None:
    pinged = app.test_cli_runner().invoke(args=["jobs", "ping", "--timeout", "5"])

    assert pinged.exit_code == 0, pinged.output
    first, second = pinged.output.strip().splitlines()
    assert first.startswith("pong from worker:")
    assert second == f"service: the service at {public_url} is ready (its database and worker threads answer)"


def test_jobs_ping_fails_when_the_running_service_is_not_ready(app: Any, rt: Any, public_url: str) -> None:
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    rt.queue._threads.append(dead)  # the service's worker threads died

    pinged = app.test_cli_runner().invoke(args=["jobs", "ping", "--timeout", "5"])

    assert pinged.exit_code == 1, pinged.output
    assert pinged.output.startswith("pong from worker:")
    assert f"service: the service at {public_url} is not ready (down: queue)" in pinged.output


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_showing_an_order_tells_its_risk_facts_review_parcels_and_timeline(
    app: Any, rt: Any, shop_store: Store, shopify: ShopifySandbox, easypost: EasyPostSimulator
) -> None:
    order_id, _ = held_order(rt, shopify, shop_store)
    runner = app.test_cli_runner()
    held = runner.invoke(args=["orders", "show", str(order_id)]).output.splitlines()
    with rt.session() as s:
        order = s.get(Order, order_id)
        assert order is not None
        number, platform_id, reason = order.number, order.platform_order_id, order.hold_reason
    assert held[0] == f"order {order_id} {number} (shopify {platform_id}) on_hold - held: {reason}"
    assert held[1].startswith("  risk: score 50, hold: held for review: score 50: ")
    facts = [line for line in held if line.startswith("    +")]
    assert len(facts) == 2 and all(line.startswith("    +25") for line in facts)  # high value, throwaway
    assert any("throwaway.example" in line for line in facts)
    assert not any(line.startswith(("  review:", "  parcel")) for line in held)

    assert approve(app, order_id).exit_code == 0
    shown = runner.invoke(args=["orders", "show", str(order_id)]).output.splitlines()
    assert shown[0] == f"order {order_id} {number} (shopify {platform_id}) fulfilled"
    detail = json.loads(runner.invoke(args=["orders", "show", str(order_id), "--json"]).output)
    assert detail["review"]["decision"] == "approve"
    assert "  review: approve by sam: called the customer" in shown
    assert len(detail["shipments"]) == len(parcels(rt, order_id)) == 2  # 30 tees need two boxes
    for sh in detail["shipments"]:
        chosen = sh["rate_chosen"]
        [line] = [line for line in shown if line.startswith(f"  parcel {sh['package']} ")]
        assert line == (
            f"  parcel {sh['package']} fulfilled: {len(sh['rates_considered'])} rate(s) considered, chosen "
            f"{chosen['carrier']} {chosen['service']} {chosen['price']['amount']}"
        )
    timeline = [line.split() for line in shown if line.startswith("  20")]  # at, actor, action, reason
    assert timeline == sorted(timeline) and len(timeline) == len(detail["timeline"])  # oldest first, all
    assert ["reviewer:sam", "order.approved", "called", "the", "customer"] in [t[1:] for t in timeline]
    assert timeline[-1][1:3] == ["shipping", "order.fulfilled"]


def test_ship_run_on_an_order_held_for_review_ships_nothing_and_says_how_to_decide_it(
    app: Any, rt: Any, shop_store: Store, shopify: ShopifySandbox, easypost: EasyPostSimulator
) -> None:
    order_id, _ = held_order(rt, shopify, shop_store)
    result = app.test_cli_runner().invoke(args=["ship", "run", str(order_id)])
    assert result.exit_code == 1, result.output
    assert "it is on hold: review" in result.output
    assert "`ship run` releases only shipping holds" in result.output
    assert f"(decide it with `./waybill orders approve {order_id}` or `orders reject`)" in result.output
    assert parcels(rt, order_id) == []  # nothing bought


def test_a_review_decision_is_checked_before_anything_changes_and_taken_once(
    app: Any, rt: Any, shop_store: Store, shopify: ShopifySandbox, easypost: EasyPostSimulator
) -> None:
    order_id, _ = held_order(rt, shopify, shop_store)
    runner = app.test_cli_runner()

    def decide(verb: str, reviewer: str, reason: str) -> Any:
        return runner.invoke(args=["orders", verb, str(order_id), "--reviewer", reviewer, "--reason", reason])

    def stage() -> tuple[str, Any]:
        with rt.session() as s:
            row = s.get(Order, order_id)
            assert row is not None
            return row.stage, row.review

    refusals = {
        ("approve", " ", "called the customer"): "reviewer and reason are both required",
        ("approve", "sam", "   "): "reviewer and reason are both required",
        ("approve", "sam", "x" * 1001): "reason is longer than 1000 characters",
        ("reject", "s" * 201, "fraud"): "reviewer is longer than 200 characters",
    }
    for (verb, reviewer, reason), said in refusals.items():
        result = decide(verb, reviewer, reason)
        assert result.exit_code == 1 and f"Error: {said}" in result.output, result.output
        assert stage() == ("on_hold", None)

    rejected = decide("reject", "sam", "card reported stolen")
    assert rejected.exit_code == 0 and rejected.output.startswith(f"order {order_id}: rejected\n")
    assert decide("reject", "kim", "again").exit_code == 0  # the same decision again changes nothing
    conflict = decide("approve", "kim", "looks fine")
    assert conflict.exit_code == 1
    assert f"order {order_id} was already rejected by sam" in conflict.output
    after, review = stage()
    assert after == "rejected" and (review["reviewer"], review["reason"]) == ("sam", "card reported stolen")
    assert parcels(rt, order_id) == []

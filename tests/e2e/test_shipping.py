"""Shipping end to end: parcels, rates, exactly-once labels, trackers, write-back, voids, packing.

One merchant with a Shopify shop and a WooCommerce store; orders travel through the real
receivers, inbox, queue and database, and are verified by the pipeline before shipping.
EasyPost, Shopify and WooCommerce are the simulators; what they hold (labels bought,
refunds, trackers, fulfilments, order meta and notes) is read back from them.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import select

from core.orders import Order as CoreOrder
from db.models import Effect, EffectState, Order, Platform, Shipment, Store, TimelineEntry
from sandbox.easypost import EasyPostSimulator
from sandbox.harness import Faults
from sandbox.woocommerce import WooCommerceSimulator
from sync import pipeline
from sync.account_settings import settings_for
from sync.shipping import record_pack_scan, ship_order, void_labels
from sync.shipping.common import easypost as easypost_client
from sync.shipping.plan import Context
from sync.shipping.trackers import start_tracker, tracker_kept
from tests.conftest import drain
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, install_woocommerce, sign_in, stores

MERCHANT = "North Wind Trading"
BULKY = "CRATE-XL"  # 40 x 30 x 30 cm: only the large box holds it, and one at a time
HUGE = "SOFA-3P"  # fits no box
NEW_YORK = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "address_1": "350 Fifth Avenue",
    "city": "New York",
    "state": "NY",
    "postcode": "10001",
    "country": "US",
}


@pytest.fixture
def shipping() -> dict[str, Any]:
    """Per-test overrides of ``shipping`` in config."""
    return {}


@pytest.fixture
def config(config: dict[str, Any], shipping: dict[str, Any]) -> dict[str, Any]:
    # Shipping is under test: the risk rules approve every order, addresses are not verified.
    config["risk"] = {"verify_addresses": False, "approve_below": 1000, "reject_at": 1001}
    config["inventory"] = {"settle_s": 0}
    config["shipping"] = {
        "item_dimensions": {BULKY: [40, 30, 30], HUGE: [200, 90, 80]},
        **shipping,
    }
    return config


@pytest.fixture
def channels(
    rt: Any,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    easypost: EasyPostSimulator,
    browser: requests.Session,
    public_url: str,
) -> tuple[Store, Store]:
    for sku, title, grams in ((BULKY, "Storage crate", 4000), (HUGE, "Three-seat sofa", 20000)):
        shopify.add_product(SHOP, title, [{"sku": sku, "price": "80.00", "available": 20, "grams": grams}])
        woo.add_product(title, sku=sku, price="80.00", stock=20, weight=str(grams / 1000))
    sign_in(browser, public_url, rt, MERCHANT)
    assert install_shopify(browser, public_url).status_code == 200
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    shop_store, woo_store = stores(rt)
    assert shop_store.platform is Platform.shopify and woo_store.platform is Platform.woocommerce
    flush(shopify, woo, rt)
    return shop_store, woo_store


def flush(shopify: ShopifySandbox, woo: WooCommerceSimulator, rt: Any) -> None:
    """Deliver what both storefronts queued and run every job it caused, until quiet."""
    for _ in range(10):
        sent = len(shopify.deliver_due()) + len(woo.deliver_webhooks())
        drain(rt)
        if not sent:
            return
    raise AssertionError("the storefronts kept sending webhooks")


def order_for(rt: Any, store: Store, platform_order_id: int | str) -> Order:
    with rt.session() as s:
        row = s.scalar(
            select(Order).where(Order.store_id == store.id, Order.platform_order_id == str(platform_order_id))
        )
        assert row is not None
        s.expunge(row)
        return row


def shipments(rt: Any, order_id: int) -> list[Shipment]:
    with rt.session() as s:
        rows = list(
            s.scalars(select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.package))
        )
        s.expunge_all()
        return rows


def timeline(rt: Any, order_id: int) -> list[tuple[str, str | None]]:
    with rt.session() as s:
        return [
            (e.action, e.reason)
            for e in s.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.subject == f"order:{order_id}")
                .order_by(TimelineEntry.id)
            )
        ]


def actions(rt: Any, order_id: int) -> list[str]:
    return [a for a, _ in timeline(rt, order_id)]


def fulfilments(shopify: ShopifySandbox, order_id: int) -> list[Any]:
    shop = shopify.shops[SHOP]
    return [f for f in shop.fulfillments.values() if f.order_id == order_id]


def tracking_numbers(shopify: ShopifySandbox, order_id: int) -> list[str]:
    return sorted(str(t["number"]) for f in fulfilments(shopify, order_id) for t in f.tracking)


def labels_bought(easypost: EasyPostSimulator, rows: list[Shipment]) -> list[int]:
    return [len(easypost.labels_for(sh.easypost_id or "")) for sh in rows]


def woo_tracking(woo: WooCommerceSimulator, order_id: int) -> list[str]:
    order = woo.store.orders[order_id]
    for meta in order.get("meta_data") or []:
        if meta.get("key") == "_wc_shipment_tracking_items":
            value = meta["value"]
            items = value.values() if isinstance(value, dict) else value
            return sorted(str(i["tracking_number"]) for i in items)
    return []


def woo_notes_with(woo: WooCommerceSimulator, order_id: int, text: str) -> list[dict[str, Any]]:
    return [n for n in woo.store.notes.values() if n["order_id"] == order_id and text in n["note"]]


# --- the happy paths ------------------------------------------------------------------------


def test_an_approved_shopify_order_gets_one_label_a_tracker_and_one_fulfilment(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 2), ("TEE-BLK-M", 1)], email="ada@example.com")
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    assert sh.state == "fulfilled" and sh.parcel["box"] == "medium"  # three 20x15x10 units
    assert easypost.label_purchases == 1 and labels_bought(easypost, [sh]) == [1]
    label = sh.label or {}
    assert sh.tracking_code and label["tracking_code"] == sh.tracking_code
    assert easypost.trackers[label["tracker_id"]]["tracking_code"] == sh.tracking_code
    # every rate considered is kept, the cheapest standard one won
    rates = sh.rates or {}
    chosen = rates["chosen"]
    assert label["carrier"] == chosen["carrier"] and label["service"] == chosen["service"]
    eligible = [r for r in rates["considered"] if r["eligible"]]
    assert len(rates["considered"]) >= 3 and len(eligible) == len(rates["considered"])
    cheapest = min(Decimal(r["price"]["amount"]) for r in eligible)
    assert Decimal(chosen["price"]["amount"]) == cheapest
    (won,) = [r for r in rates["considered"] if r["reason"].startswith("chosen: ")]
    assert won["rate_id"] == chosen["rate_id"]
    (shipped,) = fulfilments(shopify, placed.id)
    assert shipped.tracking == [
        {"company": label["carrier"], "number": sh.tracking_code, "url": label["tracking_url"]}
    ]
    assert Counter({line.line_item_id: line.quantity for line in shipped.lines}) == Counter(
        {li.id: li.quantity for li in shopify.shops[SHOP].orders[placed.id].line_items}
    )
    assert shipped.notify_customer is True
    trail = actions(rt, order.id)
    for stage in ("order.ready_to_ship", "order.packed", "order.label_purchased", "order.fulfilled"):
        assert trail.count(stage) == 1, trail
    reasons = dict(timeline(rt, order.id))
    assert reasons["order.packed"] == "packed without scan"
    assert (reasons["shipment.rates"] or "").startswith("rates considered (parcel 1): cheapest of")


def test_orders_show_gives_the_risk_facts_the_rates_considered_and_the_one_chosen(
    app: Any, rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator
) -> None:
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 1)], email="ada@example.com")
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    shown = app.test_cli_runner().invoke(args=["orders", "show", str(order.id), "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["stage"] == "fulfilled"
    assert data["risk"]["decision"] == "approve" and "facts" in data["risk"] and "score" in data["risk"]
    (parcel,) = data["shipments"]
    (sh,) = shipments(rt, order.id)
    assert parcel["rate_chosen"] == (sh.rates or {})["chosen"] and parcel["rate_chosen"] is not None
    assert parcel["rate_reason"].startswith("cheapest of")
    considered = {r["rate_id"]: r for r in parcel["rates_considered"]}
    assert considered[parcel["rate_chosen"]["rate_id"]]["reason"].startswith("chosen: ")
    assert all(r["reason"] for r in considered.values())


def test_a_woocommerce_order_is_completed_with_tracking_meta_and_a_note(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    placed = woo.place_order([("TEE-BLK-M", 1)], shipping=NEW_YORK)
    flush(shopify, woo, rt)
    order = order_for(rt, channels[1], placed)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    assert easypost.label_purchases == 1
    assert woo.store.orders[placed]["status"] == "completed"
    assert woo_tracking(woo, placed) == [sh.tracking_code]
    (note,) = woo_notes_with(woo, placed, sh.tracking_code or "?")
    assert note["customer_note"] is True and (sh.label or {})["tracking_url"] in note["note"]
    with rt.session() as s:  # the tracking's write completed it: no request of its own for that
        assert s.scalar(select(Effect.key).where(Effect.key == f"complete:{order.id}")) is None


def test_an_order_no_box_holds_ships_in_several_parcels_each_written_back(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    placed = shopify.place_order(SHOP, [(BULKY, 3), ("MUG-12OZ", 1)])
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    rows = shipments(rt, order.id)
    assert [sh.package for sh in rows] == [1, 2, 3]
    assert all(sh.state == "fulfilled" for sh in rows)
    assert easypost.label_purchases == 3 and labels_bought(easypost, rows) == [1, 1, 1]
    assert tracking_numbers(shopify, placed.id) == sorted(sh.tracking_code or "" for sh in rows)
    units = Counter(i["sku"] for sh in rows for i in sh.parcel["items"])
    assert units == Counter({BULKY: 3, "MUG-12OZ": 1})
    # each fulfilment carries exactly the units of its own parcel
    by_line = {li.id: li.sku for li in shopify.shops[SHOP].orders[placed.id].line_items}
    for sh in rows:
        (f,) = [f for f in fulfilments(shopify, placed.id) if f.tracking[0]["number"] == sh.tracking_code]
        shipped = Counter({by_line[line.line_item_id]: line.quantity for line in f.lines})
        assert shipped == Counter(i["sku"] for i in sh.parcel["items"])
    trail = actions(rt, order.id)
    assert trail.count("order.partially_fulfilled") == 1 and trail.count("order.fulfilled") == 1
    assert trail.index("order.partially_fulfilled") < trail.index("order.fulfilled")


def test_a_woocommerce_order_in_two_parcels_is_completed_once_with_both_numbers(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    placed = woo.place_order([(BULKY, 2)], shipping=NEW_YORK)
    flush(shopify, woo, rt)
    order = order_for(rt, channels[1], placed)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    rows = shipments(rt, order.id)
    assert len(rows) == 2 and easypost.label_purchases == 2
    assert woo_tracking(woo, placed) == sorted(sh.tracking_code or "" for sh in rows)
    assert woo.store.orders[placed]["status"] == "completed"
    for sh in rows:
        assert len(woo_notes_with(woo, placed, sh.tracking_code or "?")) == 1


# --- holds ------------------------------------------------------------------------------------


def test_an_item_no_box_holds_puts_the_order_on_hold_with_the_reason(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    placed = shopify.place_order(SHOP, [(HUGE, 1)])
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "on_hold"
    assert (order.hold_reason or "").startswith(f"shipping: {HUGE} (200x90x80 cm, 20000 g) fits no box")
    assert shipments(rt, order.id) == [] and easypost.calls["shipment.create"] == 0
    assert fulfilments(shopify, placed.id) == []


@pytest.mark.parametrize("shipping", [{"carriers_allow": ["DHLExpress"]}])
def test_no_eligible_rate_puts_the_order_on_hold_with_every_rate_considered(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 1)])
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "on_hold"
    assert (order.hold_reason or "").startswith("shipping: none of ")
    (sh,) = shipments(rt, order.id)
    assert sh.state == "created" and easypost.label_purchases == 0
    considered = (sh.rates or {})["considered"]
    assert considered and all(r["reason"].endswith("is not on the allow list") for r in considered)


def test_a_carrier_that_refuses_the_purchase_falls_back_to_the_next_rate(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    easypost.fail_next(422, times=1, op="shipment.buy")
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 1)])
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    rates = sh.rates or {}
    first, second = rates["chosen"], rates["fallbacks"][0]
    assert (sh.label or {})["service"] == second["service"] and (sh.label or {})["carrier"] == second[
        "carrier"
    ]
    assert easypost.label_purchases == 1
    refused = [r for a, r in timeline(rt, order.id) if a == "shipment.buy_refused"]
    assert len(refused) == 1 and (refused[0] or "").startswith(f"{first['carrier']} {first['service']}: ")
    assert tracking_numbers(shopify, placed.id) == [sh.tracking_code]


# --- exactly once ------------------------------------------------------------------------------


def test_a_lost_buy_answer_is_recovered_and_exactly_one_label_is_bought(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    easypost.faults = Faults(lost_response_rate=1.0, lost_response_ops=("shipment.buy",), hang_s=0.05)
    placed = shopify.place_order(SHOP, [("TEE-BLK-M", 2)])
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    assert easypost.calls["shipment.buy"] == 1  # the retry retrieved the shipment instead
    assert easypost.label_purchases == 1 and labels_bought(easypost, [sh]) == [1]
    assert (sh.label or {})["tracking_code"] == easypost.labels_for(sh.easypost_id or "")[0]["tracking_code"]
    assert tracking_numbers(shopify, placed.id) == [sh.tracking_code]


def test_a_retried_write_back_writes_nothing_twice(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    # Both storefronts act and then lose their answer to the write-back, once each.
    shopify.faults = Faults(lost_response_rate=1.0, lost_response_ops=("fulfillmentCreate",), hang_s=0.05)
    woo.faults = Faults(lost_response_rate=1.0, lost_response_ops=("notes.create",), hang_s=0.05)
    on_shopify = shopify.place_order(SHOP, [("MUG-12OZ", 1)])
    on_woo = woo.place_order([("MUG-12OZ", 1)], shipping=NEW_YORK)
    flush(shopify, woo, rt)
    shopify.faults, woo.faults = Faults(), Faults()
    a, b = order_for(rt, channels[0], on_shopify.id), order_for(rt, channels[1], on_woo)
    assert (a.stage, b.stage) == ("fulfilled", "fulfilled"), (timeline(rt, a.id), timeline(rt, b.id))
    (sh_a,), (sh_b,) = shipments(rt, a.id), shipments(rt, b.id)
    assert shopify.calls["fulfillmentCreate"] == 1 and len(fulfilments(shopify, on_shopify.id)) == 1
    assert woo_tracking(woo, on_woo) == [sh_b.tracking_code]
    assert len(woo_notes_with(woo, on_woo, sh_b.tracking_code or "?")) == 1
    with rt.session() as s:
        retried = s.scalars(select(Effect).where(Effect.key.in_([f"fulfil:{sh_a.id}", f"fulfil:{sh_b.id}"])))
        assert {e.attempts for e in retried} == {2}
    # and a write-back run again for a parcel already written back does nothing
    rt.enqueue("write_back_fulfillment", job_id="again", shipment_id=sh_a.id)
    drain(rt)
    assert len(fulfilments(shopify, on_shopify.id)) == 1


@pytest.mark.parametrize("shipping", [{"verify_packing": True}])
def test_a_cancel_after_purchase_voids_the_label_once(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 1)])
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert record_pack_scan(rt, order.account_id, order.id, ["MUG-12OZ"], "sam")["ok"] is True
    # The label is bought now; its write-back waits in the queue.
    assert ship_order(rt, order.id) == "label_purchased"
    (sh,) = shipments(rt, order.id)
    assert sh.state == "purchased"
    # The storefront cancels (sync/orders.py hands its cancellation to the pipeline).
    pipeline.cancel_order(rt, order.id, "customer cancelled")
    flush(shopify, woo, rt)
    (sh,) = shipments(rt, order.id)
    assert sh.state == "voided"
    assert [r["shipment_id"] for r in easypost.refunds] == [sh.easypost_id]
    assert fulfilments(shopify, placed.id) == []  # the queued write-back saw the cancellation
    # The cancellation webhook arriving as well, and another void, refund nothing more.
    shopify.cancel_order(SHOP, placed.id)
    flush(shopify, woo, rt)
    assert void_labels(rt, order.id, "again") == 0
    assert len(easypost.refunds) == 1 and easypost.calls["shipment.refund"] == 1
    assert order_for(rt, channels[0], placed.id).stage == "cancelled"
    assert actions(rt, order.id).count("shipment.voided") == 1


def test_an_order_cancelled_while_its_label_is_bought_gets_the_label_voided(
    rt: Any,
    channels: tuple[Store, Store],
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    easypost: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 1)])
    real = easypost.lose_response

    def cancel_during_buy(op: str) -> bool:
        # EasyPost has bought the label; before its answer arrives the storefront cancels.
        if op == "shipment.buy":
            pipeline.cancel_order(rt, order_for(rt, channels[0], placed.id).id, "customer changed their mind")
        return bool(real(op))

    monkeypatch.setattr(easypost, "lose_response", cancel_during_buy)
    flush(shopify, woo, rt)
    row = order_for(rt, channels[0], placed.id)
    (sh,) = shipments(rt, row.id)
    assert order_for(rt, channels[0], placed.id).stage == "cancelled"
    assert easypost.label_purchases == 1 and sh.state == "voided"
    assert [r["shipment_id"] for r in easypost.refunds] == [sh.easypost_id]
    assert fulfilments(shopify, placed.id) == []


# --- packing verification ------------------------------------------------------------------------


@pytest.mark.parametrize("shipping", [{"verify_packing": True}])
def test_packing_verification_blocks_a_mismatch_and_ships_a_match(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 2), ("TEE-BLK-M", 1)])
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    assert order.stage == "ready_to_ship"
    assert ship_order(rt, order.id) == "awaiting_pack_scan"

    wrong = record_pack_scan(rt, order.account_id, order.id, ["MUG-12OZ", "TEE-BLK-M", "TEE-BLK-M"], "sam")
    assert wrong["ok"] is False
    assert wrong["missing"] == {"MUG-12OZ": 1} and wrong["extra"] == {"TEE-BLK-M": 1}
    assert wrong["message"] == "missing 1 x MUG-12OZ; extra 1 x TEE-BLK-M"
    flush(shopify, woo, rt)
    assert order_for(rt, channels[0], placed.id).stage == "ready_to_ship"
    assert easypost.calls["shipment.create"] == 0 and shipments(rt, order.id) == []
    with rt.session() as s:
        entry = s.scalar(select(TimelineEntry).where(TimelineEntry.action == "pack.mismatch"))
        assert entry is not None and entry.actor == "sam"
        assert entry.data["missing"] == {"MUG-12OZ": 1} and entry.data["extra"] == {"TEE-BLK-M": 1}

    right = record_pack_scan(rt, order.account_id, order.id, ["TEE-BLK-M", "MUG-12OZ", "MUG-12OZ"], "sam")
    assert right["ok"] is True
    flush(shopify, woo, rt)
    assert order_for(rt, channels[0], placed.id).stage == "fulfilled"
    assert easypost.label_purchases == 1 and len(fulfilments(shopify, placed.id)) == 1
    reasons = dict(timeline(rt, order.id))
    assert reasons["order.packed"] == "contents verified"
    assert (reasons["pack.verified"] or "").startswith("contents verified: 3 unit(s) of 2 SKU(s)")


def test_shipping_effects_are_all_settled(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    """Every outside call of a shipped order is in the ledger, done, under its documented key;
    the label's purchase brought its tracker, so no tracker is started apart."""
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 1)])
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    (sh,) = shipments(rt, order.id)
    rate_id = (sh.rates or {})["chosen"]["rate_id"]
    with rt.session() as s:
        effects = {e.key: e.state for e in s.scalars(select(Effect).where(Effect.kind != "stock_push"))}
    for key in (
        f"shipment:{order.id}:1",
        f"label:{order.id}:1:{rate_id}",
        f"fulfil:{sh.id}",
    ):
        assert effects.get(key) is EffectState.done, (key, effects)
    assert f"tracker:{sh.id}" not in effects and easypost.calls["tracker.create"] == 0
    assert sh.tracker_id and sh.tracker_id == (sh.label or {})["tracker_id"]


def untracked(rt: Any, order_id: int) -> list[int]:
    """The order's bought parcels whose tracker is not kept (``ship_order`` starts theirs)."""
    bought = [p for p in shipments(rt, order_id) if p.state == "purchased"]
    return [p.id for p in bought if not tracker_kept(p.tracker_id, p.label)]


def test_a_label_bought_without_its_tracker_gets_one_started_once(
    rt: Any, channels: tuple[Store, Store], shopify: ShopifySandbox, woo: WooCommerceSimulator, easypost: Any
) -> None:
    """A purchase whose answer had no tracker: ``start_tracker`` starts one through the ledger
    (``tracker:<shipment>``) and keeps its id and public page with the label."""
    placed = shopify.place_order(SHOP, [("MUG-12OZ", 1)])
    flush(shopify, woo, rt)
    order = order_for(rt, channels[0], placed.id)
    (sh,) = shipments(rt, order.id)
    assert untracked(rt, order.id) == []
    with rt.session() as s:
        row = s.get(Shipment, sh.id)
        assert row is not None and row.label is not None
        # as it stood between its purchase and its write-back, had the answer held no tracker
        row.state, row.tracker_id = "purchased", None
        row.label = {**row.label, "tracker_id": None, "tracking_url": None}
    assert untracked(rt, order.id) == [sh.id]
    ctx = Context(
        order.id, order.account_id, CoreOrder.from_dict(order.data), settings_for(rt, order.account_id)
    )
    for _ in range(2):  # the second run is answered by the ledger
        start_tracker(rt, easypost_client(rt), ctx, sh.id)
    (again,) = shipments(rt, order.id)
    label = again.label or {}
    assert again.tracker_id and label["tracker_id"] == again.tracker_id and label["tracking_url"]
    assert easypost.trackers[again.tracker_id]["tracking_code"] == again.tracking_code
    assert easypost.calls["tracker.create"] == 1 and untracked(rt, order.id) == []
    with rt.session() as s:
        assert s.scalar(select(Effect.state).where(Effect.key == f"tracker:{sh.id}")) is EffectState.done

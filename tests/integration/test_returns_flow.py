"""The returns flow against the simulators, on both backends.

One merchant with a Shopify shop and a WooCommerce store (the Shopify, WooCommerce and
EasyPost simulators; Waybill's receivers, inbox, queue and database are the real ones).
Orders are placed in the simulators and shipped by the pipeline; returns come in from the
portal (``request_return``), the storefront (Shopify's ``returns/request``) and the
merchant; the return parcels travel on the EasyPost simulator's fake clock, whose tracker
Events reach ``/webhooks/easypost``. What the outside systems hold afterwards (labels,
refunds, the storefront's returns and notes, channel stock) is read back from them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import NotFound
from db.accounts import get_or_create_account
from db.models import Effect, Return, ReturnItem, Shipment, StockItem, StockMovement, Store, TimelineEntry
from db.models import Order as OrderRow
from sandbox.easypost import EasyPostSimulator
from sandbox.harness import FakeClock, Faults, RunningServer, serve
from sandbox.woocommerce import WooCommerceSimulator
from sync.returns import desk, inspection
from sync.returns.common import ReturnConflict, ReturnInputError, ReturnNotFound
from sync.returns.labels import buy_return_label
from sync.returns.links import return_for
from sync.returns.refunds import refund_return
from sync.returns.requests import close, override, request_return
from tests.conftest import drain
from tests.e2e.conftest import (  # noqa: F401  (fixtures)
    APP_KEY,
    APP_SECRET,
    EP_KEY,
    EP_WEBHOOK_SECRET,
    SHOP,
    ShopifySandbox,
    browser,
    public_url,
    shopify,
    shopify_server,
    waybill_server,
    woo,
    woo_server,
    woo_url,
)
from tests.e2e.test_shipping import NEW_YORK, channels, flush, order_for  # noqa: F401

HOUR = 3600.0
MUG, TEE = "MUG-12OZ", "TEE-BLK-M"


@pytest.fixture(scope="module")
def returns_easypost() -> Iterator[RunningServer]:
    """An EasyPost simulator of this module's own, on a fake clock that only the test moves."""
    sim = EasyPostSimulator(
        api_keys=[EP_KEY], webhook_secret=EP_WEBHOOK_SECRET, clock=FakeClock(start=time.time())
    )
    server = serve(sim)
    yield server
    server.stop()


@pytest.fixture
def returns() -> dict[str, Any]:
    """Per-test overrides of ``returns`` in config."""
    return {}


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def config(
    config: dict[str, Any],
    public_url: str,  # noqa: F811
    shopify_server: RunningServer,  # noqa: F811
    returns_easypost: RunningServer,
    returns: dict[str, Any],
    outbox: Path,
) -> dict[str, Any]:
    config.update(
        sandbox=True,
        public_url=public_url,
        shopify={"api_key": APP_KEY, "api_secret": APP_SECRET, "base_url": shopify_server.url},
        easypost={"api_key": EP_KEY, "webhook_secret": EP_WEBHOOK_SECRET, "base_url": returns_easypost.url},
        risk={"verify_addresses": False, "approve_below": 1000, "reject_at": 1001},
        inventory={"settle_s": 0},
        notifier={"backend": "file", "file_dir": str(outbox)},
        returns={"refund_after": "delivered", **returns},
    )
    return config


@pytest.fixture
def app(app: Any, waybill_server: RunningServer) -> Iterator[Any]:  # noqa: F811
    """The test's app, mounted where the simulators deliver webhooks."""
    mount = waybill_server.app
    mount.target = app
    yield app
    mount.target = None


@pytest.fixture
def easypost(returns_easypost: RunningServer, public_url: str, rt: Any) -> EasyPostSimulator:  # noqa: F811
    sim: EasyPostSimulator = returns_easypost.app
    sim.reset()
    sim.events.create_webhook("test", {"url": f"{public_url}/webhooks/easypost"})
    rt.now = lambda: datetime.fromtimestamp(sim.clock.now(), UTC)
    return sim


# --- helpers ---------------------------------------------------------------------------------


def shipped(rt: Any, sim: EasyPostSimulator, store: Store, placed_id: int | str) -> OrderRow:
    """The order, fulfilled and its parcel delivered (the carrier's clock moved until then)."""
    order = order_for(rt, store, placed_id)
    assert order.stage == "fulfilled", order.stage
    with rt.session() as s:
        (sh,) = s.scalars(select(Shipment).where(Shipment.order_id == order.id))
    for _ in range(int(14 * 24 / 6)):
        if sim.trackers[str(sh.tracker_id)]["status"] == "delivered":
            break
        sim.advance(6 * HOUR)
        drain(rt)
    order = order_for(rt, store, placed_id)
    assert order.stage == "delivered", order.stage
    return order


def asks(order: OrderRow, reason: str = "defective", **extra: Any) -> list[dict[str, Any]]:
    lines = order.data["line_items"]
    return [
        {
            "line_id": line["line_id"],
            "quantity": line["quantity"],
            "reason": reason,
            "photo_url": "https://x/p.jpg",
            **extra,
        }
        for line in lines
    ]


def reload(rt: Any, return_id: int) -> Return:
    with rt.session() as s:
        ret = s.get(Return, return_id)
        assert ret is not None
        return ret


def items(rt: Any, return_id: int) -> list[ReturnItem]:
    with rt.session() as s:
        return list(
            s.scalars(select(ReturnItem).where(ReturnItem.return_id == return_id).order_by(ReturnItem.id))
        )


def trail(rt: Any, order_id: int) -> list[str]:
    with rt.session() as s:
        rows = s.scalars(
            select(TimelineEntry.action)
            .where(TimelineEntry.subject == f"order:{order_id}", TimelineEntry.action.like("return.%"))
            .order_by(TimelineEntry.id)
        )
        return [a for a in rows if a != "return.scan"]


def travel_back(rt: Any, easypost: EasyPostSimulator, ret: Return, until: str = "delivered") -> None:
    """Move the carrier's clock until the return parcel's tracker reaches ``until``, running
    what its Events cause at each step."""
    assert ret.tracker_id, "the return has no tracker"
    for _ in range(int(14 * 24 / 6)):
        easypost.advance(6 * HOUR)
        drain(rt)
        status = easypost.trackers[ret.tracker_id]["status"]
        if status == until or (
            until == "in_transit" and status in ("in_transit", "out_for_delivery", "delivered")
        ):
            return
    raise AssertionError(f"the return parcel did not reach {until} within two weeks")


def dead(rt: Any) -> list[tuple[str, str]]:
    from db.models import DeadLetter

    with rt.session() as s:
        return [(d.name, d.error) for d in s.scalars(select(DeadLetter))]


def inbox(rt: Any) -> list[tuple[str, str, str | None]]:
    from db.models import InboxEvent

    with rt.session() as s:
        rows = s.scalars(select(InboxEvent).where(InboxEvent.topic.like("returns/%")))
        return [(e.topic, str(e.state), e.last_error) for e in rows]


def woo_refunds(woo: WooCommerceSimulator, order_id: int) -> list[dict[str, Any]]:  # noqa: F811
    return [r for r in woo.store.refunds.values() if r["order_id"] == order_id]


def shop_returns(shopify: ShopifySandbox, order_id: int) -> list[Any]:  # noqa: F811
    shop = shopify.shops[SHOP]
    return [r for r in shop.returns.values() if r.order_id == order_id]


def shop_refunds(shopify: ShopifySandbox, order_id: int) -> list[Any]:  # noqa: F811
    return [r for r in shopify.shops[SHOP].refunds.values() if r.order_id == order_id]


def return_labels(easypost: EasyPostSimulator) -> list[dict[str, Any]]:
    return [
        sh for sh in easypost.shipping.shipments.values() if sh.get("is_return") and sh.get("postage_label")
    ]


def level(rt: Any, account_id: int, sku: str) -> tuple[int, int]:
    with rt.session() as s:
        item = s.scalar(select(StockItem).where(StockItem.account_id == account_id, StockItem.sku == sku))
        assert item is not None
        return item.on_hand, item.reserved


def channel_levels(shopify: ShopifySandbox, woo: WooCommerceSimulator, sku: str) -> tuple[int, int]:  # noqa: F811
    """What each channel shows for ``sku``: (Shopify available, WooCommerce stock quantity)."""
    shop = shopify.shops[SHOP]
    main = min(shop.locations)
    (item,) = [i for i in shop.items.values() if i.sku == sku]
    (product,) = [p for p in woo.store.products.values() if p.get("sku") == sku]
    return shop.levels[(item.id, main)].available, int(product["stock_quantity"])


def account_of(rt: Any, store: Store) -> int:
    return int(store.account_id)


def fulfilled_line_ids(shopify: ShopifySandbox, placed_id: Any) -> list[Any]:  # noqa: F811
    """The Shopify fulfillment line ids of an order, for a customer's return request."""
    shop = shopify.shops[SHOP]
    return [fl.id for f in shop.fulfillments.values() if f.order_id == placed_id for fl in f.lines]


def only_return_of(rt: Any, order_id: int) -> Return:
    """The order's return, asserting there is exactly one."""
    with rt.session() as s:
        rets: list[Return] = list(s.scalars(select(Return).where(Return.order_id == order_id)))
    (ret,) = rets
    return ret


def portal_return(
    rt: Any,
    account: int,
    order: OrderRow,
    key: str,
    lines: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Return:
    """A customer's return request from the portal: every line of the order as defective
    unless ``lines`` says otherwise."""
    chosen = lines if lines is not None else asks(order)
    ret: Return = request_return(
        rt, account_id=account, order_id=order.id, asks=chosen, source="portal", key=key, actor="c", **extra
    )
    return ret


@dataclass
class Flow:
    """The merchant's two channels, their simulators and EasyPost, with the steps every test
    starts from: an order placed on one channel, shipped and delivered."""

    rt: Any
    channels: tuple[Store, Store]
    shopify: ShopifySandbox
    woo: WooCommerceSimulator
    easypost: EasyPostSimulator

    def flush(self) -> None:
        flush(self.shopify, self.woo, self.rt)

    def delivered_on_woo(self, lines: list[tuple[str, int]], **extra: Any) -> tuple[int, OrderRow, int]:
        """A WooCommerce order of ``lines`` to New York, delivered: (its Woo id, our order, account)."""
        placed = self.woo.place_order(lines, shipping=NEW_YORK, **extra)
        self.flush()
        order = shipped(self.rt, self.easypost, self.channels[1], placed)
        return placed, order, account_of(self.rt, self.channels[1])

    def delivered_on_shopify(self) -> tuple[Any, OrderRow, int]:
        """A Shopify order of one tee, delivered: (the shop's order, our order, account)."""
        placed = self.shopify.place_order(SHOP, [(TEE, 1)], email="ada@example.com")
        self.flush()
        order = shipped(self.rt, self.easypost, self.channels[0], placed.id)
        return placed, order, account_of(self.rt, self.channels[0])


@pytest.fixture
def flow(
    rt: Any,
    channels: tuple[Store, Store],  # noqa: F811
    shopify: ShopifySandbox,  # noqa: F811
    woo: WooCommerceSimulator,  # noqa: F811
    easypost: EasyPostSimulator,
) -> Flow:
    return Flow(rt, channels, shopify, woo, easypost)


# --- the happy paths -------------------------------------------------------------------------


def test_a_portal_return_on_woocommerce_goes_label_transit_received_refunded_once_and_restocks(
    rt: Any,
    flow: Flow,
    outbox: Path,
) -> None:
    placed, order, account = flow.delivered_on_woo([(MUG, 2)], shipping_total="6.00")
    on_hand_before, _ = level(rt, account, MUG)

    ret = request_return(
        rt,
        account_id=account,
        order_id=order.id,
        asks=asks(order),
        source="portal",
        key="form-1",
        actor="customer",
    )
    assert ret.state == "approved" and ret.source == "portal"
    drain(rt)
    ret = reload(rt, ret.id)
    assert ret.state == "label_sent" and ret.tracker_id and ret.label is not None
    assert len(return_labels(flow.easypost)) == 1
    (mail,) = [json.loads(p.read_text()) for p in outbox.glob("*.json")]
    assert ret.label["label_url"] in mail["body"] and mail["to"] == "ada@example.com"
    # The mail links the return's own page (the signed token carries its time: compare what it names).
    page_prefix = f"{rt.settings.public_url}/returns/r/"
    (link,) = [word for word in mail["body"].split() if word.startswith(page_prefix)]
    assert return_for(rt, link.removeprefix(page_prefix)) == ret.id

    travel_back(rt, flow.easypost, ret, "in_transit")
    assert reload(rt, ret.id).state in ("in_transit", "received", "refunded")
    assert (
        woo_refunds(flow.woo, placed) == [] or reload(rt, ret.id).delivered_at is not None
    )  # not before delivery
    travel_back(rt, flow.easypost, ret)
    flow.flush()
    ret = reload(rt, ret.id)
    assert ret.state == "refunded", (" ".join(trail(rt, order.id)), ret.hold_reason, ret.evidence, dead(rt))
    (refund,) = woo_refunds(flow.woo, placed)
    # defective: the merchant pays the label; the goods and the original shipping come back
    assert Decimal(str(refund["amount"])) == Decimal("29.00") + Decimal("6.00")
    assert refund["refunded_payment"] is True
    assert ret.refund is not None and ret.refund["total"] == "35.00" and ret.refund_ref == str(refund["id"])
    notes = [n["note"] for n in flow.woo.store.notes.values() if n["order_id"] == placed]
    assert any("approved" in n for n in notes) and any("complete" in n for n in notes)

    # inspection puts the units back on the shelf, and on every channel
    inspection.receive(rt, account, ret.id, {i.id: "resellable" for i in items(rt, ret.id)}, "30.5", "sam")
    flow.flush()
    assert level(rt, account, MUG)[0] == on_hand_before + 2
    shop_level, woo_level = channel_levels(flow.shopify, flow.woo, MUG)
    available = level(rt, account, MUG)[0] - level(rt, account, MUG)[1]
    assert shop_level == woo_level == available
    assert trail(rt, order.id)[:5] == [
        "return.requested",
        "return.approved",
        "return.label_sent",
        "return.label_mailed",
        "return.in_transit",
    ]
    assert {"return.received", "return.refund_planned", "return.refunded"} <= set(trail(rt, order.id))
    assert reload(rt, ret.id).state == "refunded"  # inspecting after the refund changes no state
    with rt.session() as s:
        assert len(list(s.scalars(select(Return).where(Return.order_id == order.id)))) == 1
    assert dead(rt) == []


def test_a_shopify_customer_request_is_approved_there_and_refunded_through_the_return_once(
    rt: Any, flow: Flow
) -> None:
    placed, order, _ = flow.delivered_on_shopify()
    line_ids = fulfilled_line_ids(flow.shopify, placed.id)
    flow.shopify.request_return(SHOP, placed.id, [(line_ids[0], 1, "SIZE_TOO_SMALL", "too tight")])
    flow.flush()
    ret = only_return_of(rt, order.id)
    assert [(i.reason, i.note) for i in items(rt, ret.id)] == [("size_too_small", "too tight")]
    assert ret.source == "storefront" and ret.platform_return_id
    assert ret.state == "label_sent", (trail(rt, order.id), ret.decision)
    (sreturn,) = shop_returns(flow.shopify, placed.id)
    assert sreturn.status == "OPEN"
    travel_back(rt, flow.easypost, ret)
    flow.flush()
    assert reload(rt, ret.id).state == "refunded", trail(rt, order.id)
    (refund,) = shop_refunds(flow.shopify, placed.id)
    assert refund.return_id == sreturn.id and refund.amount > 0
    assert shop_returns(flow.shopify, placed.id)[0].status == "CLOSED"
    flow.shopify.deliver_due()  # the webhooks of Waybill's own writes change nothing
    drain(rt)
    assert len(shop_refunds(flow.shopify, placed.id)) == 1


# --- exactly once ------------------------------------------------------------------------------


def test_the_same_key_twice_is_one_return_and_a_rerun_label_job_buys_nothing(rt: Any, flow: Flow) -> None:
    _placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    first = request_return(
        rt, account_id=account, order_id=order.id, asks=asks(order), source="merchant", key="k1", actor="api"
    )
    again = request_return(
        rt, account_id=account, order_id=order.id, asks=asks(order), source="merchant", key="k1", actor="api"
    )
    assert again.id == first.id
    drain(rt)
    assert buy_return_label(rt, first.id) == "label_sent"  # a retried job: nothing bought again
    assert len(return_labels(flow.easypost)) == 1
    with rt.session() as s:
        assert len(list(s.scalars(select(Return).where(Return.order_id == order.id)))) == 1


def test_a_lost_answer_at_easypost_leaves_one_return_label(rt: Any, flow: Flow) -> None:
    _placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    flow.easypost.faults = Faults(
        lost_response_rate=1.0, hang_s=0, lost_response_ops=("shipment.create", "shipment.buy")
    )
    ret = portal_return(rt, account, order, key="f")
    drain(rt)
    flow.easypost.faults = Faults()
    drain(rt)
    buy_return_label(rt, ret.id)
    assert reload(rt, ret.id).state == "label_sent"
    assert len(return_labels(flow.easypost)) == 1


def test_a_lost_refund_answer_is_found_again_never_refunded_twice(rt: Any, flow: Flow) -> None:
    placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    ret = portal_return(rt, account, order, key="f")
    drain(rt)
    flow.woo.faults = Faults(lost_response_rate=1.0, hang_s=0, lost_response_ops=("refunds.create",))
    travel_back(rt, flow.easypost, reload(rt, ret.id))
    flow.woo.faults = Faults()
    drain(rt)
    refund_return(rt, ret.id)  # a retry after the lost answer
    assert reload(rt, ret.id).state == "refunded", trail(rt, order.id)
    assert len(woo_refunds(flow.woo, placed)) == 1
    with rt.session() as s:
        effect = s.scalar(select(Effect).where(Effect.key == f"refund:{ret.id}"))
        assert effect is not None and effect.state == "done" and effect.attempts >= 2


# --- evidence and holds ----------------------------------------------------------------------


@pytest.mark.parametrize("returns", [{"refund_after": "inspected"}])
def test_the_refund_waits_for_its_evidence(rt: Any, flow: Flow) -> None:
    placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    ret = portal_return(rt, account, order, key="f")
    drain(rt)
    travel_back(rt, flow.easypost, reload(rt, ret.id))
    assert reload(rt, ret.id).state == "received"
    assert refund_return(rt, ret.id) == "waiting for inspected"
    assert woo_refunds(flow.woo, placed) == []
    inspection.receive(rt, account, ret.id, {i.id: "resellable" for i in items(rt, ret.id)}, None, "sam")
    drain(rt)
    assert reload(rt, ret.id).state == "refunded"
    assert len(woo_refunds(flow.woo, placed)) == 1


@pytest.mark.parametrize("returns", [{"serial_returns": 1, "refund_after": "carrier_scan"}])
def test_a_flagged_return_is_held_until_a_person_approves_it(rt: Any, flow: Flow) -> None:
    placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    ret = portal_return(rt, account, order, key="f")
    drain(rt)
    travel_back(rt, flow.easypost, reload(rt, ret.id))
    held = reload(rt, ret.id)
    assert held.hold_reason and "returns in 90 days" in held.hold_reason
    assert held.evidence is not None and [f["rule"] for f in held.evidence["flags"]] == ["serial_returner"]
    assert woo_refunds(flow.woo, placed) == [] and trail(rt, order.id).count("return.held") == 1
    assert [r["id"] for r in desk.list_returns(rt, account, held=True)] == [ret.id]
    with pytest.raises(ReturnInputError):
        desk.approve(rt, account, ret.id, "sam", "")
    desk.approve(rt, account, ret.id, "sam", "known customer, parcel scanned")
    drain(rt)
    assert reload(rt, ret.id).state == "refunded" and len(woo_refunds(flow.woo, placed)) == 1
    assert desk.approve(rt, account, ret.id, "sam", "again")["state"] == "refunded"  # same decision: answered
    with pytest.raises(ReturnConflict):
        desk.reject(rt, account, ret.id, "sam", "changed my mind")


@pytest.mark.parametrize("returns", [{"serial_returns": 1}])
def test_a_held_return_rejected_is_closed_without_a_refund(rt: Any, flow: Flow) -> None:
    placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    ret = portal_return(rt, account, order, key="f")
    drain(rt)
    travel_back(rt, flow.easypost, reload(rt, ret.id))
    assert reload(rt, ret.id).hold_reason
    desk.reject(rt, account, ret.id, "sam", "the parcel was empty")
    drain(rt)
    assert reload(rt, ret.id).state == "closed" and woo_refunds(flow.woo, placed) == []
    assert refund_return(rt, ret.id) == "closed"


# --- refusals, overrides, closing ---------------------------------------------------------------


def test_a_request_outside_the_window_is_refused_with_the_rule_and_a_merchant_overrides_it(
    rt: Any, flow: Flow
) -> None:
    placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    later = rt.now() + timedelta(days=45)
    rt.now = lambda: later
    ret = portal_return(rt, account, order, key="f")
    assert ret.state == "refused"
    assert [r["rule"] for r in ret.decision["refusals"]] == ["window"]
    drain(rt)
    assert return_labels(flow.easypost) == []
    notes = [n for n in flow.woo.store.notes.values() if n["order_id"] == placed and "refused" in n["note"]]
    assert len(notes) == 1 and notes[0]["customer_note"] is True
    with pytest.raises(ReturnInputError):
        override(rt, account, ret.id, "sam", " ")
    approved = override(rt, account, ret.id, "sam", "loyal customer")
    assert (
        approved.state == "approved" and approved.override and approved.override["note"] == "loyal customer"
    )
    drain(rt)
    assert reload(rt, ret.id).state == "label_sent" and len(return_labels(flow.easypost)) == 1
    assert "return.refused" in trail(rt, order.id) and trail(rt, order.id).count("return.approved") == 1
    again = override(rt, account, ret.id, "sam", "loyal customer")  # a retried override: answered
    assert again.state == "label_sent" and trail(rt, order.id).count("return.approved") == 1


def test_a_shopify_request_outside_policy_is_declined_there(rt: Any, flow: Flow) -> None:
    placed, _, _ = flow.delivered_on_shopify()
    later = rt.now() + timedelta(days=45)
    rt.now = lambda: later
    line_ids = fulfilled_line_ids(flow.shopify, placed.id)
    flow.shopify.request_return(SHOP, placed.id, [(line_ids[0], 1)])
    flow.flush()
    (sreturn,) = shop_returns(flow.shopify, placed.id)
    assert sreturn.status == "DECLINED" and sreturn.decline is not None
    assert sreturn.decline.get("reason") == "RETURN_PERIOD_ENDED"
    assert return_labels(flow.easypost) == []


def test_bad_input_is_refused_and_changes_nothing(rt: Any, flow: Flow) -> None:
    _placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    line = order.data["line_items"][0]["line_id"]
    bad: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"asks": [{"line_id": line, "quantity": 0, "reason": "unwanted"}]}, ReturnInputError),
        ({"asks": [{"line_id": line, "quantity": True, "reason": "unwanted"}]}, ReturnInputError),
        ({"asks": [{"line_id": line, "quantity": 1, "reason": ""}]}, ReturnInputError),
        (
            {"asks": [{"line_id": line, "quantity": 1, "reason": "unwanted"}], "source": "fax"},
            ReturnInputError,
        ),
        ({"asks": [{"line_id": line, "quantity": 1, "reason": "unwanted"}], "key": ""}, ReturnInputError),
        (
            {"asks": [{"line_id": line, "quantity": 1, "reason": "unwanted"}], "resolution": "exchange"},
            ReturnInputError,
        ),
        (
            {"asks": [{"line_id": line, "quantity": 1, "reason": "unwanted"}], "order_id": order.id + 999},
            NotFound,
        ),
    ]
    for change, error in bad:
        kwargs: dict[str, Any] = {
            "account_id": account,
            "order_id": order.id,
            "source": "portal",
            "key": "k",
            "actor": "c",
        }
        kwargs.update(change)
        with pytest.raises(error):
            request_return(rt, **kwargs)
    with rt.session() as s:
        assert list(s.scalars(select(Return))) == []


def test_a_closed_return_gets_no_label_and_closing_twice_is_one_close(rt: Any, flow: Flow) -> None:
    _placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    ret = portal_return(rt, account, order, key="f")
    close(rt, account, ret.id, "sam", "the customer kept it")
    close(rt, account, ret.id, "sam", "the customer kept it")
    drain(rt)
    assert reload(rt, ret.id).state == "closed" and return_labels(flow.easypost) == []
    assert trail(rt, order.id).count("return.closed") == 1
    with pytest.raises(ReturnConflict):
        inspection.receive(rt, account, ret.id, {i.id: "resellable" for i in items(rt, ret.id)}, None, "sam")
    with pytest.raises(ReturnConflict):
        override(rt, account, ret.id, "sam", "only a refused return is overridden")


# --- exchanges -------------------------------------------------------------------------------------


def test_an_exchange_reserves_its_variant_ships_it_as_a_new_parcel_and_refunds_nothing(
    rt: Any, flow: Flow
) -> None:
    placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    on_hand, reserved = level(rt, account, TEE)
    ret = portal_return(
        rt,
        account,
        order,
        key="x",
        lines=asks(order, "size_too_small", exchange_sku=TEE),
        resolution="exchange",
    )
    assert ret.state == "approved"
    flow.flush()
    assert level(rt, account, TEE) == (on_hand, reserved + 1)
    assert channel_levels(flow.shopify, flow.woo, TEE) == (on_hand - reserved - 1, on_hand - reserved - 1)
    travel_back(rt, flow.easypost, reload(rt, ret.id))
    flow.flush()
    ret = reload(rt, ret.id)
    assert ret.state == "exchanged", trail(rt, order.id)
    assert ret.exchange_shipment_id is not None and woo_refunds(flow.woo, placed) == []
    with rt.session() as s:
        sh = s.get(Shipment, ret.exchange_shipment_id)
        assert sh is not None and sh.order_id == order.id and sh.package == 2 and sh.state == "purchased"
        assert [i["sku"] for i in sh.parcel["items"]] == [TEE]
        assert sh.easypost_id and len(flow.easypost.labels_for(sh.easypost_id)) == 1
    assert level(rt, account, TEE) == (on_hand - 1, reserved)
    told = [
        n["note"]
        for n in flow.woo.store.notes.values()
        if n["order_id"] == placed and "exchange" in n["note"]
    ]
    assert len(told) == 1 and str(sh.tracking_code) in told[0]


def test_an_exchange_out_of_stock_is_refused_and_closing_releases_a_reservation(rt: Any, flow: Flow) -> None:
    _placed, order, account = flow.delivered_on_woo([(MUG, 2)])
    on_hand, reserved = level(rt, account, TEE)
    line = order.data["line_items"][0]["line_id"]
    too_many = [{"line_id": line, "quantity": 2, "reason": "unwanted", "exchange_sku": "NO-SUCH-SKU"}]
    refused = portal_return(rt, account, order, key="a", lines=too_many, resolution="exchange")
    assert refused.state == "refused"
    assert [r["rule"] for r in refused.decision["refusals"]] == ["exchange_out_of_stock"]
    one = [{"line_id": line, "quantity": 1, "reason": "unwanted", "exchange_sku": TEE}]
    ret = portal_return(rt, account, order, key="b", lines=one, resolution="exchange")
    assert level(rt, account, TEE) == (on_hand, reserved + 1)
    close(rt, account, ret.id, "sam", "cancelled by the customer")
    assert level(rt, account, TEE) == (on_hand, reserved)
    with rt.session() as s:
        reasons = [
            m.reason
            for m in s.scalars(select(StockMovement).where(StockMovement.source == f"return:{ret.id}"))
        ]
    assert reasons == ["exchange_reserved", "exchange_released"]


# --- inspection, tenants -----------------------------------------------------------------------------


def test_damaged_units_are_a_loss_not_stock_and_missing_ones_are_not_refunded(rt: Any, flow: Flow) -> None:
    placed, order, account = flow.delivered_on_woo([(MUG, 1), (TEE, 1)])
    mug, tee = level(rt, account, MUG), level(rt, account, TEE)
    ret = request_return(
        rt,
        account_id=account,
        order_id=order.id,
        asks=asks(order, "unwanted"),
        source="merchant",
        key="m",
        actor="api",
    )
    assert ret.state == "approved"
    by_sku = {i.sku: i.id for i in items(rt, ret.id)}
    inspection.receive(rt, account, ret.id, {by_sku[MUG]: "damaged", by_sku[TEE]: "missing"}, "1", "sam")
    drain(rt)
    assert level(rt, account, MUG) == mug and level(rt, account, TEE) == tee
    with rt.session() as s:
        moves = {
            m.key: m
            for m in s.scalars(select(StockMovement).where(StockMovement.source == f"return:{ret.id}"))
        }
    assert {m.reason for m in moves.values()} == {"return_loss"} and len(moves) == 2
    ret = reload(rt, ret.id)
    assert ret.state == "refunded" and ret.refund is not None
    (refund,) = woo_refunds(flow.woo, placed)
    # the damaged mug is refunded less its label ("unwanted": the customer pays it); the missing tee is not
    label = Decimal(str((ret.label or {}).get("price", {}).get("amount", "0"))) if ret.label else Decimal("0")
    assert Decimal(str(refund["amount"])) == Decimal("14.50") - label
    # the same inspection again changes nothing; another one is refused
    assert (
        inspection.receive(
            rt, account, ret.id, {by_sku[MUG]: "damaged", by_sku[TEE]: "missing"}, "1", "sam"
        ).id
        == ret.id
    )
    with pytest.raises(ReturnConflict):
        inspection.receive(
            rt, account, ret.id, {by_sku[MUG]: "resellable", by_sku[TEE]: "missing"}, "1", "sam"
        )


def test_another_tenants_return_is_unknown(rt: Any, flow: Flow) -> None:
    _placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    ret = portal_return(rt, account, order, key="f")
    with rt.session() as s:
        other = get_or_create_account(s, "Someone Else").id
    assert desk.list_returns(rt, other) == []
    for call in (
        lambda: desk.show(rt, other, ret.id),
        lambda: desk.approve(rt, other, ret.id, "eve", "mine"),
        lambda: inspection.receive(
            rt, other, ret.id, {i.id: "resellable" for i in items(rt, ret.id)}, None, "eve"
        ),
        lambda: close(rt, other, ret.id, "eve", "mine"),
        lambda: override(rt, other, ret.id, "eve", "mine"),
    ):
        with pytest.raises(ReturnNotFound):
            call()
    with pytest.raises(NotFound):
        request_return(
            rt, account_id=other, order_id=order.id, asks=asks(order), source="merchant", key="z", actor="eve"
        )
    shown = desk.show(rt, account, ret.id)
    assert shown["state"] == "approved" and [i["sku"] for i in shown["items"]] == [MUG]
    assert [e["action"] for e in shown["timeline"]][:2] == ["return.requested", "return.approved"]


def test_a_tracker_event_of_no_parcel_and_no_return_is_ignored_with_its_reason(rt: Any) -> None:
    from core.tracking import DeliveryState, TrackerReport
    from sync.tracking.events import apply_report

    report = TrackerReport("trk_nobody", "9400", "USPS", None, DeliveryState.in_transit, "", None, ())
    assert apply_report(rt, report) == "no parcel of ours has tracker trk_nobody (USPS)"


def test_a_refund_made_in_the_woocommerce_admin_is_a_refunded_return(rt: Any, flow: Flow) -> None:
    from sandbox.woocommerce.refunds import create_refund

    placed, order, _ = flow.delivered_on_woo([(MUG, 2)])
    record = flow.woo.store.orders[placed]
    line = record["line_items"][0]
    refund = {"amount": "14.50", "reason": "broken in the post", "api_refund": False, "api_restock": False}
    create_refund(
        flow.woo.store,
        record,
        {**refund, "line_items": [{"id": line["id"], "quantity": 1, "refund_total": "14.50"}]},
    )
    flow.flush()
    flow.flush()  # the same refund seen again on the next order update
    ret = only_return_of(rt, order.id)
    assert ret.state == "refunded" and ret.source == "storefront" and ret.label is None
    assert ret.refund is not None and Decimal(ret.refund["total"]) == Decimal("14.50")
    assert [(i.sku, i.quantity) for i in items(rt, ret.id)] == [(MUG, 1)]
    assert len(woo_refunds(flow.woo, placed)) == 1 and return_labels(flow.easypost) == []
    assert trail(rt, order.id) == ["return.requested", "return.approved", "return.refunded"]


def test_a_cheaper_exchange_refunds_the_difference_once(rt: Any, flow: Flow) -> None:
    placed, order, account = flow.delivered_on_woo([(TEE, 1)])
    line = order.data["line_items"][0]["line_id"]
    cheaper = [
        {"line_id": line, "quantity": 1, "reason": "unwanted", "exchange_sku": MUG, "exchange_price": "14.50"}
    ]
    ret = portal_return(rt, account, order, key="c", lines=cheaper, resolution="exchange")
    drain(rt)
    travel_back(rt, flow.easypost, reload(rt, ret.id))
    flow.flush()
    ret = reload(rt, ret.id)
    assert ret.state == "exchanged", trail(rt, order.id)
    (refund,) = woo_refunds(flow.woo, placed)
    assert Decimal(str(refund["amount"])) == Decimal("4.50")  # 19.00 - 14.50
    refund_return(rt, ret.id)  # a retried job: finished, nothing again
    assert len(woo_refunds(flow.woo, placed)) == 1


def test_a_lost_answer_at_shopify_refunds_through_the_return_once(rt: Any, flow: Flow) -> None:
    placed, order, _ = flow.delivered_on_shopify()
    line_ids = fulfilled_line_ids(flow.shopify, placed.id)
    flow.shopify.request_return(SHOP, placed.id, [(line_ids[0], 1, "WRONG_ITEM", "a blue one came")])
    flow.shopify.faults = Faults(lost_response_rate=1.0, hang_s=0, lost_response_ops=("returnProcess",))
    flow.flush()
    ret = only_return_of(rt, order.id)
    travel_back(rt, flow.easypost, ret)
    flow.shopify.faults = Faults()
    flow.flush()
    refund_return(rt, ret.id)  # a retry after the lost answers
    assert reload(rt, ret.id).state == "refunded", (trail(rt, order.id), dead(rt))
    (sreturn,) = shop_returns(flow.shopify, placed.id)
    (refund,) = shop_refunds(flow.shopify, placed.id)
    assert refund.return_id == sreturn.id
    with rt.session() as s:
        effect = s.scalar(select(Effect).where(Effect.key == f"refund:{ret.id}"))
        assert effect is not None and effect.attempts >= 2


def test_a_portal_return_on_shopify_is_opened_there_once_and_refunded_through_it(rt: Any, flow: Flow) -> None:
    from sync.returns.write_back import write_back_return

    placed, order, account = flow.delivered_on_shopify()
    ret = portal_return(rt, account, order, key="p")
    flow.flush()
    write_back_return(rt, ret.id)  # a retried write-back opens nothing again
    (sreturn,) = shop_returns(flow.shopify, placed.id)
    assert sreturn.status == "OPEN" and reload(rt, ret.id).platform_return_id == str(sreturn.id)
    travel_back(rt, flow.easypost, reload(rt, ret.id))
    flow.flush()
    assert reload(rt, ret.id).state == "refunded", (trail(rt, order.id), dead(rt))
    (refund,) = shop_refunds(flow.shopify, placed.id)
    assert refund.return_id == sreturn.id
    assert len(shop_returns(flow.shopify, placed.id)) == 1 and dead(rt) == []


def test_resume_returns_finds_the_work_a_lost_queue_message_left(rt: Any, flow: Flow) -> None:
    from sync.returns.sweep import resume_returns

    _placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    with rt.session() as s:  # a return approved whose jobs never ran (its messages were lost)
        row = Return(
            account_id=account,
            store_id=order.store_id,
            order_id=order.id,
            key="lost",
            source="merchant",
            state="approved",
            decision={"accepted": True, "refusals": [], "merchant_pays_label": True},
        )
        s.add(row)
        s.flush()
        line = order.data["line_items"][0]
        s.add(
            ReturnItem(
                return_id=row.id,
                account_id=account,
                line_id=line["line_id"],
                sku=MUG,
                quantity=1,
                unit_price="14.50",
                currency="USD",
                reason="defective",
            )
        )
        return_id = row.id
    counts = resume_returns(rt)
    assert counts["buy_return_label"] == 1
    drain(rt)
    assert reload(rt, return_id).state == "label_sent" and len(return_labels(flow.easypost)) == 1
    assert resume_returns(rt) == {"buy_return_label": 0, "refund_return": 0, "write_back_return": 0}


@pytest.mark.parametrize("returns", [{"label": "none", "order_status": {"refunded": "returned"}}])
def test_without_labels_a_return_waits_for_receipt_and_the_order_takes_the_merchants_status(
    rt: Any, flow: Flow
) -> None:
    flow.woo.register_order_status("wc-returned", "Returned")
    placed, order, account = flow.delivered_on_woo([(MUG, 1)])
    ret = portal_return(rt, account, order, key="n")
    flow.flush()
    assert reload(rt, ret.id).state == "approved" and return_labels(flow.easypost) == []
    assert refund_return(rt, ret.id) == "waiting for delivered" and woo_refunds(flow.woo, placed) == []
    inspection.receive(rt, account, ret.id, {i.id: "resellable" for i in items(rt, ret.id)}, None, "sam")
    flow.flush()
    assert reload(rt, ret.id).state == "refunded" and len(woo_refunds(flow.woo, placed)) == 1
    assert flow.woo.store.orders[placed]["status"] == "returned"
    assert trail(rt, order.id)[:4] == [
        "return.requested",
        "return.approved",
        "return.received",
        "return.inspected",
    ]


def test_a_return_cancelled_on_shopify_closes_ours_and_releases_its_exchange(rt: Any, flow: Flow) -> None:
    placed, order, account = flow.delivered_on_shopify()
    on_hand, reserved = level(rt, account, MUG)
    line = order.data["line_items"][0]["line_id"]
    swap = [{"line_id": line, "quantity": 1, "reason": "size_too_small", "exchange_sku": MUG}]
    ret = portal_return(rt, account, order, key="s", lines=swap, resolution="exchange")
    flow.flush()
    assert level(rt, account, MUG) == (on_hand, reserved + 1)
    (sreturn,) = shop_returns(flow.shopify, placed.id)
    flow.shopify.cancel_return(SHOP, sreturn.id)
    flow.flush()
    assert reload(rt, ret.id).state == "closed", (trail(rt, order.id), inbox(rt), dead(rt))
    assert level(rt, account, MUG) == (on_hand, reserved)
    assert trail(rt, order.id).count("return.closed") == 1


def test_a_cheaper_exchange_on_shopify_refunds_the_difference_through_the_return(rt: Any, flow: Flow) -> None:
    placed, order, account = flow.delivered_on_shopify()
    line = order.data["line_items"][0]["line_id"]
    cheaper = [
        {"line_id": line, "quantity": 1, "reason": "unwanted", "exchange_sku": MUG, "exchange_price": "14.50"}
    ]
    ret = portal_return(rt, account, order, key="c", lines=cheaper, resolution="exchange")
    flow.flush()
    travel_back(rt, flow.easypost, reload(rt, ret.id))
    flow.flush()
    ret = reload(rt, ret.id)
    assert ret.state == "exchanged", (trail(rt, order.id), dead(rt))
    (sreturn,) = shop_returns(flow.shopify, placed.id)
    (refund,) = shop_refunds(flow.shopify, placed.id)
    assert refund.return_id == sreturn.id and refund.amount == Decimal("4.50")
    assert dead(rt) == []


def test_core_asks_are_taken_as_they_are_with_their_photo(rt: Any, flow: Flow) -> None:
    from core.returns import Ask

    _placed, order, account = flow.delivered_on_woo([(MUG, 2)])
    line = order.data["line_items"][0]["line_id"]
    without = request_return(
        rt,
        account_id=account,
        order_id=order.id,
        asks=[Ask(line, 1, "defective")],
        source="merchant",
        key="a",
        actor="api",
    )
    assert [r["rule"] for r in without.decision["refusals"]] == ["photo_required"]
    with_photo = request_return(
        rt,
        account_id=account,
        order_id=order.id,
        asks=[Ask(line, 1, "defective", photo=True)],
        source="merchant",
        key="b",
        actor="api",
    )
    assert with_photo.state == "approved"

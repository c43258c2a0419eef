"""The return verbs and readers of both storefronts against the served simulators: what the
connectors write is counted at the simulator, what they read comes from its webhook bodies
and its API. Each write happens once however often it is asked for (as after a lost answer).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from connectors.errors import Rejected
from connectors.netguard import AddressPolicy
from connectors.shopify.storefront import ShopifyStorefront
from connectors.storefront.access import StoreAccess
from connectors.storefront.orders import StoreReturnLine, StoreReturnStatus
from connectors.storefront.writes import ParcelShipped, RefundLine, RefundRequest
from connectors.woocommerce.storefront import WooStorefront
from core.money import Money
from sandbox.harness import FakeClock, RunningServer, serve
from sandbox.shopify import ShopifySimulator
from sandbox.shopify.store import Order, ShopData
from sandbox.woocommerce import WooCommerceSimulator

SANDBOX = AddressPolicy(allow_loopback=True)
SHOP = "returns.myshopify.com"
TOKEN = "shpat_returns"
SHIPPED = ParcelShipped(None, "UPS", "1Z1", None, True)


@pytest.fixture(scope="module")
def shopify_server() -> Iterator[tuple[ShopifySimulator, RunningServer]]:
    sim = ShopifySimulator(api_key="k", api_secret="s", clock=FakeClock())
    with serve(sim) as server:
        yield sim, server


@pytest.fixture
def shopify(shopify_server: tuple[ShopifySimulator, RunningServer]) -> ShopifySimulator:
    sim = shopify_server[0]
    sim.reset()
    sim.add_shop(SHOP, token=TOKEN)
    sim.add_product(SHOP, "Canvas Tote", [{"sku": "TOTE", "price": "20.00", "available": 10}])
    return sim


@pytest.fixture
def sent(shopify: ShopifySimulator) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    emit = shopify.emit

    def record(shop: ShopData, topic: str, payload: dict[str, Any]) -> None:
        events.append((topic, payload))
        emit(shop, topic, payload)

    shopify.emit = record  # type: ignore[method-assign]
    return events


@pytest.fixture
def store(
    shopify_server: tuple[ShopifySimulator, RunningServer], shopify: ShopifySimulator
) -> ShopifyStorefront:
    url = shopify_server[1].url
    access = StoreAccess(1, "shopify", SHOP, {"access_token": TOKEN}, policy=SANDBOX, base_url=url)
    return ShopifyStorefront(access)


def _delivered(sim: ShopifySimulator, store: ShopifyStorefront, units: int = 2) -> tuple[Order, int]:
    order = sim.place_order(SHOP, [("TOTE", units)])
    store.fulfil(str(order.id), SHIPPED)
    [fulfilment] = [f for f in sim.shop(SHOP).fulfillments.values() if f.order_id == order.id]
    return order, fulfilment.lines[0].id


def _usd(amount: Decimal) -> Money:
    return Money(amount, "USD")


def test_shopify_request_is_read_approved_refunded_through_the_return_and_closed_once(
    shopify: ShopifySimulator, store: ShopifyStorefront, sent: list[tuple[str, dict[str, Any]]]
) -> None:
    order, line = _delivered(shopify, store)
    shopify.request_return(SHOP, order.id, [(line, 2, "DEFECTIVE", "Cracked")])
    [body] = [b for t, b in sent if t == "returns/request"]
    read = ShopifyStorefront.read_return(body)
    assert read is not None and read.status is StoreReturnStatus.requested
    line_id = str(order.line_items[0].id)
    assert (read.order_id, read.lines) == (
        str(order.id),
        (StoreReturnLine(line_id, 2, "defective", "Cracked"),),
    )
    ref = read.platform_return_id
    fetched = store.fetch_return(str(order.id), ref)
    assert (
        fetched is not None and fetched.lines == read.lines and fetched.status is StoreReturnStatus.requested
    )

    store.approve_return(str(order.id), ref)
    store.approve_return(str(order.id), ref)  # again, as after a lost answer
    price = order.line_items[0].price * 2
    request = RefundRequest(
        "refund:r1", (RefundLine(line_id, 2, _usd(price)),), None, "Cracked", True, return_ref=ref
    )
    assert store.find_refund(str(order.id), request.key, ref) is None
    made = store.refund(str(order.id), request)
    found = store.find_refund(str(order.id), request.key, ref)
    assert found is not None and found.ref == made.ref
    with pytest.raises(Rejected):  # processing the same units again is refused by the store
        store.refund(str(order.id), request)
    store.close_return(str(order.id), ref)  # already closed by the processing: done, not an error

    shop = shopify.shop(SHOP)
    [refund] = shop.refunds.values()
    assert (refund.amount, [rl.restock_type for rl in refund.lines]) == (price, ["NO_RESTOCK"])
    topics = [t for t, _ in sent if t.startswith("returns/")]
    assert topics == ["returns/request", "returns/approve", "returns/close"]
    after = store.fetch_return(str(order.id), ref)
    assert after is not None and after.status is StoreReturnStatus.closed
    assert (after.refund_total, after.waybill_key) == (_usd(price), "refund:r1")


def test_shopify_decline_and_cancel_are_read_from_their_bodies(
    shopify: ShopifySimulator, store: ShopifyStorefront, sent: list[tuple[str, dict[str, Any]]]
) -> None:
    order, line = _delivered(shopify, store)
    asked = shopify.request_return(SHOP, order.id, [(line, 1)])
    store.decline_return(str(order.id), str(asked.id), "window", "Bought 45 days ago.")
    store.decline_return(str(order.id), str(asked.id), "window", "Bought 45 days ago.")
    [body] = [b for t, b in sent if t == "returns/decline"]
    declined = ShopifyStorefront.read_return(body)
    assert declined is not None
    assert (declined.status, declined.decline_reason) == (StoreReturnStatus.declined, "return_period_ended")
    other = shopify.request_return(SHOP, order.id, [(line, 1)])
    shopify.cancel_return(SHOP, other.id)
    canceled = ShopifyStorefront.read_return(sent[-1][1])
    assert canceled is not None and (canceled.status, canceled.order_id) == (
        StoreReturnStatus.canceled,
        str(order.id),
    )
    assert ShopifyStorefront.orders_named(sent[-1][1]) == frozenset({str(order.id)})


# -- WooCommerce


@pytest.fixture(scope="module")
def woo_server() -> Iterator[tuple[WooCommerceSimulator, RunningServer]]:
    sim = WooCommerceSimulator(https=False)
    with serve(sim) as server:
        sim.bind(server.url)
        yield sim, server


@pytest.fixture
def woo(woo_server: tuple[WooCommerceSimulator, RunningServer]) -> tuple[WooCommerceSimulator, WooStorefront]:
    sim, server = woo_server
    sim.reset()
    ck, cs = sim.create_key("read_write")
    access = StoreAccess(
        2, "woocommerce", server.url, {"consumer_key": ck, "consumer_secret": cs}, policy=SANDBOX
    )
    return sim, WooStorefront(access)


def _woo_order(sim: WooCommerceSimulator) -> tuple[int, int, int]:
    product = sim.add_product("Mug", sku="MUG", price="12.50", stock=10)
    order_id = sim.place_order([("MUG", 2)], payment_method="stripe")
    return order_id, product, int(sim.order(order_id)["line_items"][0]["id"])


def test_woocommerce_refund_is_not_restocked_carries_its_marker_and_a_full_one_refunds_the_order(
    woo: tuple[WooCommerceSimulator, WooStorefront],
) -> None:
    sim, store = woo
    order_id, product, item = _woo_order(sim)
    stock = sim.product(product)["stock_quantity"]
    request = RefundRequest("refund:w1", (RefundLine(str(item), 2, _usd(Decimal("25.00"))),), money_back=True)
    made = store.refund(str(order_id), request)
    found = store.find_refund(str(order_id), request.key)
    assert found is not None and found.ref == made.ref
    order = sim.order(order_id)
    assert order["status"] == "refunded" and sim.product(product)["stock_quantity"] == stock
    [entry] = order["refunds"]
    assert (entry["total"], entry["reason"]) == ("-25.00", "[waybill refund:w1]")
    assert WooStorefront.returns_in_order(order) == ()  # Waybill's own refund is no admin return


def test_woocommerce_admin_refund_is_read_as_a_refunded_return_with_its_lines(
    woo: tuple[WooCommerceSimulator, WooStorefront],
) -> None:
    sim, store = woo
    order_id, _, item = _woo_order(sim)
    refund_id = sim.refund_order(order_id, "12.50", [(item, 1, "12.50")], reason="Broken handle")
    order = sim.order(order_id)
    [seen] = WooStorefront.returns_in_order(order)
    assert (seen.platform_return_id, seen.status, seen.refund_total) == (
        str(refund_id),
        StoreReturnStatus.refunded,
        _usd(Decimal("12.50")),
    )
    fetched = store.fetch_return(str(order_id), str(refund_id))
    assert fetched is not None and fetched.waybill_key is None
    assert fetched.lines == (StoreReturnLine(str(item), 1, "other", "Broken handle"),)


def test_woocommerce_return_moves_and_notes_are_written_once(
    woo: tuple[WooCommerceSimulator, WooStorefront],
) -> None:
    sim, store = woo
    order_id, _, _ = _woo_order(sim)
    oid = str(order_id)
    for _ in range(2):  # the second round is a retry after lost answers
        store.approve_return(oid, "77")
        store.decline_return(oid, "78", "final_sale")
        store.close_return(oid, "77")
        store.note_return(oid, "retnote:77:received", "Your return arrived.", notify=True)
    notes = [n for n in sim.store.notes.values() if n["order_id"] == order_id and "[waybill " in n["note"]]
    assert sorted(n["note"].rsplit("\n", 1)[1] for n in notes) == [
        "[waybill retnote:77:received]",
        "[waybill return-approved:77]",
        "[waybill return-closed:77]",
        "[waybill return-declined:78]",
    ]
    customer = {n["note"].rsplit("\n", 1)[1] for n in notes if n["customer_note"]}
    assert customer == {
        "[waybill retnote:77:received]",
        "[waybill return-approved:77]",
        "[waybill return-declined:78]",
    }
    found = store.find_return_note(oid, "retnote:77:received")
    assert found is not None and store.find_return_note(oid, "retnote:77:shipped") is None


def test_shopify_return_opened_by_waybill_is_found_by_its_key_and_refunded_through_once(
    shopify: ShopifySimulator, store: ShopifyStorefront, sent: list[tuple[str, dict[str, Any]]]
) -> None:
    from connectors.storefront.writes import ReturnLine, ReturnReason, ReturnRequest

    order, _ = _delivered(shopify, store)
    line_id = str(order.line_items[0].id)
    request = ReturnRequest("return:41", (ReturnLine(line_id, 1, ReturnReason.unwanted, "Too big"),))
    assert store.find_return(str(order.id), request.key) is None
    opened = store.open_return(str(order.id), request)
    found = store.find_return(str(order.id), request.key)
    assert opened.ref is not None and found is not None and found.ref == opened.ref
    store.approve_return(str(order.id), opened.ref)  # already open: done, nothing written
    price = order.line_items[0].price
    refund = RefundRequest(
        "refund:41", (RefundLine(line_id, 1, _usd(price)),), money_back=True, return_ref=opened.ref
    )
    store.refund(str(order.id), refund)
    [ret] = shopify.shop(SHOP).returns.values()
    assert (ret.status, ret.lines[0].reason, ret.lines[0].processed) == ("CLOSED", "UNWANTED", 1)
    assert [r.amount for r in shopify.shop(SHOP).refunds.values()] == [price]
    assert [t for t, _ in sent if t.startswith("returns/")] == ["returns/close"]


def test_woocommerce_status_refunded_is_refused_while_money_is_left_and_harmless_once_all_is_refunded(
    woo: tuple[WooCommerceSimulator, WooStorefront],
) -> None:
    from connectors.storefront.writes import OrderStatusRefused

    sim, store = woo
    order_id, _, item = _woo_order(sim)
    store.refund(
        str(order_id), RefundRequest("refund:w2", (RefundLine(str(item), 1, _usd(Decimal("12.50"))),))
    )
    with pytest.raises(OrderStatusRefused, match=r"has 12\.50 not refunded"):
        store.set_order_status(str(order_id), "refunded")
    order = sim.order(order_id)
    assert order["status"] == "processing" and len(order["refunds"]) == 1  # no refund WooCommerce made
    store.refund(
        str(order_id), RefundRequest("refund:w3", (RefundLine(str(item), 1, _usd(Decimal("12.50"))),))
    )
    store.set_order_status(str(order_id), "refunded")
    assert [r["reason"] for r in sim.order(order_id)["refunds"]] == [
        "[waybill refund:w3]",
        "[waybill refund:w2]",
    ]

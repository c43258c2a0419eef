"""The return verbs' contract, run against every storefront (Shopify, WooCommerce, the test
shop), each behind ``responses``: approve, decline and close a return, refund through it, and
note it; each written once (a second call, as after a lost answer, writes nothing more), and
each found again by its lookup where it has one.
"""

from __future__ import annotations

import pytest
import responses

from connectors.storefront.orders import StoreReturnStatus
from connectors.storefront.writes import (
    RefundLine,
    RefundRequest,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    WriteVerbs,
)
from core.errors import Permanent
from tests.contract.storefront.writes_backends import (  # noqa: F401  (fixtures)
    ORDER,
    SHIPPED,
    Fake,
    ShopifyFake,
    WooFake,
    fake_fixture,
    schema_fixture,
    shop_fixture,
    shopify_fake_fixture,
    usd,
)


def requested(fake: Fake, shop: WriteVerbs) -> str:
    """A return the customer asked for, as the storefront holds it: its ref."""
    shop.fulfil(ORDER, SHIPPED)
    if isinstance(fake, ShopifyFake):
        return fake.request_return(11, 1)
    opened = shop.open_return(
        ORDER, ReturnRequest("return:9:1", (ReturnLine("11", 1, ReturnReason.defective),))
    )
    assert opened.ref is not None
    return opened.ref


def moves(fake: Fake, move: str) -> int:
    """How many times the store recorded ``move`` (approved, declined, closed) of a return."""
    if isinstance(fake, ShopifyFake):
        status = {"approved": "OPEN", "declined": "DECLINED", "closed": "CLOSED"}[move]
        return sum(1 for _, to in fake.moves if to == status)
    if isinstance(fake, WooFake):
        return sum(1 for n in fake.notes if f"[waybill return-{move}:" in n["note"])
    lists = fake.lists  # the test shop keeps every list it was sent
    return sum(
        1 for path, items in lists.items() if path.endswith("/moves") for i in items if i["move"] == move
    )


@pytest.mark.parametrize(
    ("verb", "move"),
    [("approve_return", "approved"), ("decline_return", "declined")],
)
def test_a_requested_return_is_approved_or_declined_once(
    fake: Fake, shop: WriteVerbs, verb: str, move: str
) -> None:
    ref = requested(fake, shop)
    args = (ORDER, ref) if verb == "approve_return" else (ORDER, ref, "window", "Bought 45 days ago.")
    first = getattr(shop, verb)(*args)
    again = getattr(shop, verb)(*args)  # as after a lost answer
    assert moves(fake, move) == 1
    assert first.ref is not None and again.ref == first.ref


def test_an_approved_return_is_closed_once(fake: Fake, shop: WriteVerbs) -> None:
    ref = requested(fake, shop)
    shop.approve_return(ORDER, ref)
    first = shop.close_return(ORDER, ref)
    again = shop.close_return(ORDER, ref)
    assert moves(fake, "closed") == 1
    assert again.ref == first.ref


def test_a_declined_return_cannot_be_approved_where_returns_are_native(fake: Fake, shop: WriteVerbs) -> None:
    ref = requested(fake, shop)
    shop.decline_return(ORDER, ref, "final_sale")
    if not shop.native_returns:
        return  # a note-kept return has no state to refuse a move with
    with pytest.raises(Permanent):
        shop.approve_return(ORDER, ref)
    assert moves(fake, "approved") == 0


def test_a_refund_through_a_return_is_found_by_its_key_on_that_return(fake: Fake, shop: WriteVerbs) -> None:
    ref = requested(fake, shop)
    shop.approve_return(ORDER, ref)
    request = RefundRequest(
        "refund:9", (RefundLine("11", 1, usd("19.99")),), usd("5.00"), "Cracked", True, return_ref=ref
    )
    assert shop.find_refund(ORDER, request.key, ref) is None
    made = shop.refund(ORDER, request)
    assert (made.detail["amount"], made.detail["currency"]) == ("24.99", "USD")
    found = shop.find_refund(ORDER, request.key, ref)
    assert found is not None and found.ref == made.ref
    assert shop.find_refund(ORDER, "refund:10", ref) is None


def test_a_return_note_is_written_once_and_found_by_its_key(fake: Fake, shop: WriteVerbs) -> None:
    native = shop.native_returns
    before = list(fake.writes)
    if not native:
        assert shop.find_return_note(ORDER, "retnote:9:received") is None
    first = shop.note_return(ORDER, "retnote:9:received", "Your return arrived.", notify=True)
    again = shop.note_return(ORDER, "retnote:9:received", "Your return arrived.", notify=True)
    found = shop.find_return_note(ORDER, "retnote:9:received")
    assert found is not None and found.ref == first.ref == again.ref
    written = fake.writes[len(before) :]
    assert len(written) == (0 if native else 1)


def test_native_returns_is_said_by_every_storefront(fake: Fake, shop: WriteVerbs) -> None:
    assert shop.native_returns is (fake.platform == "shopify")


# -- what each platform records


def test_shopify_decline_carries_the_platform_reason_and_the_note(shopify_fake: ShopifyFake) -> None:
    fake = shopify_fake
    shop = fake.storefront()
    for rule, expected in (
        ("window", "RETURN_PERIOD_ENDED"),
        ("final_sale", "FINAL_SALE"),
        ("photo_required", "OTHER"),
    ):
        ref = fake.request_return(11, 1)
        written = shop.decline_return(ORDER, ref, rule, "x" * 600)
        assert written.detail["reason"] == expected
        [decline] = [
            v["input"] for name, v in fake.sent if name == "ReturnDeclineRequest" and v["input"]["id"] == ref
        ]
        assert decline["declineReason"] == expected and len(decline["declineNote"]) == 500


def shopify_return(fake: ShopifyFake, units: int, approve: bool = True) -> tuple[WriteVerbs, str]:
    """The Shopify storefront and the ref of a return the customer asked for of ``units`` of
    line 11, approved unless ``approve`` is false."""
    shop = fake.storefront()
    ref = fake.request_return(11, units)
    if approve:
        shop.approve_return(ORDER, ref)
    return shop, ref


def test_shopify_refund_through_a_return_is_return_process_with_its_line_items(
    shopify_fake: ShopifyFake,
) -> None:
    fake = shopify_fake
    shop, ref = shopify_return(fake, 2)
    request = RefundRequest(
        "refund:9", (RefundLine("11", 2, usd("39.98")),), usd("5.00"), "", True, return_ref=ref
    )
    shop.refund(ORDER, request)
    with pytest.raises(Permanent):  # a second processing of the same units is refused
        shop.refund(ORDER, request)
    [given] = fake.processed
    [line] = fake.returns[0]["lines"]
    assert given["returnId"] == ref
    assert given["returnLineItems"] == [{"id": line["id"], "quantity": 2}]
    assert given["financialTransfer"] == {
        "issueRefund": {
            "orderTransactions": [
                {
                    "parentId": "gid://shopify/OrderTransaction/9",
                    "transactionAmount": {"amount": "44.98", "currencyCode": "USD"},
                }
            ]
        }
    }
    assert given["refundShipping"] == {"shippingRefundAmount": {"amount": "5.00", "currencyCode": "USD"}}
    assert given["note"] == "[waybill refund:9]"
    assert [name for name, _ in fake.sent].count("RefundCreate") == 0


def test_shopify_refund_for_units_the_return_does_not_hold_is_refused_before_writing(
    shopify_fake: ShopifyFake,
) -> None:
    fake = shopify_fake
    shop, ref = shopify_return(fake, 1, approve=False)
    request = RefundRequest("refund:9", (RefundLine("12", 1, usd("5")),), return_ref=ref)
    with pytest.raises(Permanent, match="holds not 1 unit"):
        shop.refund(ORDER, request)
    assert fake.processed == []


def test_woocommerce_decline_is_a_customer_note_saying_why() -> None:
    fake = WooFake()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        fake.install(mocked)
        fake.storefront().decline_return(ORDER, "77", "window", "Bought 45 days ago.")
    [note] = fake.notes
    assert note["customer_note"] is True
    assert note["note"] == (
        "Your return request was declined: the return window has ended. Bought 45 days ago.\n"
        "[waybill return-declined:77]"
    )


# -- reading a return back


def held_return(fake: Fake, shop: WriteVerbs) -> str:
    """A return the storefront holds (on WooCommerce: a refund made in the admin): its ref."""
    if isinstance(fake, WooFake):
        item = {"id": 901, "quantity": -1, "meta_data": [{"key": "_refunded_item_id", "value": "11"}]}
        fake.refunds.append({"id": 900, "reason": "Cracked lid", "amount": "19.99", "line_items": [item]})
        return "900"
    return requested(fake, shop)


def test_a_return_the_storefront_holds_is_fetched_with_its_order_lines(fake: Fake, shop: WriteVerbs) -> None:
    ref = held_return(fake, shop)
    found = shop.fetch_return(ORDER, ref)
    assert found is not None and (found.platform_return_id, found.order_id) == (ref.rsplit("/", 1)[-1], ORDER)
    [line] = found.lines
    assert (line.line_id, line.quantity) == ("11", 1)
    assert found.status in (StoreReturnStatus.requested, StoreReturnStatus.refunded)
    assert shop.fetch_return(ORDER, "424242") is None


def test_shopify_refund_through_a_return_of_another_order_or_without_lines_is_refused_before_writing(
    shopify_fake: ShopifyFake,
) -> None:
    fake = shopify_fake
    shop, ref = shopify_return(fake, 1)
    line = (RefundLine("11", 1, usd("5")),)
    with pytest.raises(Permanent, match="has no return"):
        shop.refund("5000000000000000999", RefundRequest("refund:9", line, return_ref=ref))
    with pytest.raises(ValueError, match="needs a line of that return"):
        shop.refund(ORDER, RefundRequest("refund:9", (), usd("5"), return_ref=ref))
    assert fake.processed == []

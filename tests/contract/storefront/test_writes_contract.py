"""The write verbs' contract, run against every storefront: Shopify, WooCommerce and the test
shop (a made-up platform defined in the test suite), each behind ``responses``.

Each write is found again by its lookup (what the effects ledger's recovery calls after a
lost answer) and is not found before it is made; a write that promises to look first does
not write twice; a failure that may pass is ``Retryable`` and a refusal ``Permanent``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses

from connectors.storefront.writes import (
    EventPlace,
    OrderStatusRefused,
    RefundLine,
    RefundRequest,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    Sentiment,
    TrackingStatus,
    TrackingUpdate,
    Verdict,
    VerdictOutcome,
    WriteVerbs,
)
from core.errors import Permanent, Retryable
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

HAPPENED = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def held(key: str = "risk:1:1") -> Verdict:
    facts = ((Sentiment.negative, "Billing and shipping countries differ"),)
    return Verdict(key, "hold", VerdictOutcome.held, facts, "Waybill risk check: score 65, hold.")


def update(
    ref: str, status: TrackingStatus = TrackingStatus.in_transit, notify: bool = True
) -> TrackingUpdate:
    place = EventPlace(city="Memphis", province="TN", country="US", postal_code="38118")
    return TrackingUpdate(
        ref, "1Z999", status, HAPPENED, datetime(2026, 11, 23, tzinfo=UTC), place, "Departed", notify
    )


# -- verdicts and cancellation


def test_a_verdict_is_written_and_its_lookup_finishes_it_or_says_to_write_again(
    fake: Fake, shop: WriteVerbs
) -> None:
    written = shop.record_verdict(ORDER, held())
    assert fake.writes, "the verdict reached the shop"
    again = shop.find_verdict(ORDER, held(), written.ref)
    if again is None:  # the storefront says repeating the write is harmless: it must be
        assert shop.record_verdict(ORDER, held()).to_dict().keys() == written.to_dict().keys()
    else:
        assert again.ref == written.ref
    assert shop.find_verdict(ORDER, held("risk:1:2"), None) is None or fake.platform == "shopify"


def test_the_note_id_is_reported_as_soon_as_it_exists(fake: Fake, shop: WriteVerbs) -> None:
    seen: list[str] = []
    written = shop.record_verdict(ORDER, held(), seen.append)
    assert seen in ([], [written.ref])


def test_cancel_then_is_cancelled_and_a_second_cancel_is_done(fake: Fake, shop: WriteVerbs) -> None:
    assert shop.is_cancelled(ORDER) is False
    shop.cancel(ORDER, "fraud")
    assert shop.is_cancelled(ORDER) is True
    assert shop.cancel(ORDER, "fraud").detail == {"cancelled": True}


# -- fulfilment and completion


def test_fulfil_is_found_by_its_tracking_number_and_never_written_twice(fake: Fake, shop: WriteVerbs) -> None:
    assert shop.find_fulfilment(ORDER, "1Z999") is None
    first = shop.fulfil(ORDER, SHIPPED)
    assert first.ref and shop.find_fulfilment(ORDER, "1Z999") == first.ref
    writes = len(fake.writes)
    assert shop.fulfil(ORDER, SHIPPED).ref == first.ref
    assert len(fake.writes) == writes


def test_complete_is_a_write_only_where_the_storefront_needs_it(fake: Fake, shop: WriteVerbs) -> None:
    shop.complete(ORDER)
    assert bool(fake.writes) is shop.needs_completion


# -- tracking events, returns, refunds


def test_a_tracking_event_is_found_by_its_status_and_time(fake: Fake, shop: WriteVerbs) -> None:
    ref = shop.fulfil(ORDER, SHIPPED).ref
    assert ref is not None
    assert shop.find_tracking_event(ORDER, update(ref)) is None
    posted = shop.post_tracking_event(ORDER, update(ref))
    found = shop.find_tracking_event(ORDER, update(ref))
    assert found is not None and found.ref == posted.ref
    assert shop.find_tracking_event(ORDER, update(ref, TrackingStatus.delivered)) is None


def test_an_order_status_the_store_has_is_set_and_one_it_lacks_is_refused_clearly(
    fake: Fake, shop: WriteVerbs
) -> None:
    if not shop.custom_statuses:  # the flows never ask such a storefront; if asked, it refuses
        with pytest.raises(OrderStatusRefused, match="no custom order statuses"):
            shop.set_order_status(ORDER, "delivered")
        assert fake.writes == []
        return
    assert shop.set_order_status(ORDER, "delivered").detail == {"status": "delivered"}
    assert len(fake.writes) == 1
    with pytest.raises(OrderStatusRefused, match="'signed-for'") as refused:
        shop.set_order_status(ORDER, "signed-for")
    assert isinstance(refused.value, Permanent)  # retrying changes nothing


def test_a_return_is_found_by_its_key(fake: Fake, shop: WriteVerbs) -> None:
    shop.fulfil(ORDER, SHIPPED)
    request = ReturnRequest("return:1:1", (ReturnLine("11", 1, ReturnReason.defective, "Cracked lid"),))
    assert shop.find_return(ORDER, request.key) is None
    opened = shop.open_return(ORDER, request)
    found = shop.find_return(ORDER, request.key)
    assert opened.ref and found is not None and found.ref == opened.ref
    assert shop.find_return(ORDER, "return:1:2") is None


def test_a_refund_is_found_by_its_key_and_carries_its_total(fake: Fake, shop: WriteVerbs) -> None:
    request = RefundRequest(
        "refund:1:1", (RefundLine("11", 1, usd("19.99")),), usd("5.00"), "Cracked lid", True
    )
    assert shop.find_refund(ORDER, request.key) is None
    made = shop.refund(ORDER, request)
    assert made.detail["amount"] == "24.99" and made.detail["currency"] == "USD"
    found = shop.find_refund(ORDER, request.key)
    assert found is not None and found.ref == made.ref
    assert shop.find_refund(ORDER, "refund:1:2") is None


def test_a_refund_without_lines_or_shipping_is_refused_before_any_call(fake: Fake, shop: WriteVerbs) -> None:
    with pytest.raises(ValueError, match="a refund needs a line or shipping"):
        shop.refund(ORDER, RefundRequest("refund:1:9", ()))
    assert fake.writes == []


# -- failures


@pytest.mark.parametrize("status", [500, 503])
def test_a_failure_that_may_pass_is_retryable(fake: Fake, shop: WriteVerbs, status: int) -> None:
    fake.fail_next(status)
    with pytest.raises(Retryable):
        shop.cancel(ORDER, "fraud")


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a_refusal_is_permanent(fake: Fake, shop: WriteVerbs, status: int) -> None:
    fake.fail_next(status)
    with pytest.raises(Permanent):
        shop.refund(ORDER, RefundRequest("refund:1:3", (RefundLine("12", 1, usd("5")),)))


# -- what each platform records


def test_shopify_is_told_the_risk_level_and_cancels_for_fraud_without_restock(
    shopify_fake: ShopifyFake,
) -> None:
    fake = shopify_fake
    shop = fake.storefront()
    shop.record_verdict(ORDER, held())
    shop.cancel(ORDER, "fraud")
    assert fake.risks == [
        {
            "orderId": f"gid://shopify/Order/{ORDER}",
            "riskLevel": "MEDIUM",
            "facts": [{"sentiment": "NEGATIVE", "description": "Billing and shipping countries differ"}],
        }
    ]
    [cancel] = [v for name, v in fake.sent if name == "OrderCancel"]
    assert (cancel["reason"], cancel["restock"], cancel["notifyCustomer"]) == ("FRAUD", False, True)


def test_shopify_event_return_and_refund_carry_what_the_platform_needs(shopify_fake: ShopifyFake) -> None:
    fake = shopify_fake
    shop = fake.storefront()
    ref = shop.fulfil(ORDER, SHIPPED).ref
    assert ref is not None
    shop.post_tracking_event(ORDER, update(ref, TrackingStatus.out_for_delivery))
    shop.open_return(ORDER, ReturnRequest("return:1:1", (ReturnLine("11", 2, ReturnReason.wrong_item),)))
    shop.refund(ORDER, RefundRequest("refund:1:1", (RefundLine("11", 1, usd("19.99")),), money_back=True))
    [event] = fake.events[ref]
    assert (event["status"], event["happenedAt"], event["estimatedDeliveryAt"]) == (
        "OUT_FOR_DELIVERY",
        "2026-11-21T09:30:00Z",
        "2026-11-23T00:00:00Z",
    )
    assert (event["city"], event["zip"], event["message"]) == ("Memphis", "38118", "Departed")
    [opened] = fake.returns
    assert opened["returnLineItems"] == [
        {
            "fulfillmentLineItemId": "gid://shopify/FulfillmentLineItem/211",
            "quantity": 2,
            "returnReason": "WRONG_ITEM",
            "returnReasonNote": "[waybill return:1:1]",
        }
    ]
    [made] = fake.refunds
    assert made["key"] == "refund:1:1"
    assert made["input"]["refundLineItems"] == [
        {"lineItemId": "gid://shopify/LineItem/11", "quantity": 1, "restockType": "NO_RESTOCK"}
    ]
    assert made["input"]["transactions"] == [
        {
            "orderId": f"gid://shopify/Order/{ORDER}",
            "parentId": "gid://shopify/OrderTransaction/9",
            "kind": "REFUND",
            "gateway": "shopify_payments",
            "amount": "19.99",
        }
    ]


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (VerdictOutcome.held, "on-hold"),
        (VerdictOutcome.approved_after_review, "processing"),
        (VerdictOutcome.checked, "processing"),  # left as it was
        (VerdictOutcome.rejected_after_review, "processing"),  # cancelling is its own write
    ],
)
def test_woocommerce_records_a_verdict_as_a_note_and_the_status_that_goes_with_it(
    outcome: VerdictOutcome, status: str
) -> None:
    fake = WooFake()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        fake.install(mocked)
        verdict = Verdict("risk:1:1", "hold", outcome, (), "Waybill risk check: score 65, hold.")
        written = fake.storefront().record_verdict(ORDER, verdict)
    assert fake.order["status"] == status
    assert [n["note"] for n in fake.notes] == ["Waybill risk check: score 65, hold.\n[waybill risk:1:1]"]
    assert written.ref == str(fake.notes[0]["id"])


def test_woocommerce_refund_event_and_return_bodies() -> None:
    fake = WooFake()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        fake.install(mocked)
        shop = fake.storefront()
        shop.fulfil(ORDER, SHIPPED)
        shop.post_tracking_event(ORDER, update("ignored", TrackingStatus.delivered))
        shop.open_return(
            ORDER, ReturnRequest("return:1:1", (ReturnLine("11", 1, ReturnReason.defective, "Cracked"),))
        )
        shop.refund(
            ORDER, RefundRequest("refund:1:1", (RefundLine("11", 1, usd("19.99")),), usd("5"), "Cracked")
        )
    [item] = fake.order["meta_data"][0]["value"]
    assert (item["waybill_status"], item["waybill_status_at"]) == (
        "delivered",
        str(int(HAPPENED.timestamp())),
    )
    event_note, return_note = fake.notes[1]["note"], fake.notes[2]["note"]
    assert event_note.startswith("Your parcel 1Z999 is delivered (Memphis). Departed")
    assert fake.notes[1]["customer_note"] is True
    assert return_note == "Return requested:\n- line 11 x1: defective (Cracked)\n[waybill return:1:1]"
    [refund] = fake.refunds
    assert {k: refund[k] for k in ("amount", "reason", "line_items", "api_refund", "api_restock")} == {
        "amount": "24.99",
        "reason": "Cracked [waybill refund:1:1]",
        "line_items": [{"id": 11, "quantity": 1, "refund_total": "19.99"}],
        "api_refund": False,
        "api_restock": False,
    }

"""WooCommerce order bodies list refunds as ``{id, refund, total}`` (the reason under
``refund``, as the recorded store answers in ../shared/reference/woocommerce show): a refund
Waybill made carries its marker there and is not taken for a refund made in the admin."""

from __future__ import annotations

from decimal import Decimal

from connectors.storefront.orders import StoreReturnStatus
from connectors.storefront.writes import marker
from connectors.woocommerce.returns import in_order


def test_only_the_admin_refund_of_an_order_body_is_a_store_return() -> None:
    body = {
        "id": 4711,
        "currency": "EUR",
        "refunds": [
            {"id": 727, "refund": f"Return 12 {marker('refund:12')}", "total": "-19.00"},
            {"id": 726, "refund": "Returned at the counter", "total": "-10.00"},
            {"id": 725, "refund": "", "total": "-5.50"},
        ],
    }
    found = in_order(body)
    assert [(r.platform_return_id, r.order_id, r.status) for r in found] == [
        ("726", "4711", StoreReturnStatus.refunded),
        ("725", "4711", StoreReturnStatus.refunded),
    ]
    assert [(r.refund_total.amount, r.refund_total.currency) for r in found if r.refund_total] == [
        (Decimal("10.00"), "EUR"),
        (Decimal("5.50"), "EUR"),
    ]

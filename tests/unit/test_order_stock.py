"""When a storefront took an order's units off its own stock, read from its order payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.order_stock import stock_taken
from connectors.shopify.orders import order_from_webhook
from connectors.woocommerce.orders import order_from_rest
from core.inventory import StockTaken

PAID = datetime(2024, 6, 1, 15, 4, 8, tzinfo=UTC)


def woo(payload: Any, status: str, reduced: list[Any] | None, **fields: Any) -> dict[str, Any]:
    """The processing fixture moved to ``status``, each line's ``_reduced_stock`` set (None: no meta)."""
    body: dict[str, Any] = payload("woocommerce", "order_created__processing")
    body.update(status=status, **fields)
    for line, value in zip(body["line_items"], reduced or [None] * len(body["line_items"]), strict=True):
        line["meta_data"] = [] if value is None else [{"id": 9, "key": "_reduced_stock", "value": value}]
    return body


def taken_by_woo(body: dict[str, Any]) -> StockTaken | None:
    return stock_taken("woocommerce", body, order_from_rest(body))


def test_a_pending_woocommerce_order_holds_nothing(payload: Any) -> None:
    body = woo(payload, "pending", None, date_paid=None, date_paid_gmt=None)
    assert taken_by_woo(body) == StockTaken(None)


def test_a_paid_woocommerce_order_was_taken_at_payment_not_creation(payload: Any) -> None:
    body = woo(payload, "processing", ["2"], date_modified_gmt="2024-06-01T18:00:00")
    assert order_from_rest(body).created_at < PAID
    assert taken_by_woo(body) == StockTaken(PAID)


def test_an_order_on_hold_was_taken_at_its_last_change(payload: Any) -> None:
    body = woo(payload, "on-hold", ["1"], date_paid=None, date_paid_gmt=None)
    body["date_modified_gmt"] = "2024-06-01T16:30:00"
    assert taken_by_woo(body) == StockTaken(datetime(2024, 6, 1, 16, 30, tzinfo=UTC))


def test_a_cancelled_order_gave_its_units_back(payload: Any) -> None:
    # wc_increase_stock_levels removed the meta; the payment date stays.
    assert taken_by_woo(woo(payload, "cancelled", None)) == StockTaken(None)


@pytest.mark.parametrize("status", ["refunded", "failed"])
def test_the_lines_meta_decides_over_the_status(payload: Any, status: str) -> None:
    # Neither a refund without restock nor a failed payment afterwards gives stock back.
    assert taken_by_woo(woo(payload, status, [2])) == StockTaken(PAID)
    # A refund that restocked every unit leaves "_reduced_stock" at 0.
    assert taken_by_woo(woo(payload, "processing", ["0"])) == StockTaken(None)
    assert taken_by_woo(woo(payload, "processing", [0])) == StockTaken(None)


def test_lines_without_the_meta_are_read_by_status(payload: Any) -> None:
    assert taken_by_woo(woo(payload, "processing", None)) == StockTaken(PAID)
    assert taken_by_woo(woo(payload, "refunded", None)) == StockTaken(None)


def test_shopify_takes_stock_at_creation(payload: Any) -> None:
    body = payload("shopify", "orders_create__basic")
    order = order_from_webhook(body)
    assert stock_taken("shopify", body, order) == StockTaken(order.created_at)


def test_nothing_is_known_without_a_payload_or_a_reader(payload: Any) -> None:
    body = payload("woocommerce", "order_created__processing")
    order = order_from_rest(body)
    assert stock_taken("woocommerce", None, order) is None
    assert stock_taken("easypost", body, order) is None


def test_a_stock_time_must_be_utc() -> None:
    with pytest.raises(ValueError, match="UTC"):
        StockTaken(datetime(2024, 6, 1, 15, 4, 8))

"""WooCommerce REST orders and ``order.*`` webhook bodies, one fixture per variant, each mapped exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors import MappingError
from connectors.woocommerce.orders import order_from_rest

FIXTURES = [
    "order_created__processing",
    "order_updated__completed",
    "order_created__variation_items",
    "order_updated__cancelled",
    "order__refunded",
    "order_updated__partially_refunded",
    # Put on hold after payment (date_paid set): paid, whatever the status word says.
    "order_updated__on_hold_paid",
    # On hold awaiting a bank transfer (no date_paid): not paid yet.
    "order_created__on_hold_awaiting_payment",
]


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_maps_to_its_expected_order(name: str, payload: Any, expected: Any) -> None:
    assert order_from_rest(payload("woocommerce", name)).to_dict() == expected("woocommerce", name)


def test_every_fixture_has_a_test(fixtures_of: Callable[[str], set[str]]) -> None:
    assert fixtures_of("woocommerce") == set(FIXTURES)


def test_cancellation_is_recorded_at_the_last_modification(payload: Any) -> None:
    order = order_from_rest(payload("woocommerce", "order_updated__cancelled"))
    assert order.is_cancelled is True
    assert order.cancelled_at == datetime(2024, 6, 3, 10, 0, tzinfo=UTC)


def test_trash_is_cancelled(payload: Any) -> None:
    body = payload("woocommerce", "order_created__processing")
    body["status"] = "trash"
    assert order_from_rest(body).cancelled_at == datetime(2024, 6, 1, 15, 4, 8, tzinfo=UTC)


def test_gmt_times_with_an_explicit_zone_are_respected(payload: Any) -> None:
    body = payload("woocommerce", "order_created__processing")
    body["date_created_gmt"] = "2024-06-01T17:04:05+02:00"
    assert order_from_rest(body).created_at == datetime(2024, 6, 1, 15, 4, 5, tzinfo=UTC)


def test_missing_modification_time_falls_back_to_creation(payload: Any) -> None:
    body = payload("woocommerce", "order_created__processing")
    body["date_modified_gmt"] = None
    assert order_from_rest(body).updated_at == datetime(2024, 6, 1, 15, 4, 5, tzinfo=UTC)


def test_the_float_price_field_is_never_read(payload: Any) -> None:
    body = payload("woocommerce", "order_created__processing")
    body["line_items"][0]["price"] = 0.1 + 0.2
    assert str(order_from_rest(body).line_items[0].unit_price.amount) == "19.00"


def test_deleted_webhook_body_is_not_an_order() -> None:
    """``order.deleted`` carries only the id: the mapper says so instead of inventing an order."""
    with pytest.raises(MappingError, match="currency"):
        order_from_rest({"id": 1542})


@pytest.mark.parametrize("bad_id", [1542.0, "x1542", None, True])
def test_an_id_that_is_not_an_exact_integer_is_refused(bad_id: object, payload: Any) -> None:
    body = payload("woocommerce", "order_created__processing")
    body["id"] = bad_id
    with pytest.raises(MappingError, match="id"):
        order_from_rest(body)


@pytest.mark.parametrize(("field", "value"), [("total", "48,92"), ("shipping_total", 7.5), ("total_tax", "")])
def test_a_bad_money_string_is_refused(field: str, value: object, payload: Any) -> None:
    body = payload("woocommerce", "order_created__processing")
    body[field] = value
    with pytest.raises(MappingError, match=field):
        order_from_rest(body)


def test_a_bad_line_subtotal_is_refused(payload: Any) -> None:
    body = payload("woocommerce", "order_created__processing")
    body["line_items"][0]["subtotal"] = "NaN"
    with pytest.raises(MappingError, match="subtotal"):
        order_from_rest(body)


@pytest.mark.parametrize("field", ["currency", "date_created_gmt", "line_items"])
def test_a_missing_required_field_is_named(field: str, payload: Any) -> None:
    body = payload("woocommerce", "order_created__processing")
    del body[field]
    with pytest.raises(MappingError, match=field):
        order_from_rest(body)

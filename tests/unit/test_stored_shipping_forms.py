"""The stored forms of rates, labels and parcels (shipments keep them as JSON) read back exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import Money
from core.shipping import Label, PackItem, Parcel, Rate, parcel_from_json, parcel_to_json

MUG = PackItem("MUG", 350, (Decimal("12.5"), Decimal("9"), Decimal("10")), "line-1", Decimal("14.90"))
TEE = PackItem("TEE", 180, (Decimal("30"), Decimal("25"), Decimal("2")), "line-2", Decimal("22.00"))
PARCEL = Parcel("small", Decimal("20"), Decimal("15.5"), Decimal("10"), 730, (MUG, TEE))


def test_a_parcel_is_written_with_every_figure_as_text_where_exact() -> None:
    assert parcel_to_json(PARCEL) == {
        "box": "small",
        "length_cm": "20",
        "width_cm": "15.5",
        "height_cm": "10",
        "weight_g": 730,
        "value": "36.90",
        "items": [
            {
                "sku": "MUG",
                "line_id": "line-1",
                "grams": 350,
                "dims_cm": ["12.5", "9", "10"],
                "value": "14.90",
            },
            {"sku": "TEE", "line_id": "line-2", "grams": 180, "dims_cm": ["30", "25", "2"], "value": "22.00"},
        ],
    }


def test_a_parcel_reads_back_as_it_was_written() -> None:
    again = parcel_from_json(parcel_to_json(PARCEL))
    assert again == PARCEL
    assert again.value == Decimal("36.90")


def test_a_parcel_stored_before_sizes_and_values_were_kept_reads_with_zeros() -> None:
    old = {
        "box": "small",
        "length_cm": "20",
        "width_cm": "15",
        "height_cm": "10",
        "weight_g": "500",
        "items": [{"sku": "MUG", "grams": "350", "dims_cm": ["12", "9"]}, {"sku": "CAP", "grams": 90}],
    }
    parcel = parcel_from_json(old)
    assert parcel.weight_g == 500
    assert parcel.items == (
        PackItem("MUG", 350, (Decimal("12"), Decimal("9"), Decimal("0")), "", Decimal("0")),
        PackItem("CAP", 90, (Decimal("0"), Decimal("0"), Decimal("0")), "", Decimal("0")),
    )
    assert parcel_from_json({**old, "items": []}).items == ()
    assert parcel_from_json({k: v for k, v in old.items() if k != "items"}).items == ()


@pytest.mark.parametrize("days", [None, 0, 2])
def test_a_rate_reads_back_as_it_was_written(days: int | None) -> None:
    rate = Rate("rate_1", "USPS", "Priority", Money(Decimal("7.35"), "USD"), days)
    stored = rate.to_dict()
    assert stored == {
        "rate_id": "rate_1",
        "carrier": "USPS",
        "service": "Priority",
        "price": Money(Decimal("7.35"), "USD").to_dict(),
        "delivery_days": days,
    }
    assert Rate.from_dict(stored) == rate


def test_a_rate_without_a_delivery_promise_has_none_and_text_days_are_read() -> None:
    base = {
        "rate_id": 5,
        "carrier": "UPS",
        "service": "Ground",
        "price": {"amount": "9.10", "currency": "USD"},
    }
    assert Rate.from_dict(base) == Rate("5", "UPS", "Ground", Money(Decimal("9.10"), "USD"), None)
    assert Rate.from_dict({**base, "delivery_days": "3"}).delivery_days == 3


def test_a_label_reads_back_as_it_was_written_with_and_without_a_price() -> None:
    label = Label(
        "shp_1",
        "9400",
        "USPS",
        "Priority",
        "https://labels/1.pdf",
        Money(Decimal("7.35"), "USD"),
        "trk_1",
        "https://track/9400",
    )
    assert Label.from_dict(label.to_dict()) == label
    bare = {"shipment_id": "shp_2", "tracking_code": "1Z", "carrier": "UPS", "service": "Ground"}
    assert Label.from_dict(bare) == Label("shp_2", "1Z", "UPS", "Ground", "", None, None, None)
    assert Label.from_dict({**bare, "label_url": None, "price": None}).label_url == ""

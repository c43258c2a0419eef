"""What core hands on: settings read into rules and boxes, and the stored form of rates,
choices, parcels and labels, field by field (the timeline and the API show these)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import Money
from core.orders import LineItem
from core.parcels import BoxSpec, choose_parcels, customs_lines, pack_items
from core.risk import BUILTIN_DISPOSABLE, RiskRules
from core.shipping import Considered, Label, PackItem, Parcel, Rate, RateChoice
from settings import Box, RiskSettings

D = Decimal


def test_risk_rules_from_settings_field_by_field() -> None:
    rules = RiskRules.from_settings(
        RiskSettings(
            approve_below=31,
            reject_at=91,
            high_value=D("499.5"),
            high_risk_countries=[" ng ", "Ru"],
            disposable_domains=[" Junk.Test "],
            velocity_max_orders=4,
            expedited_codes=[" Express ", "NEXT_DAY"],
            weights={"velocity": 7},
        )
    )
    assert rules == RiskRules(
        approve_below=31,
        reject_at=91,
        high_value=D("499.5"),
        high_risk_countries=frozenset({"NG", "RU"}),
        disposable_domains=BUILTIN_DISPOSABLE | {"junk.test"},
        velocity_max_orders=4,
        expedited_codes=("express", "next_day"),
        weights={"velocity": 7},
    )
    assert type(rules.high_value) is Decimal and type(rules.weights) is dict


def test_box_from_settings_field_by_field() -> None:
    box = BoxSpec.from_settings(
        Box(
            name="mailer",
            length_cm=D("30.5"),
            width_cm=D("20"),
            height_cm=D("2.5"),
            tare_g=40,
            max_weight_g=900,
            cost=D("0.35"),
        )
    )
    assert box == BoxSpec("mailer", D("30.5"), D("20"), D("2.5"), 40, 900, D("0.35"))
    assert box.dims == (D("30.5"), D("20"), D("2.5"))
    assert (box.volume, box.capacity_g) == (D("1525.000"), 860)


USD = Money(D("5.10"), "USD")
RATE = Rate("rate_1", "USPS", "Ground", USD, 4)
NO_PROMISE = Rate("rate_2", "DHL", "Eco", Money(D("6.00"), "USD"), None)


def test_a_rate_and_a_choice_as_stored() -> None:
    rate = {
        "rate_id": "rate_1",
        "carrier": "USPS",
        "service": "Ground",
        "price": {"amount": "5.10", "currency": "USD"},
        "delivery_days": 4,
    }
    other = {
        "rate_id": "rate_2",
        "carrier": "DHL",
        "service": "Eco",
        "price": {"amount": "6.00", "currency": "USD"},
        "delivery_days": None,
    }
    assert RATE.to_dict() == rate
    assert Considered(NO_PROMISE, False, "too slow").to_dict() == {
        **other,
        "eligible": False,
        "reason": "too slow",
    }
    choice = RateChoice(RATE, (NO_PROMISE,), (Considered(RATE, True, "chosen"),), "cheapest")
    assert choice.to_dict() == {
        "chosen": rate,
        "fallbacks": [other],
        "considered": [{**rate, "eligible": True, "reason": "chosen"}],
        "reason": "cheapest",
    }
    none = RateChoice(None, (), (), "no rates")
    assert none.to_dict() == {"chosen": None, "fallbacks": [], "considered": [], "reason": "no rates"}


def test_a_parcel_as_stored() -> None:
    mug = PackItem("MUG", 300, (D("10"), D("10"), D("8")), "11", D("12.50"))
    parcel = Parcel("small", D("20"), D("15.5"), D("10"), 400, (mug, mug))
    assert parcel.to_dict() == {
        "box": "small",
        "length_cm": "20",
        "width_cm": "15.5",
        "height_cm": "10",
        "weight_g": 400,
        "items": [{"sku": "MUG", "line_id": "11", "grams": 300}] * 2,
    }
    assert parcel.value == D("25.00")
    assert Parcel("x", D(1), D(1), D(1), 1).value == D("0")


@pytest.mark.parametrize("price", [USD, None])
def test_a_label_as_stored(price: Money | None) -> None:
    label = Label(
        "shp_1", "9400", "USPS", "Ground", "https://x/l.pdf", price, "trk_1", "https://t/9400", {"k": 1}
    )
    assert label.to_dict() == {
        "shipment_id": "shp_1",
        "tracking_code": "9400",
        "carrier": "USPS",
        "service": "Ground",
        "label_url": "https://x/l.pdf",
        "price": {"amount": "5.10", "currency": "USD"} if price else None,
        "tracker_id": "trk_1",
        "tracking_url": "https://t/9400",
    }


def usd(amount: str) -> Money:
    return Money(D(amount), "USD")


def test_pack_items_edge_values() -> None:
    lines = [
        LineItem("1", "ONE", "5", None, "One gram", 1, usd("1"), 1, True),  # 1 g is a weight, not "none"
        LineItem("2", "ZERO", "5", None, "Nothing", 0, usd("1"), 100, True),  # quantity 0 packs nothing
        LineItem("3", "", "5", None, "No SKU", 1, usd("2"), 50, True),  # no SKU: fallback size, title as name
    ]
    items = pack_items(lines, {"ONE": [D(1), D(2), D(3)], "": [D(9), D(9), D(9)]}, 500, [D(4), D(5), D(6)])
    assert [(i.sku, i.grams, i.dims_cm, i.value) for i in items] == [
        ("ONE", 1, (D(3), D(2), D(1)), D("1")),
        ("No SKU", 50, (D(6), D(5), D(4)), D("2")),
    ]
    wanted = r"^dimensions need three values \(L, W, H\), got \[Decimal\('1'\), Decimal\('2'\)\]$"
    with pytest.raises(ValueError, match=wanted):
        pack_items(lines[:1], {"ONE": [D(1), D(2)]}, 500, [D(4), D(5), D(6)])


def test_problems_are_worded_for_a_person() -> None:
    box = BoxSpec("only", D(10), D(10), D(10), 0, 1000)
    assert choose_parcels([], [box]).problem == "nothing to ship: no line needs shipping"
    assert choose_parcels([PackItem("A", 1, (D(1), D(1), D(1)))], []).problem == (
        "no boxes are configured (shipping.boxes)"
    )
    pole = PackItem("POLE", 10, (D(20), D(1), D(1)))
    slab = PackItem("SLAB", 10, (D(11), D(11), D(1)))
    plan = choose_parcels([pole, slab, pole], [box])
    assert plan.problem == (
        "POLE (20x1x1 cm, 10 g), SLAB (11x11x1 cm, 10 g) fits no box "
        "(largest: only, 10x10x10 cm, 1000 g of contents)"
    )


def test_customs_lines_sum_values_and_cut_long_titles() -> None:
    a = PackItem("A", 100, (D(1), D(1), D(1)), "1", D("2.50"))
    parcel = Parcel("b", D(1), D(1), D(1), 300, (a, a))
    (line,) = customs_lines(parcel, {"A": "t" * 300}, "us")
    assert (line.description, line.quantity, line.value, line.weight_g, line.origin_country) == (
        "t" * 255,
        2,
        D("5.00"),
        200,
        "US",
    )
    assert type(line.value) is Decimal

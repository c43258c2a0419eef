"""Parcel choice as EasyPost sees it: the chosen box's dimensions and weight, the packing
order of several boxes, and pick lists whose non-shipping lines come first."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from connectors.easypost.mappers import parcel_params
from core.money import Money
from core.orders import LineItem
from core.parcels import BoxSpec, choose_parcels, pack_items
from core.picking import pick_list
from core.shipping import PackItem
from tests.unit.test_risk import BASE

D = Decimal
# Deliberately not listed smallest first, with L, W, H in different orders.
SMALL = BoxSpec("small", D("20"), D("15"), D("10"), 100, 2000, D("0.60"))
FLAT = BoxSpec("flat", D("5"), D("40"), D("30"), 150, 3000, D("0.50"))  # 6000 cm3
MEDIUM = BoxSpec("medium", D("25"), D("35"), D("15"), 250, 10000, D("1.10"))
BOXES = [MEDIUM, FLAT, SMALL]


def usd(amount: str) -> Money:
    return Money(D(amount), "USD")


def line(sku: str, qty: int, grams: int, ships: bool = True, line_id: str = "1") -> LineItem:
    return LineItem(line_id, sku, "5", None, sku.title(), qty, usd("10.00"), grams, ships)


DIMS = {
    "MUG": [D("10"), D("10"), D("8")],
    "BOOK": [D("3"), D("30"), D("22")],
    "PAN": [D("30"), D("20"), D("12")],
}


@pytest.mark.parametrize(
    ("lines", "box", "params"),
    [
        # one mug: small (20x15x10 cm, 100 g tare) -> 7.9 x 5.9 x 4.0 in, 400 g -> 14.2 oz
        (
            [line("MUG", 1, 300)],
            "small",
            {"length": "7.9", "width": "6.0", "height": "4.0", "weight": "14.2"},
        ),
        # a book fits the flat box only (30 cm long): 5x40x30 cm as configured, 150 + 900 g
        (
            [line("BOOK", 1, 900)],
            "flat",
            {"length": "2.0", "width": "15.8", "height": "11.9", "weight": "37.1"},
        ),
        # four mugs: 3200 cm3 > small's 3000; flat has the volume but is 5 cm tall: medium
        (
            [line("MUG", 4, 300)],
            "medium",
            {"length": "9.9", "width": "13.8", "height": "6.0", "weight": "51.2"},
        ),
        # a mug with no weight takes the default (500 g): 100 + 500 = 600 g -> 21.2 oz
        ([line("MUG", 1, 0)], "small", {"length": "7.9", "width": "6.0", "height": "4.0", "weight": "21.2"}),
    ],
)
def test_the_chosen_box_as_sent_to_easypost(lines: list[LineItem], box: str, params: dict[str, str]) -> None:
    items = pack_items(lines, DIMS, 500, [D("10"), D("10"), D("10")])
    plan = choose_parcels(items, BOXES)
    assert plan.problem is None and len(plan.parcels) == 1
    parcel = plan.parcels[0]
    assert parcel.box == box
    assert parcel_params(parcel) == params


def test_the_flat_box_is_refused_for_a_mug_too_tall_for_it() -> None:
    # 8 cm tall does not fit 5 cm: a box must hold each item in every dimension, not just by volume
    plan = choose_parcels(pack_items([line("MUG", 3, 300)], DIMS, 500, [D(1)] * 3), [FLAT, MEDIUM])
    assert [p.box for p in plan.parcels] == ["medium"]
    assert plan.parcels[0].weight_g == 250 + 900


def test_a_parcel_weighs_tare_plus_every_unit() -> None:
    items = pack_items([line("MUG", 2, 300), line("PAN", 1, 1200, line_id="2")], DIMS, 500, [D(1)] * 3)
    (parcel,) = choose_parcels(items, BOXES).parcels
    assert (parcel.box, parcel.weight_g) == ("medium", 250 + 600 + 1200)
    assert (parcel.length_cm, parcel.width_cm, parcel.height_cm) == (D("25"), D("35"), D("15"))
    assert parcel_params(parcel)["weight"] == "72.4"  # 2050 g / 28.3495 = 72.31 -> rounded up


def test_several_boxes_are_packed_bulkiest_first_into_the_first_that_holds() -> None:
    pan = PackItem("PAN", 4000, (D("30"), D("30"), D("12")), "1", D("40"))
    mug = PackItem("MUG", 300, (D("10"), D("10"), D("8")), "2", D("10"))
    pen = PackItem("PEN", 20, (D("14"), D("1"), D("1")), "3", D("2"))
    big = BoxSpec("big", D("32"), D("32"), D("14"), 200, 5000, D("2"))
    plan = choose_parcels([pen, mug, pan, mug, pan], [big, SMALL])
    assert plan.problem is None
    # pans first (largest volume), one per box by weight; mugs then pen join the first that holds them
    assert [(p.box, [i.sku for i in p.items]) for p in plan.parcels] == [
        ("big", ["PAN", "MUG", "MUG", "PEN"]),
        ("big", ["PAN"]),
    ]
    assert [p.weight_g for p in plan.parcels] == [200 + 4000 + 600 + 20, 200 + 4000]


def test_a_split_parcel_shrinks_to_the_smallest_box_that_holds_its_contents() -> None:
    heavy = PackItem("IRON", 1500, (D("10"), D("10"), D("10")), "1", D("5"))
    plan = choose_parcels([heavy] * 7, [SMALL, MEDIUM])  # 10.5 kg: medium holds 9.75 kg of contents
    assert [(p.box, len(p.items)) for p in plan.parcels] == [("medium", 6), ("small", 1)]
    assert [parcel_params(p)["weight"] for p in plan.parcels] == ["326.3", "56.5"]


def test_a_pick_list_with_non_shipping_lines_before_shipping_lines() -> None:
    digital = LineItem("1", "EBOOK", "5", None, "E-book", 2, usd("5"), 0, False)
    gift = LineItem("2", "GIFTCARD", "5", None, "Gift card", 1, usd("25"), 0, False)
    mug = LineItem("3", "MUG", "5", None, "Mug", 2, usd("10"), 300, True)
    cap = LineItem("4", "CAP", "5", None, "Cap", 1, usd("10"), 100, True)
    order = replace(BASE, line_items=(digital, gift, mug, cap))
    picks = pick_list([("#7", order)], {"MUG": "A2", "CAP": "A10", "EBOOK": "A1"})
    assert [(p.bin, p.sku, p.quantity, p.orders) for p in picks] == [
        ("A2", "MUG", 2, ("#7",)),
        ("A10", "CAP", 1, ("#7",)),
    ]
    items = pack_items(order.line_items, DIMS, 500, [D("5"), D("5"), D("5")])
    assert [(i.sku, i.line_id) for i in items] == [("MUG", "3"), ("MUG", "3"), ("CAP", "4")]
    (parcel,) = choose_parcels(items, BOXES).parcels
    assert parcel.weight_g == 100 + 600 + 100

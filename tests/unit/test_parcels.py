"""The box chooser, table-driven, with the empty, boundary and nothing-fits cases."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import Money
from core.orders import LineItem
from core.parcels import (
    BoxSpec,
    Measure,
    choose_parcels,
    customs_lines,
    holds,
    needs_customs,
    pack_items,
    unweighed,
)
from core.shipping import PackItem

D = Decimal
SMALL = BoxSpec("small", D(20), D(15), D(10), 100, 2000, D("0.60"))
MEDIUM = BoxSpec("medium", D(35), D(25), D(15), 250, 10000, D("1.10"))
LARGE = BoxSpec("large", D(50), D(40), D(30), 500, 25000, D("2.00"))
BOXES = [LARGE, SMALL, MEDIUM]  # any order: the chooser ranks them


def unit(sku: str = "MUG", grams: int = 300, dims: tuple[int, int, int] = (10, 10, 8)) -> PackItem:
    return PackItem(sku, grams, (D(dims[0]), D(dims[1]), D(dims[2])), line_id="1", value=D("12.50"))


@pytest.mark.parametrize(
    ("items", "boxes"),
    [
        ([unit()], ["small"]),
        ([unit(dims=(20, 15, 10))], ["small"]),  # exact fit
        ([unit(dims=(10, 20, 15))], ["small"]),  # rotated: dimensions are sorted
        ([unit(dims=(21, 10, 5))], ["medium"]),  # a centimetre too long for small
        ([unit(grams=1900)], ["small"]),  # 1900 + 100 tare = 2000: the limit is allowed
        ([unit(grams=1901)], ["medium"]),  # one gram over
        ([unit()] * 3, ["small"]),  # 3 x 800 cm3 = 2400 <= 3000
        ([unit()] * 4, ["medium"]),  # 3200 cm3 > small's 3000
        ([unit(grams=9000), unit(grams=9000), unit(grams=9000)], ["large", "medium"]),  # 27 kg: 18 + 9
    ],
)
def test_the_smallest_box_that_holds_everything(items: list[PackItem], boxes: list[str]) -> None:
    plan = choose_parcels(items, BOXES)
    assert plan.problem is None
    assert sorted(p.box for p in plan.parcels) == sorted(boxes)


def test_a_parcel_weighs_its_contents_plus_the_tare() -> None:
    (parcel,) = choose_parcels([unit(grams=300), unit(grams=200)], BOXES).parcels
    assert (parcel.box, parcel.weight_g, parcel.length_cm) == ("small", 600, D(20))
    assert parcel.value == D("25.00")


def test_too_many_for_the_largest_box_are_split_into_as_few_parcels_as_first_fit_finds() -> None:
    items = [unit(sku=f"S{i}", grams=6000, dims=(30, 20, 15)) for i in range(7)]  # 42 kg
    plan = choose_parcels(items, BOXES)
    assert plan.problem is None
    assert len(plan.parcels) == 2
    assert all(p.weight_g <= {"small": 2000, "medium": 10000, "large": 25000}[p.box] for p in plan.parcels)
    packed = Counter(i.sku for p in plan.parcels for i in p.items)
    assert packed == Counter(i.sku for i in items)


def test_each_split_parcel_shrinks_to_its_smallest_box() -> None:
    items = [unit(grams=9000)] * 3 + [unit(sku="PEN", grams=10, dims=(5, 1, 1))]
    plan = choose_parcels(items, BOXES)
    assert plan.problem is None
    for parcel in plan.parcels:
        smaller = [
            b
            for b in (SMALL, MEDIUM, LARGE)
            if b.volume < {"small": SMALL, "medium": MEDIUM, "large": LARGE}[parcel.box].volume
        ]
        assert not any(holds(b, parcel.items) for b in smaller)


@pytest.mark.parametrize(
    ("items", "boxes", "problem"),
    [
        ([], BOXES, "nothing to ship"),
        ([unit()], [], "no boxes are configured"),
        ([unit(sku="POLE", dims=(60, 5, 5))], BOXES, "POLE (60x5x5 cm, 300 g) fits no box"),
        ([unit(sku="ANVIL", grams=24501)], BOXES, "ANVIL (10x10x8 cm, 24501 g) fits no box"),
    ],
)
def test_what_cannot_be_packed_is_a_clear_problem(
    items: list[PackItem], boxes: list[BoxSpec], problem: str
) -> None:
    plan = choose_parcels(items, boxes)
    assert plan.parcels == ()
    assert plan.problem is not None and problem in plan.problem


def money(amount: str) -> Money:
    return Money(D(amount), "USD")


def test_pack_items_expands_quantities_with_defaults_and_skips_what_does_not_ship() -> None:
    lines = [
        LineItem("1", "MUG", "5", "6", "Mug", 2, money("12.50"), 300, True),
        LineItem("2", "EBOOK", "7", None, "E-book", 1, money("9.00"), None, False),
        LineItem("3", None, "8", None, "Gift wrap", 1, money("2.00"), None, True),
    ]
    items = pack_items(
        lines, {"MUG": [D(8), D(10), D(10)]}, default_grams=500, default_cm=[D(20), D(15), D(10)]
    )
    assert [(i.sku, i.grams, i.dims_cm) for i in items] == [
        ("MUG", 300, (D(10), D(10), D(8))),
        ("MUG", 300, (D(10), D(10), D(8))),
        ("Gift wrap", 500, (D(20), D(15), D(10))),
    ]
    assert items[0].value == D("12.50") and items[2].line_id == "3"


def test_the_lines_weight_wins_then_the_catalogs_then_the_default() -> None:
    lines = [
        LineItem("1", "KB", "5", "6", "Kettlebell", 1, money("30.00"), 1134, True),  # the line says
        LineItem("2", "PAN", "7", "8", "Pan", 1, money("60.00"), None, True),  # only the catalog says
        LineItem("3", "TIN", "9", None, "Tin", 1, money("9.00"), 0, True),  # 0 g is "not weighed"
        LineItem("4", "CARD", "9", None, "Card", 1, money("5.00"), None, True),  # nobody says
    ]
    known = {
        "1": Measure(grams=2000, dims_cm=(D("30.48"), D("22.86"), D("7.62"))),
        "2": Measure(grams=2495, dims_cm=(D("30.48"), D("22.86"), D("7.62"))),
        "3": Measure(grams=350, dims_cm=None),
    }
    items = pack_items(
        lines, {"KB": [D(12), D(12), D(20)]}, default_grams=500, default_cm=[D(20), D(15), D(10)], known=known
    )
    assert [(i.sku, i.grams, i.dims_cm) for i in items] == [
        ("KB", 1134, (D(20), D(12), D(12))),  # item_dimensions beat the catalog's size
        ("PAN", 2495, (D("30.48"), D("22.86"), D("7.62"))),
        ("TIN", 350, (D(20), D(15), D(10))),
        ("CARD", 500, (D(20), D(15), D(10))),
    ]
    assert [line.line_id for line in unweighed(lines, known)] == ["4"]
    assert [line.line_id for line in unweighed(lines)] == ["2", "3", "4"]


def test_a_weight_of_one_gram_is_a_weight_and_lines_of_no_units_need_none() -> None:
    lines = [
        LineItem("1", "PIN", "5", None, "Pin", 3, money("2.00"), None, True),  # the catalog: 1 g
        LineItem("2", "CARD", "6", None, "Card", 0, money("5.00"), None, True),  # no units: nothing to weigh
        LineItem("3", "TAG", "7", None, "Tag", -1, money("1.00"), None, True),
        LineItem("4", "GIFT", "8", None, "Gift", 1, money("9.00"), None, False),  # does not ship
    ]
    known = {"1": Measure(grams=1, dims_cm=None)}
    assert unweighed(lines, known) == []
    assert [line.line_id for line in unweighed(lines)] == ["1"]
    items = pack_items(lines, {}, default_grams=500, default_cm=[D(5), D(5), D(1)], known=known)
    assert [(i.sku, i.grams) for i in items] == [("PIN", 1)] * 3


@pytest.mark.parametrize(
    ("origin", "destination", "needed"),
    [("US", "CA", True), ("US", "us", False), (None, "CA", False), ("US", None, False)],
)
def test_customs_are_needed_across_borders(origin: str | None, destination: str | None, needed: bool) -> None:
    assert needs_customs(origin, destination) is needed


def test_customs_lines_group_units_per_sku() -> None:
    (parcel,) = choose_parcels([unit(), unit(), unit(sku="TEE", grams=200)], BOXES).parcels
    lines = customs_lines(parcel, {"MUG": "Ceramic mug"}, "us")
    assert [(c.sku, c.description, c.quantity, c.value, c.weight_g, c.origin_country) for c in lines] == [
        ("MUG", "Ceramic mug", 2, D("25.00"), 600, "US"),
        ("TEE", "TEE", 1, D("12.50"), 200, "US"),
    ]


sizes = st.tuples(st.integers(1, 50), st.integers(1, 40), st.integers(1, 30))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 24000), sizes), min_size=1, max_size=25))
def test_every_unit_is_packed_once_and_no_parcel_breaks_its_box(
    specs: list[tuple[int, tuple[int, int, int]]],
) -> None:
    items = [unit(sku=f"U{n}", grams=g, dims=d) for n, (g, d) in enumerate(specs)]
    plan = choose_parcels(items, BOXES)
    assert plan.problem is None  # every unit here fits the large box alone
    packed = [i.sku for p in plan.parcels for i in p.items]
    assert sorted(packed) == sorted(i.sku for i in items)
    by_name = {b.name: b for b in BOXES}
    for parcel in plan.parcels:
        assert holds(by_name[parcel.box], parcel.items)
        assert parcel.weight_g <= by_name[parcel.box].max_weight_g

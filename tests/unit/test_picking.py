"""Pick lists in walking order and packing verification."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from core.money import Money
from core.orders import LineItem
from core.picking import expected_units, natural_key, pick_list, verify_packing
from tests.unit.test_risk import BASE


def line(sku: str | None, qty: int, title: str = "", ships: bool = True) -> LineItem:
    return LineItem("1", sku, "5", None, title or (sku or "?"), qty, Money(Decimal("1"), "USD"), 100, ships)


def test_units_are_grouped_by_sku_and_walked_in_natural_bin_order() -> None:
    orders = [
        ("#1", replace(BASE, line_items=(line("MUG", 1), line("TEE", 2)))),
        ("#2", replace(BASE, line_items=(line("MUG", 3), line("CAP", 1), line("EBOOK", 1, ships=False)))),
        ("#3", replace(BASE, line_items=(line(None, 1, "Gift wrap"), line("MUG", 1)))),
    ]
    picks = pick_list(orders, {"MUG": "A10", "TEE": "A2", "CAP": "B1"})
    assert [(p.bin, p.sku, p.quantity, p.orders) for p in picks] == [
        ("A2", "TEE", 2, ("#1",)),
        ("A10", "MUG", 5, ("#1", "#2", "#3")),
        ("B1", "CAP", 1, ("#2",)),
        (None, "", 1, ("#3",)),
    ]
    assert picks[-1].title == "Gift wrap"


def test_an_empty_batch_has_an_empty_pick_list() -> None:
    assert pick_list([], {"MUG": "A1"}) == []


def test_natural_order() -> None:
    assert sorted(["A10", "a2", "B1", "A1-3"], key=natural_key) == ["A1-3", "a2", "A10", "B1"]


@pytest.mark.parametrize(
    ("scanned", "ok", "missing", "extra", "unknown", "message"),
    [
        (["MUG", "MUG", "TEE"], True, {}, {}, (), "contents verified: 3 unit(s) of 2 SKU(s)"),
        (["0123", "MUG", "TEE"], True, {}, {}, (), "contents verified"),  # a barcode counts as its SKU
        (["MUG", "TEE"], False, {"MUG": 1}, {}, (), "missing 1 x MUG"),
        (["MUG", "MUG", "TEE", "TEE"], False, {}, {"TEE": 1}, (), "extra 1 x TEE"),
        (["MUG", "MUG", "TEE", "PEN"], False, {}, {}, ("PEN",), "not in this order: PEN"),
        (["0999", "MUG", "MUG", "TEE"], False, {}, {"CAP": 1}, (), "extra 1 x CAP"),  # another SKU's barcode
        ([], False, {"MUG": 2, "TEE": 1}, {}, (), "missing 2 x MUG, 1 x TEE"),
    ],
)
def test_verify_packing(
    scanned: list[str],
    ok: bool,
    missing: dict[str, int],
    extra: dict[str, int],
    unknown: tuple[str, ...],
    message: str,
) -> None:
    check = verify_packing({"MUG": 2, "TEE": 1}, scanned, {"0123": "MUG", "0999": "CAP"})
    assert (check.ok, dict(check.missing), dict(check.extra), check.unknown) == (ok, missing, extra, unknown)
    assert message in check.message


def test_a_line_of_no_units_is_not_picked() -> None:
    orders = [("#1", replace(BASE, line_items=(line("MUG", 0), line("TEE", 1), line("CAP", -2))))]
    assert [(p.sku, p.quantity) for p in pick_list(orders, {"MUG": "A1", "CAP": "A3", "TEE": "A2"})] == [
        ("TEE", 1)
    ]


def test_digit_runs_sort_before_letters_and_letters_compare_lower_cased() -> None:
    # a bin that starts with a number comes before one that starts with a letter (never a TypeError)
    assert sorted(["B2", "10", "A", "2-B"], key=natural_key) == ["2-B", "10", "A", "B2"]
    # letters compare as lower case, whatever the case typed: "_" sorts before them, as in a listing
    assert sorted(["AB1", "A_1"], key=natural_key) == ["A_1", "AB1"]
    assert sorted(["ab1", "A_1"], key=natural_key) == ["A_1", "ab1"]


def test_blank_scans_are_skipped_and_the_rest_still_counted() -> None:
    check = verify_packing({"MUG": 2, "TEE": 1}, ["MUG", "  ", "", "MUG", "TEE"])
    assert check.ok and check.message == "contents verified: 3 unit(s) of 2 SKU(s)"


def test_a_sku_the_order_holds_none_of_is_not_expected_and_not_part_of_it() -> None:
    check = verify_packing({"MUG": 1, "CAP": 0}, ["MUG"])
    assert check.ok and check.message == "contents verified: 1 unit(s) of 1 SKU(s)"
    wrong = verify_packing({"MUG": 1, "CAP": 0}, ["MUG", "CAP"])
    assert (wrong.ok, dict(wrong.extra), wrong.unknown) == (False, {}, ("CAP",))
    assert wrong.message == "not in this order: CAP"


def test_every_difference_is_spelled_out_in_one_message() -> None:
    check = verify_packing(
        {"MUG": 2, "TEE": 1, "CAP": 1}, ["TEE", "TEE", "0999", "0999", "PEN", "INK"], {"0999": "BAG"}
    )
    assert dict(check.missing) == {"CAP": 1, "MUG": 2}
    assert dict(check.extra) == {"BAG": 2, "TEE": 1}
    assert check.unknown == ("PEN", "INK")
    assert check.message == "missing 1 x CAP, 2 x MUG; extra 2 x BAG, 1 x TEE; not in this order: PEN, INK"


def test_expected_units_per_sku_of_the_lines_that_ship() -> None:
    order = replace(
        BASE,
        line_items=(
            line("MUG", 2),
            line(" MUG ", 1),  # the same SKU with blanks around it
            line("TEE", 1),
            line("EBOOK", 1, ships=False),  # nothing to pack
            line("CAP", 0),  # no units
            line(None, 1, "Gift wrap"),  # no SKU: its title
            line("  ", 2, "Card"),  # a blank SKU is no SKU
        ),
    )
    assert expected_units(order) == {"MUG": 3, "TEE": 1, "Gift wrap": 1, "Card": 2}


def test_expected_units_of_an_order_with_nothing_to_ship_is_empty() -> None:
    order = replace(BASE, line_items=(line("EBOOK", 1, ships=False), line("MUG", 0)))
    assert expected_units(order) == {}


def test_the_units_expected_are_what_the_packing_check_compares() -> None:
    order = replace(
        BASE, line_items=(line("MUG", 2), line(None, 1, "Gift wrap"), line("EBOOK", 1, ships=False))
    )
    assert verify_packing(expected_units(order), ["MUG", "Gift wrap", "MUG"]).ok
    assert dict(verify_packing(expected_units(order), ["MUG", "Gift wrap"]).missing) == {"MUG": 1}


def test_a_blank_bin_is_no_bin_and_a_bin_is_read_without_surrounding_blanks() -> None:
    orders = [
        ("#1", replace(BASE, line_items=(line("MUG", 1), line("TEE", 1), line("CAP", 1), line("PEN", 1))))
    ]
    picks = pick_list(orders, {"MUG": "", "TEE": " B1 ", "CAP": "   ", "PEN": "A2"})
    assert [(p.bin, p.sku) for p in picks] == [("A2", "PEN"), ("B1", "TEE"), (None, "CAP"), (None, "MUG")]

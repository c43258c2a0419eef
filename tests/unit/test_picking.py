"""Pick lists in walking order and packing verification."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from core.money import Money
from core.orders import LineItem
from core.picking import natural_key, pick_list, verify_packing
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

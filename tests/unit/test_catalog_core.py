"""SKU mapping and the exact-id, quantity and time readers of ``core.catalog`` (table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.readers.ids import id_number as exact_id
from connectors.readers.times import optional_utc_time as utc_time
from core.catalog import CatalogEntry, map_skus, whole_quantity


def entry(
    sku: str | None, product_id: int, variant_id: int | None = None, tracked: bool = True
) -> CatalogEntry:
    return CatalogEntry(
        sku=sku, product_id=product_id, variant_id=variant_id, title=f"#{product_id}", tracked=tracked
    )


CASES: list[tuple[str, list[CatalogEntry], dict[str, int], list[int], dict[str, list[int]], int]] = [
    # name, entries, mapped sku -> entry id, unmapped entry ids, duplicates, untracked
    ("empty", [], {}, [], {}, 0),
    ("one each", [entry("A", 1), entry("B", 2)], {"A": 1, "B": 2}, [], {}, 0),
    ("variants use their own id", [entry("A", 1, 11), entry("B", 1, 12)], {"A": 11, "B": 12}, [], {}, 0),
    ("no SKU", [entry(None, 1), entry("", 2), entry("A", 3)], {"A": 3}, [1, 2], {}, 0),
    ("whitespace SKU is no SKU", [entry("   ", 1), entry("\t", 2)], {}, [1, 2], {}, 0),
    ("surrounding whitespace is trimmed", [entry(" A ", 1)], {"A": 1}, [], {}, 0),
    (
        "duplicate is not mapped",
        [entry("A", 1), entry("A", 2), entry("B", 3)],
        {"B": 3},
        [],
        {"A": [1, 2]},
        0,
    ),
    ("duplicate after trimming", [entry("A", 1, 10), entry("A ", 2, 20)], {}, [], {"A": [10, 20]}, 0),
    ("three holders", [entry("A", 1), entry("A", 2), entry("A", 3)], {}, [], {"A": [1, 2, 3]}, 0),
    ("case matters", [entry("a", 1), entry("A", 2)], {"a": 1, "A": 2}, [], {}, 0),
    (
        "untracked counted among mapped",
        [entry("A", 1, tracked=False), entry("B", 2)],
        {"A": 1, "B": 2},
        [],
        {},
        1,
    ),
    (
        "untracked duplicates are not counted",
        [entry("A", 1, tracked=False), entry("A", 2, tracked=False)],
        {},
        [],
        {"A": [1, 2]},
        0,
    ),
]


@pytest.mark.parametrize(
    ("entries", "mapped", "unmapped", "duplicates", "untracked"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_map_skus(
    entries: list[CatalogEntry],
    mapped: dict[str, int],
    unmapped: list[int],
    duplicates: dict[str, list[int]],
    untracked: int,
) -> None:
    report = map_skus(entries)
    assert {sku: e.entry_id for sku, e in report.mapped.items()} == mapped
    assert [e.entry_id for e in report.unmapped] == unmapped
    assert report.duplicates == duplicates
    assert report.untracked == untracked


BIG = 2**63 - 1  # above 2**53: a float would round it


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        ("7", 7),
        (" 42 ", 42),
        (str(BIG), BIG),
        (f"gid://shopify/ProductVariant/{BIG}", BIG),
        ("gid://shopify/InventoryLevel/5?inventory_item_id=9", 5),
        ("gid://shopify/Product/788032119674292922", 788032119674292922),
    ],
)
def test_exact_id(value: Any, expected: int) -> None:
    assert exact_id(value) == expected


@pytest.mark.parametrize(
    "value", [None, True, 1.0, "1.5", "1e3", "", "gid://shopify/Product/", "abc", "-1", "٣"]
)
def test_exact_id_refuses(value: Any) -> None:
    with pytest.raises(ValueError):
        exact_id(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0),
        (5, 5),
        (-3, -3),
        ("5", 5),
        ("-2", -2),
        ("7.00", 7),
        (4.0, 4),
        ("", None),
        (True, None),
    ],
)
def test_whole_quantity(value: Any, expected: int | None) -> None:
    assert whole_quantity(value) == expected


@pytest.mark.parametrize("value", [2.5, "2.5", "x", "--1"])
def test_whole_quantity_refuses(value: Any) -> None:
    with pytest.raises(ValueError):
        whole_quantity(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T10:00:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),  # WooCommerce *_gmt: no offset
        ("2026-03-01T12:00:00+02:00", datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ],
)
def test_utc_time(value: Any, expected: datetime | None) -> None:
    parsed = utc_time(value)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


@pytest.mark.parametrize(("value", "expected"), [("+3", 3), (" -0 ", 0), ("12.000", 12)])
def test_whole_quantity_reads_a_sign_and_zero_decimals(value: str, expected: int) -> None:
    assert whole_quantity(value) == expected


@pytest.mark.parametrize("value", ["X1", "x1", "1X", "+-1", "1.05", 7.25, [3]])
def test_whole_quantity_refuses_anything_but_a_sign_around_the_digits_and_says_what(value: Any) -> None:
    with pytest.raises(ValueError) as refused:
        whole_quantity(value)
    assert str(refused.value) == f"not a whole quantity: {value!r}"

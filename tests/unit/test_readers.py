"""The payload readers: one function per meaning (connectors/readers)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.readers.ids import gid_tail, id_number, id_text
from connectors.readers.times import naive_utc, optional_utc_time

BIG = 2**63 - 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, "7"),
        ("42", "42"),
        (BIG, str(BIG)),
        ("gid://a/Order/5", "gid://a/Order/5"),
        (None, None),
        ("", None),
    ],
)
def test_id_text_keeps_an_id_as_written(value: object, expected: str | None) -> None:
    assert id_text(value) == expected


@pytest.mark.parametrize("value", [True, 1.0, [1], {"id": 1}])
def test_id_text_is_none_for_what_is_no_id(value: object) -> None:
    assert id_text(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gid://a/Order/12", "12"),
        ("gid://a/InventoryLevel/5?inventory_item_id=9", "5"),
        ("a/b", "a/b"),
        ("12", "12"),
    ],
)
def test_gid_tail(value: str, expected: str) -> None:
    assert gid_tail(value) == expected


def test_id_number_reads_a_gid_exactly() -> None:
    assert id_number(f"gid://a/ProductVariant/{BIG}") == BIG


@pytest.mark.parametrize(
    "stamp",
    ["2026-03-01T10:00:00", "2026-03-01T10:00:00Z", "2026-03-01T12:00:00+02:00", " 2026-03-01T10:00:00 "],
)
def test_naive_utc_reads_a_time_without_zone_as_utc(stamp: str) -> None:
    parsed = naive_utc(stamp)
    assert parsed == datetime(2026, 3, 1, 10, tzinfo=UTC) and parsed.tzinfo is UTC


@pytest.mark.parametrize("value", [None, "", "  "])
def test_optional_utc_time_is_none_for_blank(value: object) -> None:
    assert optional_utc_time(value) is None


def test_naive_utc_refuses_what_is_no_time() -> None:
    with pytest.raises(ValueError):
        naive_utc("yesterday")

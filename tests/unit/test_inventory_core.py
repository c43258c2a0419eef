"""Pure stock decisions: buffers, reservations, push batches, coalescing, audits, low stock."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.woocommerce.inventory import WooBatch, WooStockUpdate, plan_woo_batches
from core.inventory import (
    Buffer,
    Discrepancy,
    StockPosition,
    StockTaken,
    chunks,
    compare_levels,
    low_stock,
    published,
    reserve,
    resolve_buffer,
)


def units(value: str) -> Buffer:
    return Buffer("absolute", Decimal(value))


def pct(value: str) -> Buffer:
    return Buffer("percent", Decimal(value))


# --- buffers and published levels ---------------------------------------------------------


@pytest.mark.parametrize(
    ("available", "buffer", "shown"),
    [
        (10, None, 10),
        (0, None, 0),
        (-3, None, 0),  # oversold: a channel never shows a negative level
        (10, units("0"), 10),
        (10, units("2"), 8),
        (2, units("2"), 0),
        (1, units("2"), 0),
        (-5, units("2"), 0),
        (10, units("2.5"), 7),  # a fractional unit buffer holds back the whole unit
        (10, pct("10"), 9),
        (10, pct("15"), 8),  # 1.5 units reserved -> 2
        (1, pct("1"), 0),  # 0.01 of a unit still holds back the unit
        (200, pct("0.5"), 199),
        (7, pct("100"), 0),
        (7, pct("0"), 7),
        (0, pct("50"), 0),
        (-4, pct("50"), 0),
    ],
)
def test_published_level(available: int, buffer: Buffer | None, shown: int) -> None:
    assert published(available, buffer) == shown


@pytest.mark.parametrize(
    ("kind", "value"),
    [("absolute", "-1"), ("percent", "-0.1"), ("percent", "100.01"), ("units", "1"), ("absolute", "NaN")],
)
def test_buffer_refuses_bad_values(kind: str, value: str) -> None:
    with pytest.raises(ValueError):
        Buffer(kind, Decimal(value))  # type: ignore[arg-type]


def test_buffer_refuses_a_float() -> None:
    with pytest.raises(ValueError):
        Buffer("absolute", 2.0)  # type: ignore[arg-type]


def test_an_absolute_buffer_may_exceed_100() -> None:
    assert published(500, units("250")) == 250


def test_resolve_buffer_prefers_the_sku_then_the_default() -> None:
    per_sku = {"MUG": units("3"), "TEE": pct("20")}
    default = units("1")
    assert resolve_buffer("MUG", per_sku, default) == units("3")
    assert resolve_buffer("TEE", per_sku, None) == pct("20")
    assert resolve_buffer("CAP", per_sku, default) == units("1")
    assert resolve_buffer("CAP", per_sku, None) is None


buffers = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=1000, places=2).map(lambda d: Buffer("absolute", d)),
    st.decimals(min_value=0, max_value=100, places=2).map(lambda d: Buffer("percent", d)),
)


@given(available=st.integers(min_value=-10_000, max_value=100_000), buffer=buffers)
def test_published_is_between_zero_and_available(available: int, buffer: Buffer | None) -> None:
    shown = published(available, buffer)
    assert 0 <= shown <= max(available, 0)


@given(
    available=st.integers(min_value=1, max_value=100_000),
    percent=st.decimals(min_value=0, max_value=100, places=2),
)
def test_percent_buffer_holds_back_at_least_its_share(available: int, percent: Decimal) -> None:
    held = available - published(available, Buffer("percent", percent))
    share = Decimal(available) * percent / 100
    assert share <= held < share + 1


@given(
    low=st.integers(min_value=-100, max_value=10_000),
    extra=st.integers(min_value=0, max_value=10_000),
    buffer=buffers,
)
def test_more_stock_never_publishes_less(low: int, extra: int, buffer: Buffer | None) -> None:
    # Absolute buffers are monotone; percent buffers too, since ceil(a*p) grows by at most a*p's growth + 1.
    assert published(low + extra, buffer) >= published(low, buffer)


# --- reservations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_hand", "reserved", "quantity", "after_reserved", "covered"),
    [
        (10, 0, 1, 1, True),
        (10, 9, 1, 10, True),  # the last unit
        (10, 10, 1, 11, False),  # nothing left: recorded anyway, not covered
        (10, 8, 3, 11, False),  # partly covered counts as not covered
        (5, 0, 5, 5, True),
        (0, 0, 2, 2, False),
        (3, 5, 1, 6, False),  # already oversold
    ],
)
def test_reserve(on_hand: int, reserved: int, quantity: int, after_reserved: int, covered: bool) -> None:
    position, ok = reserve(StockPosition(on_hand, reserved), quantity)
    assert position == StockPosition(on_hand, after_reserved)
    assert position.available == on_hand - after_reserved
    assert ok is covered


@pytest.mark.parametrize("quantity", [0, -1])
def test_reserve_refuses_a_non_positive_quantity(quantity: int) -> None:
    with pytest.raises(ValueError):
        reserve(StockPosition(5, 0), quantity)


def test_fifty_orders_for_the_last_ten_units_cover_exactly_ten() -> None:
    position = StockPosition(on_hand=10, reserved=0)
    covered = 0
    for _ in range(50):
        position, ok = reserve(position, 1)
        covered += ok
    assert covered == 10
    assert position == StockPosition(10, 50)
    assert position.available == -40
    assert published(position.available, None) == 0


@given(
    on_hand=st.integers(min_value=0, max_value=1000),
    quantities=st.lists(st.integers(min_value=1, max_value=20), max_size=60),
)
def test_covered_reservations_never_exceed_stock(on_hand: int, quantities: list[int]) -> None:
    position = StockPosition(on_hand, 0)
    covered_units = 0
    for quantity in quantities:
        position, ok = reserve(position, quantity)
        covered_units += quantity if ok else 0
    assert covered_units <= on_hand
    assert position.reserved == sum(quantities)


# --- chunks and WooCommerce batches -------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [
        ([], 3, []),
        ([1], 3, [[1]]),
        ([1, 2, 3], 3, [[1, 2, 3]]),
        ([1, 2, 3, 4], 3, [[1, 2, 3], [4]]),
        ([1, 2, 3, 4, 5, 6, 7], 2, [[1, 2], [3, 4], [5, 6], [7]]),
        ([1, 2], 1, [[1], [2]]),
    ],
)
def test_chunks(items: list[int], size: int, expected: list[list[int]]) -> None:
    assert chunks(items, size) == expected


@pytest.mark.parametrize("size", [0, -2])
def test_chunks_refuses_a_size_below_one(size: int) -> None:
    with pytest.raises(ValueError):
        chunks([1, 2], size)


@given(items=st.lists(st.integers(), max_size=300), size=st.integers(min_value=1, max_value=120))
def test_chunks_keep_every_item_in_order(items: list[int], size: int) -> None:
    parts = chunks(items, size)
    assert [x for part in parts for x in part] == items
    assert len(parts) == math.ceil(len(items) / size)
    assert all(1 <= len(part) <= size for part in parts)


def simple(product: int, quantity: int = 1) -> WooStockUpdate:
    return WooStockUpdate(product, None, quantity)


def variation(parent: int, variation_id: int, quantity: int = 1) -> WooStockUpdate:
    return WooStockUpdate(parent, variation_id, quantity)


def test_woo_batches_split_simple_and_per_parent_variations() -> None:
    updates = [simple(1, 5), variation(10, 11, 2), simple(2, 0), variation(20, 21), variation(10, 12, 7)]
    assert plan_woo_batches(updates) == [
        WooBatch(None, (simple(1, 5), simple(2, 0))),
        WooBatch(10, (variation(10, 11, 2), variation(10, 12, 7))),
        WooBatch(20, (variation(20, 21),)),
    ]


def test_woo_batches_respect_the_size() -> None:
    updates = [simple(i) for i in range(5)] + [variation(99, 100 + i) for i in range(3)]
    batches = plan_woo_batches(updates, size=2)
    assert [(b.parent_id, len(b.updates)) for b in batches] == [
        (None, 2),
        (None, 2),
        (None, 1),
        (99, 2),
        (99, 1),
    ]


def test_woo_batches_default_to_100_items() -> None:
    batches = plan_woo_batches([simple(i) for i in range(250)])
    assert [len(b.updates) for b in batches] == [100, 100, 50]


def test_woo_batches_of_nothing() -> None:
    assert plan_woo_batches([]) == []


def test_the_benchmark_catalog_needs_the_minimum_batches() -> None:
    # 5,000 simple products and 5,000 variations of 500 parents (10 each): 50 + 500 calls.
    updates = [simple(i) for i in range(5000)]
    updates += [variation(100_000 + p, 200_000 + p * 10 + v) for p in range(500) for v in range(10)]
    assert len(plan_woo_batches(updates)) == 550


woo_updates = st.lists(
    st.tuples(st.integers(min_value=1, max_value=8), st.one_of(st.none(), st.integers(1, 10_000))).map(
        lambda t: WooStockUpdate(t[0], t[1], 3)
    ),
    max_size=400,
)


@given(updates=woo_updates, size=st.integers(min_value=1, max_value=150))
def test_woo_batch_count_is_the_minimum(updates: list[WooStockUpdate], size: int) -> None:
    batches = plan_woo_batches(updates, size)
    simple_count = sum(1 for u in updates if u.variation_id is None)
    per_parent: dict[int, int] = {}
    for u in updates:
        if u.variation_id is not None:
            per_parent[u.product_id] = per_parent.get(u.product_id, 0) + 1
    minimum = math.ceil(simple_count / size) + sum(math.ceil(n / size) for n in per_parent.values())
    assert len(batches) == minimum
    assert all(1 <= len(b.updates) <= size for b in batches)
    # every update lands exactly once, in a batch of the right kind
    assert Counter(u for b in batches for u in b.updates) == Counter(updates)
    for b in batches:
        if b.parent_id is None:
            assert all(u.variation_id is None for u in b.updates)
        else:
            assert all(u.variation_id is not None and u.product_id == b.parent_id for u in b.updates)


# --- coalescing ---------------------------------------------------------------------------


# --- reconciliation -----------------------------------------------------------------------


def test_compare_levels_reports_each_difference_sorted() -> None:
    expected = {"TEE": 4, "MUG": 10, "CAP": 0, "PIN": 7, "BAG": 3}
    channel: dict[str, int | None] = {"MUG": 10, "TEE": 6, "CAP": -1, "PIN": None, "EXTRA": 9}
    assert compare_levels(expected, channel) == [
        Discrepancy("BAG", None, 3, None),  # absent from the channel
        Discrepancy("CAP", -1, 0, -1),
        Discrepancy("PIN", None, 7, None),  # listed without a level
        Discrepancy("TEE", 6, 4, 2),
    ]


def test_compare_levels_agreeing() -> None:
    assert compare_levels({"A": 1, "B": 0}, {"A": 1, "B": 0}) == []
    assert compare_levels({}, {"A": 3}) == []


@given(
    st.dictionaries(st.sampled_from("ABCDEFGH"), st.integers(-5, 50)),
    st.dictionaries(st.sampled_from("ABCDEFGH"), st.one_of(st.none(), st.integers(-5, 50))),
)
def test_compare_levels_flags_exactly_the_disagreements(
    expected: dict[str, int], channel: dict[str, int | None]
) -> None:
    found = compare_levels(expected, channel)
    assert [d.sku for d in found] == sorted(s for s in expected if channel.get(s) != expected[s])
    for d in found:
        assert d.expected == expected[d.sku]
        assert d.channel == channel.get(d.sku)
        assert d.difference == (None if d.channel is None else d.channel - d.expected)


# --- low stock ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("available", "thresholds", "default", "expected"),
    [
        ({}, {}, 5, []),
        ({"A": 3, "B": 5, "C": 6}, {}, 5, ["A", "B"]),  # at the threshold counts as low
        ({"A": 3, "B": 5, "C": 6}, {}, None, []),  # no default: only SKUs with their own threshold
        ({"A": 3, "B": 5, "C": 6}, {"C": 10}, None, ["C"]),
        ({"A": 3, "B": 5, "C": 6}, {"A": 1}, 5, ["B"]),  # the SKU's own threshold wins
        ({"Z": -2, "A": 0}, {}, 0, ["A", "Z"]),
    ],
)
def test_low_stock(
    available: dict[str, int], thresholds: dict[str, int], default: int | None, expected: list[str]
) -> None:
    assert low_stock(available, thresholds, default) == expected


# --- what the refusals say ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("units", Decimal("1"), "buffer kind must be 'absolute' or 'percent', got 'units'"),
        ("absolute", 2.0, "buffer value must be a finite Decimal, got 2.0"),
        ("absolute", Decimal("Infinity"), "buffer value must be a finite Decimal, got Decimal('Infinity')"),
        ("absolute", Decimal("-1"), "buffer value must be >= 0, got -1"),
        ("percent", Decimal("100.5"), "a percent buffer must be <= 100, got 100.5"),
    ],
)
def test_a_bad_buffer_is_refused_with_what_is_wrong(kind: str, value: Decimal, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        Buffer(kind, value)  # type: ignore[arg-type]
    assert str(refused.value) == message


def test_a_reservation_and_a_chunk_size_refused_say_why() -> None:
    with pytest.raises(ValueError, match=r"^a reservation needs a positive quantity, got 0$"):
        reserve(StockPosition(5, 0), 0)
    with pytest.raises(ValueError, match=r"^chunk size must be >= 1, got 0$"):
        chunks([1], 0)


@pytest.mark.parametrize(
    ("buffer", "available", "held"),
    [
        (units("2"), 0, 0),  # nothing available: nothing to hold back
        (units("2"), -3, 0),
        (pct("50"), 0, 0),
        (units("2"), 1, 2),  # more than there is: the level shown is 0, not negative
        (units("2.1"), 5, 3),
        (pct("50"), 3, 2),
    ],
)
def test_the_units_a_buffer_holds_back(buffer: Buffer, available: int, held: int) -> None:
    assert buffer.units(available) == held


def test_stock_taken_needs_a_utc_time_and_says_which() -> None:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert StockTaken(at).at == at
    assert StockTaken(None).at is None
    with pytest.raises(ValueError, match=r"^stock taken at must be timezone-aware UTC, got "):
        StockTaken(datetime(2026, 12, 1, 9, 30))
    with pytest.raises(ValueError, match=r"^stock taken at must be timezone-aware UTC, got "):
        StockTaken(datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))))

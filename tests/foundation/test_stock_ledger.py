"""The stock ledger's repository (db/stock.py) on a real database: movements, items, push marks, buffers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from core.inventory import Buffer
from db.accounts import get_or_create_account
from db.models import CatalogLink, Order, StockBuffer, StockDirty, StockItem, StockMovement, Store, StoreState
from db.session import make_engine, make_session_factory, upgrade
from db.stock import (
    REASONS,
    Moved,
    _clear_marks_statement,
    buffers_for,
    clear_marks,
    ensure_item,
    find_item,
    mark_dirty,
    move,
    movement_exists,
    parse_buffer,
    published_levels,
    tracked_marks,
)


def dirty_marks(s: Session, store_id: int, limit: int = 10_000) -> list[StockDirty]:
    """The store's marks, oldest first (what a push reads first)."""
    query = select(StockDirty).where(StockDirty.store_id == store_id).order_by(StockDirty.marked_at)
    return list(s.scalars(query.limit(limit)))


@pytest.fixture
def s(database_url: str) -> Iterator[Session]:
    upgrade(database_url)
    engine = make_engine(database_url)
    session = make_session_factory(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        engine.dispose()


def account(s: Session, name: str = "acme") -> int:
    return get_or_create_account(s, name).id


def store(s: Session, account_id: int, domain: str, state: StoreState = StoreState.active) -> int:
    row = Store(account_id=account_id, platform="shopify", domain=domain, state=state)
    s.add(row)
    s.flush()
    return row.id


def link(s: Session, account_id: int, store_id: int, sku: str, tracked: bool = True) -> None:
    s.add(
        CatalogLink(
            account_id=account_id, store_id=store_id, sku=sku, product_id=1, variant_id=2, tracked=tracked
        )
    )
    s.flush()


def movements(s: Session, account_id: int) -> list[StockMovement]:
    return list(
        s.scalars(
            select(StockMovement).where(StockMovement.account_id == account_id).order_by(StockMovement.id)
        )
    )


def test_a_new_item_starts_at_zero_and_is_found_again_by_sku_and_location(s: Session) -> None:
    a, b = account(s, "alpha"), account(s, "beta")
    tote = ensure_item(s, a, "TOTE", "default")
    assert ensure_item(s, a, "TOTE", "default") == tote  # the same item, not a second one
    back, shelf = ensure_item(s, a, "TOTE", "backroom"), ensure_item(s, a, "TOTE", "warehouse")
    assert len({tote, back, shelf, ensure_item(s, b, "TOTE", "default")}) == 4
    # Each location is its own item, whichever sorts first.
    assert [ensure_item(s, a, "TOTE", loc) for loc in ("warehouse", "default", "backroom")] == [
        shelf,
        tote,
        back,
    ]
    item = find_item(s, a, "TOTE", "default")
    assert item is not None and (item.id, item.sku, item.location, item.on_hand, item.reserved) == (
        tote,
        "TOTE",
        "default",
        0,
        0,
    )
    assert item.created_at is not None and item.created_at.tzinfo is not None
    assert find_item(s, a, "TOTE", "backroom") is not None
    assert find_item(s, a, "MUG", "default") is None
    assert find_item(s, account(s, "gamma"), "TOTE", "default") is None
    assert s.scalar(select(StockItem.on_hand).where(StockItem.id == tote)) == 0


def test_a_movement_changes_the_level_once_and_records_what_why_and_where(s: Session) -> None:
    a = account(s)
    shop = store(s, a, "acme.myshopify.com")
    order = Order(
        account_id=a,
        store_id=shop,
        platform="shopify",
        platform_order_id="1005",
        number="#1005",
        financial_status="paid",
        fulfillment_status="unfulfilled",
        platform_updated_at=datetime(2026, 3, 2, tzinfo=UTC),
        data={},
    )
    s.add(order)
    s.flush()
    item = ensure_item(s, a, "TOTE", "default")
    first = move(
        s, item, account_id=a, key="import:TOTE", reason="initial_import", source="store:1", on_hand=10
    )
    assert first == Moved(item, "TOTE", 10, 0, 10, 0, True)
    moved = move(
        s,
        item,
        account_id=a,
        key="order:5:TOTE:reserve",
        reason="order_reserved",
        source="order:5",
        reserved=3,
        store_id=shop,
        order_id=order.id,
        note="held",
    )
    assert moved == Moved(item, "TOTE", 10, 3, 0, 3, True)
    assert (moved.available, moved.available_before) == (7, 10)
    shipped = move(
        s,
        item,
        account_id=a,
        key="order:5:ship",
        reason="order_shipped",
        source="order:5",
        on_hand=-3,
        reserved=-3,
    )
    assert shipped is not None and (
        shipped.on_hand,
        shipped.reserved,
        shipped.available,
        shipped.available_before,
    ) == (
        7,
        0,
        7,
        7,
    )
    rows = [
        (
            m.stock_item_id,
            m.key,
            m.reason,
            m.source,
            m.on_hand_delta,
            m.reserved_delta,
            m.on_hand_after,
            m.reserved_after,
            m.store_id,
            m.order_id,
            m.note,
        )
        for m in movements(s, a)
    ]
    assert rows == [
        (item, "import:TOTE", "initial_import", "store:1", 10, 0, 10, 0, None, None, None),
        (item, "order:5:TOTE:reserve", "order_reserved", "order:5", 0, 3, 10, 3, shop, order.id, "held"),
        (item, "order:5:ship", "order_shipped", "order:5", -3, -3, 7, 0, None, None, None),
    ]
    assert all(m.at is not None and m.at.tzinfo is not None for m in movements(s, a))
    assert s.scalar(select(StockItem.on_hand).where(StockItem.id == item)) == 7


def test_replaying_a_movement_key_changes_nothing(s: Session) -> None:
    a = account(s)
    item = ensure_item(s, a, "TOTE", "default")
    assert (
        move(s, item, account_id=a, key="k1", reason="manual_adjustment", source="t", on_hand=5) is not None
    )
    assert movement_exists(s, a, "k1") and not movement_exists(s, a, "k2")
    assert move(s, item, account_id=a, key="k1", reason="manual_adjustment", source="t", on_hand=5) is None
    assert move(s, item, account_id=a, key="k1", reason="count_correction", source="x", on_hand=99) is None
    assert [m.key for m in movements(s, a)] == ["k1"]
    assert s.scalar(select(StockItem.on_hand).where(StockItem.id == item)) == 5


def test_movement_keys_are_per_account(s: Session) -> None:
    a, b = account(s, "alpha"), account(s, "beta")
    item_a, item_b = ensure_item(s, a, "TOTE", "default"), ensure_item(s, b, "TOTE", "default")
    assert move(s, item_a, account_id=a, key="import:TOTE", reason="initial_import", source="t", on_hand=4)
    assert not movement_exists(s, b, "import:TOTE")
    moved = move(s, item_b, account_id=b, key="import:TOTE", reason="initial_import", source="t", on_hand=9)
    assert moved is not None and (moved.item_id, moved.on_hand) == (item_b, 9)
    assert find_item(s, a, "TOTE", "default").on_hand == 4  # type: ignore[union-attr]


def test_an_unknown_reason_is_refused_before_anything_moves(s: Session) -> None:
    a = account(s)
    item = ensure_item(s, a, "TOTE", "default")
    with pytest.raises(ValueError) as refused:
        move(s, item, account_id=a, key="k", reason="order_lost", source="t", on_hand=-1)
    assert str(refused.value) == "unknown stock movement reason 'order_lost'"
    assert movements(s, a) == [] and s.scalar(select(StockItem.on_hand).where(StockItem.id == item)) == 0
    for reason in REASONS:  # every listed reason is accepted
        assert move(s, item, account_id=a, key=f"k:{reason}", reason=reason, source="t") is not None


def test_another_accounts_item_cannot_be_moved(s: Session) -> None:
    a, b = account(s, "alpha"), account(s, "beta")
    item_a = ensure_item(s, a, "TOTE", "default")
    move(s, item_a, account_id=a, key="import", reason="initial_import", source="t", on_hand=5)
    with pytest.raises(NoResultFound):
        move(s, item_a, account_id=b, key="steal", reason="manual_adjustment", source="t", on_hand=-5)
    assert s.scalar(select(StockItem.on_hand).where(StockItem.id == item_a)) == 5


def test_stock_may_go_below_zero_and_the_ledger_says_so(s: Session) -> None:
    # An over-sell is recorded as it happened, never clamped: available below zero is the signal.
    a = account(s)
    item = ensure_item(s, a, "TOTE", "default")
    move(s, item, account_id=a, key="import", reason="initial_import", source="t", on_hand=1)
    moved = move(s, item, account_id=a, key="o1", reason="order_reserved", source="t", reserved=3)
    assert moved is not None and (moved.on_hand, moved.reserved, moved.available, moved.available_before) == (
        1,
        3,
        -2,
        1,
    )
    damaged = move(s, item, account_id=a, key="d1", reason="manual_adjustment", source="t", on_hand=-4)
    assert damaged is not None and (damaged.on_hand, damaged.available) == (-3, -6)
    assert movements(s, a)[-1].on_hand_after == -3


def test_a_loaded_item_shows_the_level_after_the_movement(s: Session) -> None:
    a = account(s)
    item_id = ensure_item(s, a, "TOTE", "default")
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    s.execute(update(StockItem).where(StockItem.id == item_id).values(updated_at=long_ago))
    item = find_item(s, a, "TOTE", "default")
    assert item is not None and item.on_hand == 0 and item.updated_at == long_ago
    moved = move(
        s, item, account_id=a, key="import", reason="initial_import", source="t", on_hand=6, reserved=2
    )
    assert moved is not None and moved.item_id == item.id
    assert (item.on_hand, item.reserved) == (6, 2) and item.updated_at > long_ago


def test_overlong_keys_and_sources_are_cut_to_their_columns(s: Session) -> None:
    a = account(s)
    item = ensure_item(s, a, "TOTE", "default")
    key, source = "k" * 254 + "XY", "s" * 199 + "XY"
    move(s, item, account_id=a, key=key, reason="manual_adjustment", source=source, on_hand=1)
    m = movements(s, a)[0]
    assert (m.key, m.source) == (key[:255], source[:200])
    assert (len(m.key), len(m.source)) == (255, 200)


def test_tracked_marks_are_the_accounts_tracked_skus_on_active_stores(s: Session) -> None:
    a, b = account(s, "alpha"), account(s, "beta")
    live, gone, other = (
        store(s, a, "a.myshopify.com"),
        store(s, a, "old.myshopify.com", StoreState.uninstalled),
        store(s, b, "b.myshopify.com"),
    )
    link(s, a, live, "TOTE")
    link(s, a, live, "MUG")
    link(s, a, live, "CAP", tracked=False)
    link(s, a, gone, "TOTE")
    link(s, b, other, "TOTE")
    found = tracked_marks(s, a, ["TOTE", "CAP", "TOTE", "MUG", "HAT"])
    assert found == [(live, "MUG"), (live, "TOTE")]
    assert tracked_marks(s, a, []) == []
    assert tracked_marks(s, b, ["TOTE"]) == [(other, "TOTE")]


def test_marks_are_set_per_channel_refreshed_listed_oldest_first_and_cleared_unless_newer(s: Session) -> None:
    a = account(s)
    one, two = store(s, a, "one.myshopify.com"), store(s, a, "two.myshopify.com")
    for sku in ("TOTE", "MUG", "CAP"):
        link(s, a, one, sku)
    link(s, a, two, "TOTE")
    assert mark_dirty(s, a, ["TOTE"]) == {one, two}
    assert mark_dirty(s, a, []) == set() and mark_dirty(s, a, ["NOPE"]) == set()
    assert mark_dirty(s, a, ["MUG", "CAP"]) == {one}
    base = datetime.now(UTC) - timedelta(hours=1)
    for sku, minutes in (("TOTE", 2), ("MUG", 0), ("CAP", 1)):
        s.execute(
            update(StockDirty)
            .where(StockDirty.sku == sku)
            .values(marked_at=base + timedelta(minutes=minutes))
        )
    s.expire_all()
    assert [m.sku for m in dirty_marks(s, one)] == ["MUG", "CAP", "TOTE"]
    assert [m.sku for m in dirty_marks(s, one, limit=2)] == ["MUG", "CAP"]
    assert [m.sku for m in dirty_marks(s, two)] == ["TOTE"]
    read = {m.sku: m.marked_at for m in dirty_marks(s, one)}
    mark_dirty(s, a, ["TOTE"])  # changed again while a push was under way: the mark moves on
    s.expire_all()
    refreshed = {m.sku: m.marked_at for m in dirty_marks(s, one)}
    assert refreshed["TOTE"] > read["TOTE"] and refreshed["MUG"] == read["MUG"] and len(refreshed) == 3
    clear_marks(s, one, [])
    assert len(dirty_marks(s, one)) == 3
    clear_marks(s, one, [("CAP", read["CAP"])])  # one SKU: the older MUG stays
    assert [m.sku for m in dirty_marks(s, one)] == ["MUG", "TOTE"]
    clear_marks(s, one, list(read.items()))  # what the push read
    assert [m.sku for m in dirty_marks(s, one)] == ["TOTE"]  # only the newer mark is left
    clear_marks(s, one, [("TOTE", refreshed["TOTE"])])  # the exact time read: cleared
    assert dirty_marks(s, one) == []
    assert [m.sku for m in dirty_marks(s, two)] == ["TOTE"]  # another channel's mark of that time untouched


def test_a_push_reads_at_most_ten_thousand_marks(s: Session) -> None:
    a = account(s)
    one = store(s, a, "one.myshopify.com")
    at = datetime.now(UTC)
    s.execute(
        insert(StockDirty), [{"store_id": one, "sku": f"SKU{n:05d}", "marked_at": at} for n in range(10_001)]
    )
    assert len(dirty_marks(s, one)) == 10_000


def test_the_clearing_statement_deletes_one_channels_sku_up_to_the_time_read(s: Session) -> None:
    a = account(s)
    one, two = store(s, a, "one.myshopify.com"), store(s, a, "two.myshopify.com")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    t1 = t0 + timedelta(seconds=1)
    s.add_all(
        [
            StockDirty(store_id=one, sku="TOTE", marked_at=t1),
            StockDirty(store_id=one, sku="MUG", marked_at=t0),
            StockDirty(store_id=two, sku="TOTE", marked_at=t0),
        ]
    )
    s.flush()
    statement = _clear_marks_statement()
    statement.run(s, [{"b_store": one, "b_sku": "TOTE", "b_marked": t0}])  # read before its newer mark
    statement.run(s, [{"b_store": one, "b_sku": "MUG", "b_marked": t0 - timedelta(seconds=1)}])
    assert sorted((m.store_id, m.sku) for m in s.scalars(select(StockDirty))) == [
        (one, "MUG"),
        (one, "TOTE"),
        (two, "TOTE"),
    ]
    statement.run(s, [{"b_store": one, "b_sku": "TOTE", "b_marked": t1}])
    s.expire_all()
    assert sorted((m.store_id, m.sku) for m in s.scalars(select(StockDirty))) == [(one, "MUG"), (two, "TOTE")]


def test_items_and_marks_on_postgresql(postgres_url: str) -> None:
    # The embedded backend runs on SQLite; these statements are written per dialect (ON CONFLICT).
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with make_session_factory(engine)() as pg:
            a = account(pg)
            item = ensure_item(pg, a, "TOTE", "default")
            assert ensure_item(pg, a, "TOTE", "default") == item
            assert ensure_item(pg, a, "TOTE", "backroom") != item
            one = store(pg, a, "one.myshopify.com")
            link(pg, a, one, "TOTE")
            assert mark_dirty(pg, a, ["TOTE"]) == {one}
            first = dirty_marks(pg, one)[0].marked_at
            assert mark_dirty(pg, a, ["TOTE"]) == {one}
            pg.expire_all()
            again = dirty_marks(pg, one)[0].marked_at
            assert again > first
            clear_marks(pg, one, [("TOTE", first)])
            assert [m.sku for m in dirty_marks(pg, one)] == ["TOTE"]
            clear_marks(pg, one, [("TOTE", again)])
            assert dirty_marks(pg, one) == []
    finally:
        engine.dispose()


def test_clearing_marks_sees_marks_set_earlier_in_the_same_transaction(s: Session) -> None:
    a = account(s)
    one = store(s, a, "one.myshopify.com")
    link(s, a, one, "TOTE")
    s.add(StockDirty(store_id=one, sku="TOTE", marked_at=datetime(2026, 1, 1, tzinfo=UTC)))
    clear_marks(s, one, [("TOTE", datetime(2026, 1, 1, tzinfo=UTC))])
    assert s.scalar(select(StockDirty)) is None


def test_buffers_are_per_sku_with_a_channel_default(s: Session) -> None:
    a = account(s)
    one, two = store(s, a, "one.myshopify.com"), store(s, a, "two.myshopify.com")
    assert buffers_for(s, one) == ({}, None)
    s.add_all(
        [
            StockBuffer(account_id=a, store_id=one, sku="*", kind="percent", value=Decimal("25")),
            StockBuffer(account_id=a, store_id=one, sku="TOTE", kind="absolute", value=Decimal("2")),
            StockBuffer(account_id=a, store_id=two, sku="MUG", kind="absolute", value=Decimal("1")),
        ]
    )
    s.flush()
    per_sku, default = buffers_for(s, one)
    assert per_sku == {"TOTE": Buffer("absolute", Decimal("2"))}
    assert default == Buffer("percent", Decimal("25"))
    assert buffers_for(s, two) == ({"MUG": Buffer("absolute", Decimal("1"))}, None)


@pytest.mark.parametrize(
    ("text", "buffer"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("2", Buffer("absolute", Decimal("2"))),
        (" 3 ", Buffer("absolute", Decimal("3"))),
        ("1.5", Buffer("absolute", Decimal("1.5"))),
        ("10%", Buffer("percent", Decimal("10"))),
        (" 12.5 % ", Buffer("percent", Decimal("12.5"))),
        ("0", Buffer("absolute", Decimal("0"))),
    ],
)
def test_a_buffer_is_read_from_its_text(text: str | None, buffer: Buffer | None) -> None:
    assert parse_buffer(text) == buffer


def test_published_levels_hold_back_each_channels_buffer(s: Session) -> None:
    a, b = account(s, "alpha"), account(s, "beta")
    one = store(s, a, "one.myshopify.com")
    for sku, on_hand, reserved in (("TOTE", 10, 0), ("MUG", 4, 1), ("CAP", 8, 0), ("SOLD", 2, 5)):
        item = ensure_item(s, a, sku, "default")
        move(s, item, account_id=a, key=f"i:{sku}", reason="initial_import", source="t", on_hand=on_hand)
        move(s, item, account_id=a, key=f"r:{sku}", reason="order_reserved", source="t", reserved=reserved)
    back = ensure_item(s, a, "TOTE", "backroom")
    move(s, back, account_id=a, key="i:back", reason="initial_import", source="t", on_hand=50)
    other = ensure_item(s, b, "TOTE", "default")
    move(s, other, account_id=b, key="i:b", reason="initial_import", source="t", on_hand=70)
    shop = s.get(Store, one)
    assert shop is not None
    skus = ["TOTE", "MUG", "SOLD", "NONE"]
    assert published_levels(s, shop, skus, "default") == {"TOTE": 10, "MUG": 3, "SOLD": 0}
    assert published_levels(s, shop, ["TOTE"], "backroom") == {"TOTE": 50}
    fallback = Buffer("absolute", Decimal("1"))
    assert published_levels(s, shop, skus, "default", fallback) == {"TOTE": 9, "MUG": 2, "SOLD": 0}
    s.add(StockBuffer(account_id=a, store_id=one, sku="TOTE", kind="absolute", value=Decimal("4")))
    s.flush()
    assert published_levels(s, shop, skus, "default", fallback) == {"TOTE": 6, "MUG": 2, "SOLD": 0}
    s.add(StockBuffer(account_id=a, store_id=one, sku="*", kind="percent", value=Decimal("50")))
    s.flush()  # the channel's own default wins over the fallback
    assert published_levels(s, shop, skus, "default", fallback) == {"TOTE": 6, "MUG": 1, "SOLD": 0}
    assert published_levels(s, shop, [], "default") == {}

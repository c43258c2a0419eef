"""db.bulk.Many: one statement for many rows, through the driver, inside the session's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.bulk import Many
from db.models import UTCDateTime
from db.session import make_engine, make_session_factory, session_scope

T0 = datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=UTC)

metadata = MetaData()
rows_table = Table(
    "bulk_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sku", String(40), nullable=False),
    Column("qty", Integer),
    Column("at", UTCDateTime()),
)


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with session_scope(make_session_factory(engine)) as s:
        s.execute(
            insert(rows_table),
            [{"id": i, "sku": f"S-{i}", "qty": 0, "at": T0} for i in range(1, 6)],
        )
    yield make_session_factory(engine)
    metadata.drop_all(engine)
    engine.dispose()


def read(factory: sessionmaker[Session]) -> dict[int, tuple[str, int | None, datetime | None]]:
    with session_scope(factory) as s:
        return {r.id: (r.sku, r.qty, r.at) for r in s.execute(select(rows_table))}


SET = Many(
    update(rows_table)
    .where(rows_table.c.id == bindparam("b_id"))
    .values(qty=bindparam("b_qty"), at=bindparam("b_at", type_=rows_table.c.at.type))
)
CLEAR = Many(
    delete(rows_table).where(
        rows_table.c.sku == bindparam("b_sku"),
        rows_table.c.at <= bindparam("b_at", type_=rows_table.c.at.type),
    )
)


def test_updates_each_row_with_its_own_values_and_times_stay_utc(factory: sessionmaker[Session]) -> None:
    later = T0 + timedelta(hours=3, microseconds=7)
    paris = later.astimezone(timezone(timedelta(hours=1)))  # the same instant, written from another zone
    with session_scope(factory) as s:
        SET.run(s, [{"b_id": 1, "b_qty": 7, "b_at": later}, {"b_id": 3, "b_qty": None, "b_at": paris}])
        SET.run(s, [{"b_id": 4, "b_qty": -2, "b_at": None}])
    got = read(factory)
    assert got[1] == ("S-1", 7, later) and got[1][2].tzinfo is not None
    assert got[3] == ("S-3", None, later)
    assert got[4] == ("S-4", -2, None)
    assert got[2] == ("S-2", 0, T0) and got[5] == ("S-5", 0, T0)  # untouched


def test_a_row_refreshed_meanwhile_is_not_deleted(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        s.execute(update(rows_table).where(rows_table.c.id == 2).values(at=T0 + timedelta(seconds=1)))
    with session_scope(factory) as s:
        CLEAR.run(s, [{"b_sku": f"S-{i}", "b_at": T0} for i in (1, 2, 3)])
    assert sorted(read(factory)) == [2, 4, 5]


def test_runs_in_the_sessions_transaction(factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), session_scope(factory) as s:
        CLEAR.run(s, [{"b_sku": "S-1", "b_at": T0}])
        SET.run(s, [])  # nothing to do: no statement
        raise RuntimeError("rolled back")
    assert sorted(read(factory)) == [1, 2, 3, 4, 5]


def test_a_missing_value_is_an_error_not_a_null(factory: sessionmaker[Session]) -> None:
    with pytest.raises(KeyError), session_scope(factory) as s:
        SET.run(s, [{"b_id": 1, "b_qty": 3}])
    assert read(factory)[1] == ("S-1", 0, T0)

"""Timeline entries: kept with their transaction, written together just before it commits."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from db.models import TimelineEntry
from db.session import make_engine, make_session_factory, session_scope, upgrade
from db.timeline import entries, record


@pytest.fixture
def sessions(database_url: str) -> Any:
    upgrade(database_url)
    engine = make_engine(database_url)
    inserts: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO TIMELINE_ENTRIES"):
            inserts.append(len(params) if many else 1)

    factory = make_session_factory(engine)
    factory.inserts = inserts  # type: ignore[attr-defined]
    yield factory
    engine.dispose()


def _all(factory: Any) -> list[tuple[str, str]]:
    with session_scope(factory) as s:
        return [(e.subject, e.action) for e in s.scalars(select(TimelineEntry).order_by(TimelineEntry.id))]


def test_a_transactions_entries_are_written_in_one_statement_in_the_order_recorded(sessions: Any) -> None:
    with session_scope(sessions) as s:
        for n in range(3):
            record(s, None, "order:1", "test", f"step.{n}", f"reason {n}", {"n": n})
    assert _all(sessions) == [("order:1", "step.0"), ("order:1", "step.1"), ("order:1", "step.2")]
    assert sessions.inserts == [3]  # one statement for the three


def test_a_read_of_the_timeline_in_the_same_transaction_sees_its_entries(sessions: Any) -> None:
    with session_scope(sessions) as s:
        record(s, None, "order:2", "test", "first")
        assert [e.action for e in entries(s, None, "order:2")] == ["first"]
        assert s.scalar(select(func.count()).select_from(TimelineEntry)) == 1
        record(s, None, "order:2", "test", "second")
    assert _all(sessions) == [("order:2", "first"), ("order:2", "second")]


def test_entries_are_dropped_with_a_rolled_back_transaction(sessions: Any) -> None:
    with pytest.raises(RuntimeError), session_scope(sessions) as s:
        record(s, None, "order:3", "test", "lost")
        raise RuntimeError("the transaction fails")
    s = sessions()
    record(s, None, "order:3", "test", "closed without a commit")
    s.close()
    with session_scope(sessions) as s:
        record(s, None, "order:3", "test", "kept")
    assert _all(sessions) == [("order:3", "kept")]


def test_a_session_that_only_records_still_writes_at_its_commit(sessions: Any) -> None:
    s = sessions()
    record(s, None, "store:1", "test", "alone")
    s.commit()
    record(s, None, "store:1", "test", "second transaction")
    s.commit()
    s.close()
    assert _all(sessions) == [("store:1", "alone"), ("store:1", "second transaction")]


def test_a_flush_between_the_entries_and_the_commit_keeps_them(sessions: Any) -> None:
    from db.accounts import get_or_create_account

    with session_scope(sessions) as s:
        record(s, None, "order:4", "test", "before the flush")
        get_or_create_account(s, "flushed")
        s.flush()  # the flush's own inner transaction ends here
        record(s, None, "order:4", "test", "after the flush")
    assert _all(sessions) == [("order:4", "before the flush"), ("order:4", "after the flush")]

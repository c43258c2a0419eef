"""``WaybillSession.get`` (db/session.py): a load by integer primary key through a statement
built once answers exactly as SQLAlchemy's own ``Session.get``, on both backends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, update

from db.accounts import get_or_create_account
from db.models import Account, Store, StoreState
from db.session import WaybillSession


def _store(rt: Any) -> int:
    with rt.session() as s:
        account = get_or_create_account(s, "Session Get Supplies")
        store = Store(
            account_id=account.id, platform="woocommerce", domain="get.example", state=StoreState.active
        )
        s.add(store)
        s.flush()
        return store.id


def _statements(rt: Any) -> list[str]:
    seen: list[str] = []
    event.listen(rt.engine, "before_cursor_execute", lambda *a, **k: seen.append(str(a[2])))
    return seen


def test_a_load_reads_the_row_and_a_second_load_finds_it_in_the_session(rt: Any) -> None:
    store_id = _store(rt)
    seen = _statements(rt)
    with rt.session() as s:
        assert isinstance(s, WaybillSession)
        first = s.get(Store, store_id)
        assert first is not None and first.domain == "get.example"
        reads = len(seen)
        assert s.get(Store, store_id) is first  # from the identity map: no second query
        assert len(seen) == reads
        assert s.get(Store, store_id + 10_000) is None


def test_a_locking_load_reads_again_and_keeps_the_sessions_object(rt: Any) -> None:
    store_id = _store(rt)
    seen = _statements(rt)
    with rt.session() as s:
        first = s.get(Store, store_id)
        reads = len(seen)
        locked = s.get(Store, store_id, with_for_update=True)
        assert locked is first and len(seen) == reads + 1
        if rt.engine.dialect.name == "postgresql":
            assert "FOR UPDATE" in seen[-1]


def test_a_load_asking_for_more_is_sessions_own(rt: Any) -> None:
    store_id = _store(rt)
    with rt.session() as s:
        first = s.get(Store, store_id)
        assert first is not None
        s.connection().execute(update(Store).where(Store.id == store_id).values(domain="moved.example"))
        assert s.get(Store, store_id).domain == "get.example"  # type: ignore[union-attr]  # held
        fresh = s.get(Store, store_id, populate_existing=True)
        assert fresh is first and first.domain == "moved.example"
        assert s.get(Account, (first.account_id,)) is not None  # a tuple key: Session.get itself

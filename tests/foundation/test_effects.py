"""The effects ledger: exactly one outside call per key, whatever happens."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update

from core.errors import NotAttempted, Permanent
from db.accounts import get_or_create_account
from db.effects import (
    EffectBusy,
    EffectConflict,
    EffectFailed,
    EffectRecord,
    EffectsLedger,
    EffectState,
    Progress,
    default_owner,
    fingerprint,
)
from db.models import Effect
from db.session import make_engine, make_session_factory, upgrade


def make_ledger(url: str, **kwargs: Any) -> EffectsLedger:
    return EffectsLedger(make_session_factory(make_engine(url)), **kwargs)


@pytest.fixture
def ledger(database_url: str) -> EffectsLedger:
    upgrade(database_url)
    return make_ledger(database_url, poll_s=0.01)


def test_acts_once_and_replays_the_recorded_result(ledger: EffectsLedger) -> None:
    calls: list[str] = []

    def act(progress: Progress) -> dict[str, Any]:
        calls.append("x")
        progress.record_outside_id("shp_1")
        return {"label": "L1"}

    first = ledger.run("label:1:1", "label", {"order": 1}, act)
    again = ledger.run("label:1:1", "label", {"order": 1}, act)
    assert first == again == {"label": "L1"}
    assert calls == ["x"]
    record = ledger.get("label:1:1")
    assert record is not None and record.state is EffectState.done and record.outside_id == "shp_1"


def test_outside_id_is_committed_before_the_call_returns(ledger: EffectsLedger) -> None:
    def act(progress: Progress) -> dict[str, Any]:
        progress.record_outside_id("shp_crash")
        raise TimeoutError("response lost")

    with pytest.raises(TimeoutError):
        ledger.run("label:2:1", "label", {"order": 2}, act)
    record = ledger.get("label:2:1")
    assert record is not None
    assert (record.state, record.outside_id) == (EffectState.unknown, "shp_crash")


def test_an_action_not_attempted_frees_its_key(ledger: EffectsLedger) -> None:
    def give_up(progress: Progress) -> dict[str, Any]:
        raise NotAttempted("cancelled before sending")

    with pytest.raises(NotAttempted):
        ledger.run("stock:1:a", "stock_push", {"batch": 1}, give_up)
    assert ledger.get("stock:1:a") is None  # as if never claimed: no unknown outcome to recover
    assert ledger.run("stock:1:a", "stock_push", {"batch": 1}, lambda p: {"ok": True}) == {"ok": True}
    record = ledger.get("stock:1:a")
    assert record is not None and (record.state, record.attempts) == (EffectState.done, 1)


def test_not_attempted_after_a_take_over_keeps_the_outcome_unknown(ledger: EffectsLedger) -> None:
    def lost(progress: Progress) -> dict[str, Any]:
        raise TimeoutError("answer lost: Shopify may have applied it")

    def give_up(progress: Progress) -> dict[str, Any]:
        raise NotAttempted("cancelled before sending")

    with pytest.raises(TimeoutError):
        ledger.run("stock:1:b", "stock_push", {"batch": 2}, lost)
    with pytest.raises(NotAttempted):
        ledger.run("stock:1:b", "stock_push", {"batch": 2}, give_up)
    record = ledger.get("stock:1:b")
    assert record is not None and (record.state, record.attempts) == (EffectState.unknown, 2)


def test_after_an_unknown_outcome_recovery_answers_instead_of_acting_again(ledger: EffectsLedger) -> None:
    bought: list[int] = []

    def act(progress: Progress) -> dict[str, Any]:
        progress.record_outside_id("shp_9")
        bought.append(1)
        raise ConnectionError("reset after purchase")

    with pytest.raises(ConnectionError):
        ledger.run("label:3:1", "label", {"order": 3}, act)
    seen: list[str | None] = []

    def recover(record: Any) -> dict[str, Any] | None:
        seen.append(record.outside_id)
        return {"label": "found-on-shp_9"}

    result = ledger.run("label:3:1", "label", {"order": 3}, act, recover=recover)
    assert result == {"label": "found-on-shp_9"}
    assert bought == [1]
    assert seen == ["shp_9"]


def test_recovery_that_finds_nothing_lets_the_call_run(ledger: EffectsLedger) -> None:
    attempts: list[int] = []

    def act(progress: Progress) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise TimeoutError("connect timeout")
        return {"ok": True}

    with pytest.raises(TimeoutError):
        ledger.run("fx:1", "fx", {}, act, recover=lambda r: None)
    assert ledger.run("fx:1", "fx", {}, act, recover=lambda r: None) == {"ok": True}
    assert len(attempts) == 2
    record = ledger.get("fx:1")
    assert record is not None and record.attempts == 2


def test_a_permanent_refusal_is_replayed_not_retried(ledger: EffectsLedger) -> None:
    calls: list[int] = []

    def act(progress: Progress) -> dict[str, Any]:
        calls.append(1)
        raise Permanent("address invalid")

    with pytest.raises(Permanent):
        ledger.run("fx:2", "fx", {}, act)
    with pytest.raises(EffectFailed, match="address invalid"):
        ledger.run("fx:2", "fx", {}, act)
    assert calls == [1]


def test_one_key_for_two_different_requests_is_refused(ledger: EffectsLedger) -> None:
    ledger.run("refund:7", "refund", {"amount": "10.00"}, lambda p: {"ok": 1})
    with pytest.raises(EffectConflict):
        ledger.run("refund:7", "refund", {"amount": "12.00"}, lambda p: {"ok": 2})


def test_a_live_claim_makes_others_wait_then_busy(database_url: str) -> None:
    upgrade(database_url)
    holder = make_ledger(database_url, poll_s=0.01)
    waiter = make_ledger(database_url, poll_s=0.01)
    started, release = threading.Event(), threading.Event()

    def slow(progress: Progress) -> dict[str, Any]:
        started.set()
        release.wait(5)
        return {"done": True}

    t = threading.Thread(target=holder.run, args=("fx:slow", "fx", {}, slow))
    t.start()
    started.wait(5)
    with pytest.raises(EffectBusy):
        waiter.run("fx:slow", "fx", {}, lambda p: {"done": False}, wait_s=0.1)
    release.set()
    t.join()
    assert waiter.run("fx:slow", "fx", {}, lambda p: {"done": False}) == {"done": True}


def test_a_dead_workers_claim_is_taken_over_after_its_lease(database_url: str) -> None:
    upgrade(database_url)
    dead = make_ledger(database_url, lease_s=0.2, owner="dead-worker")
    dead._insert("fx:orphan", "fx", __import__("db.effects").effects.fingerprint({}), "dead-worker", None)
    alive = make_ledger(database_url, lease_s=5, poll_s=0.02)
    recovered: list[Any] = []
    result = alive.run(
        "fx:orphan", "fx", {}, lambda p: {"acted": True}, recover=lambda r: recovered.append(r)
    )
    assert result == {"acted": True}
    assert len(recovered) == 1 and recovered[0].state is EffectState.in_progress


def _race_threads(url: str, n: int) -> list[Any]:
    counter: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def act(progress: Progress) -> dict[str, Any]:
        with lock:
            counter.append(1)
        time.sleep(0.2)  # widen the window in which others try
        return {"by": threading.get_ident()}

    def worker(i: int) -> None:
        ledger = make_ledger(url, poll_s=0.01)
        barrier.wait()
        results[i] = ledger.run("label:race:1", "label", {"order": "race"}, act)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(counter) == 1
    return results


def test_eight_threads_on_one_key_call_out_exactly_once(database_url: str) -> None:
    upgrade(database_url)
    results = _race_threads(database_url, 8)
    assert all(r == results[0] for r in results) and results[0] is not None


def _process_claim(url: str, counter: Any, barrier: Any, out: Any) -> None:
    ledger = make_ledger(url, poll_s=0.01)

    def act(progress: Progress) -> dict[str, Any]:
        with counter.get_lock():
            counter.value += 1
        time.sleep(0.3)
        return {"pid": multiprocessing.current_process().pid}

    barrier.wait()
    out.put(ledger.run("label:proc:1", "label", {"order": "proc"}, act)["pid"])


def _race_processes(url: str, n: int = 8) -> None:
    ctx = multiprocessing.get_context("spawn")
    counter, barrier, out = ctx.Value("i", 0), ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_process_claim, args=(url, counter, barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    pids = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert counter.value == 1
    assert len(set(pids)) == 1  # every process got the one result


def test_eight_processes_on_postgres_call_out_exactly_once(postgres_url: str) -> None:
    upgrade(postgres_url)
    _race_processes(postgres_url)


def test_eight_processes_on_sqlite_call_out_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    upgrade(url)
    _race_processes(url)


# -- single-process rules: what each outcome leaves in the ledger, and who may take a claim over


def row(ledger: EffectsLedger, key: str) -> Effect:
    with ledger._factory() as s:
        found = s.scalar(select(Effect).where(Effect.key == key))
        assert found is not None
        s.expunge(found)
        return found


def set_row(ledger: EffectsLedger, key: str, **values: Any) -> None:
    with ledger._factory() as s:
        s.execute(update(Effect).where(Effect.key == key).values(**values))
        s.commit()


def test_the_fingerprint_is_the_sha256_of_the_request_as_sorted_json() -> None:
    # Stored with every claim: a change of the hash would make every claim in flight a conflict.
    request = {"order": 7, "amount": Decimal("10.50"), "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}
    canonical = '{"amount": "10.50", "at": "2026-01-02 03:04:05+00:00", "order": 7}'
    assert fingerprint(request) == hashlib.sha256(canonical.encode()).hexdigest()
    assert fingerprint({"b": 1, "a": 2}) == fingerprint({"a": 2, "b": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_the_default_owner_names_host_process_and_thread(database_url: str) -> None:
    assert default_owner() == f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    upgrade(database_url)
    assert make_ledger(database_url).owner == default_owner()
    assert make_ledger(database_url, owner="worker-7").owner == "worker-7"
    others: list[str] = []
    t = threading.Thread(target=lambda: others.append(default_owner()))
    t.start()
    t.join()
    assert others[0] != default_owner()  # two threads of one process never share a claim


def test_a_fresh_claim_holds_a_lease_of_lease_s_and_a_heartbeat_extends_it(database_url: str) -> None:
    upgrade(database_url)
    ledger = make_ledger(database_url, lease_s=300, owner="w1")
    seen: dict[str, Any] = {}

    def act(progress: Progress) -> dict[str, Any]:
        claim = row(ledger, "fx:lease")
        seen["claim"] = (claim.state, claim.owner, claim.attempts, claim.kind, claim.account_id)
        seen["lease"] = claim.lease_until
        seen["progress_id"] = progress.outside_id
        progress.record_outside_id("out-1")
        seen["after_id"] = (row(ledger, "fx:lease").outside_id, progress.outside_id)
        progress.heartbeat()
        seen["beat"] = row(ledger, "fx:lease").lease_until
        return {"ok": True}

    with ledger._factory() as s:
        account = get_or_create_account(s, "acme")
        s.commit()
    before = datetime.now(UTC)
    ledger.run("fx:lease", "fx_kind", {}, act, account_id=account.id)
    after = datetime.now(UTC)
    assert seen["claim"] == (EffectState.in_progress, "w1", 1, "fx_kind", account.id)
    assert before + timedelta(seconds=299) <= seen["lease"] <= after + timedelta(seconds=301)
    assert seen["progress_id"] is None and seen["after_id"] == ("out-1", "out-1")
    assert seen["lease"] <= seen["beat"] <= after + timedelta(seconds=301)
    done = row(ledger, "fx:lease")
    assert (done.state, done.lease_until, done.error, done.result) == (
        EffectState.done,
        None,
        None,
        {"ok": True},
    )
    assert done.completed_at is not None and before <= done.completed_at <= after
    assert before <= done.updated_at <= after and done.fingerprint == fingerprint({})


def test_get_returns_none_for_an_unknown_key_and_every_field_of_a_known_one(ledger: EffectsLedger) -> None:
    assert ledger.get("fx:none") is None

    def act(progress: Progress) -> dict[str, Any]:
        progress.record_outside_id("shp_42")
        return {"label": "L42"}

    ledger.run("fx:fields", "label", {"order": 42}, act)
    assert ledger.get("fx:fields") == EffectRecord(
        key="fx:fields",
        kind="label",
        state=EffectState.done,
        outside_id="shp_42",
        result={"label": "L42"},
        error=None,
        attempts=1,
    )


def test_an_unknown_outcome_records_the_error_and_a_later_success_clears_it(ledger: EffectsLedger) -> None:
    def lost(progress: Progress) -> dict[str, Any]:
        raise TimeoutError("response lost")

    with pytest.raises(TimeoutError):
        ledger.run("fx:err", "fx", {}, lost)
    record = ledger.get("fx:err")
    assert record is not None
    assert (record.state, record.error, record.attempts) == (
        EffectState.unknown,
        "TimeoutError: response lost",
        1,
    )
    assert row(ledger, "fx:err").lease_until is None and row(ledger, "fx:err").completed_at is None
    assert ledger.run("fx:err", "fx", {}, lambda p: {"ok": 2}) == {"ok": 2}
    record = ledger.get("fx:err")
    assert record is not None and (record.state, record.error, record.result) == (
        EffectState.done,
        None,
        {"ok": 2},
    )


def test_a_permanent_refusal_keeps_its_class_and_message_for_every_replay(ledger: EffectsLedger) -> None:
    def refuse(progress: Progress) -> dict[str, Any]:
        raise EffectConflict("address invalid")

    with pytest.raises(EffectConflict):
        ledger.run("fx:perm", "fx", {}, refuse)
    record = ledger.get("fx:perm")
    assert record is not None and (record.state, record.error) == (
        EffectState.failed,
        "EffectConflict: address invalid",
    )
    assert row(ledger, "fx:perm").lease_until is None
    with pytest.raises(EffectFailed) as replayed:
        ledger.run("fx:perm", "fx", {}, refuse)
    assert str(replayed.value) == "EffectConflict: address invalid"
    assert isinstance(replayed.value, Permanent)
    set_row(ledger, "fx:perm", error=None)
    with pytest.raises(EffectFailed) as bare:
        ledger.run("fx:perm", "fx", {}, refuse)
    assert str(bare.value) == "failed"


def test_a_conflicting_key_names_itself_in_the_refusal(ledger: EffectsLedger) -> None:
    ledger.run("refund:8", "refund", {"amount": "10.00"}, lambda p: {"ok": 1})
    with pytest.raises(EffectConflict) as refused:
        ledger.run("refund:8", "refund", {"amount": "12.00"}, lambda p: {"ok": 2})
    assert str(refused.value) == "effect key 'refund:8' was used for a different request"
    record = ledger.get("refund:8")
    assert record is not None and record.result == {"ok": 1}  # the first request's record untouched


def test_a_conflict_is_refused_even_while_the_first_claim_is_live(database_url: str) -> None:
    upgrade(database_url)
    holder = make_ledger(database_url, owner="holder", lease_s=300)
    assert holder._insert("fx:live-conflict", "fx", fingerprint({"a": 1}), "holder", None)
    with pytest.raises(EffectConflict):
        make_ledger(database_url).run("fx:live-conflict", "fx", {"a": 2}, lambda p: {}, wait_s=0)


def test_a_live_claim_is_not_taken_over_and_the_waiter_gets_busy(database_url: str) -> None:
    upgrade(database_url)
    holder = make_ledger(database_url, owner="holder", lease_s=300)
    assert holder._insert("fx:held", "fx", fingerprint({}), "holder", None)
    waiter = make_ledger(database_url, owner="waiter", lease_s=7, poll_s=0.01)
    called: list[int] = []
    with pytest.raises(EffectBusy) as busy:
        waiter.run("fx:held", "fx", {}, lambda p: called.append(1) or {}, wait_s=0)
    assert str(busy.value) == "effect 'fx:held' is being performed by another worker"
    assert busy.value.wait_s == 7  # retry after the waiter's lease: the holder's is unknown to it
    claim = row(holder, "fx:held")
    assert (claim.owner, claim.attempts, claim.state, called) == ("holder", 1, EffectState.in_progress, [])


def test_without_wait_s_a_waiter_waits_its_lease_then_gives_up(database_url: str) -> None:
    upgrade(database_url)
    holder = make_ledger(database_url, owner="holder", lease_s=300)
    assert holder._insert("fx:held2", "fx", fingerprint({}), "holder", None)
    waiter = make_ledger(database_url, owner="waiter", lease_s=0.05, poll_s=0.01)
    with pytest.raises(EffectBusy):
        waiter.run("fx:held2", "fx", {}, lambda p: {})
    assert row(holder, "fx:held2").owner == "holder"


def test_a_waiter_returns_the_holders_result_when_it_finishes_in_time(database_url: str) -> None:
    upgrade(database_url)
    holder = make_ledger(database_url, owner="holder", lease_s=300)
    assert holder._insert("fx:wait", "fx", fingerprint({}), "holder", None)
    waiter = make_ledger(database_url, owner="waiter", lease_s=300, poll_s=0.01)
    finish = threading.Timer(
        0.2, lambda: holder._finish("fx:wait", "holder", EffectState.done, result={"by": "h"})
    )
    finish.start()
    try:
        assert waiter.run("fx:wait", "fx", {}, lambda p: {"by": "w"}, wait_s=30) == {"by": "h"}
    finally:
        finish.join()
    assert row(holder, "fx:wait").attempts == 1


def test_a_claim_whose_lease_ran_out_is_taken_over_once_with_the_next_attempt(database_url: str) -> None:
    upgrade(database_url)
    dead = make_ledger(database_url, owner="dead", lease_s=-60)
    assert dead._insert("fx:expired", "fx", fingerprint({}), "dead", None)
    dead._update("fx:expired", "dead", outside_id="half-done")
    alive = make_ledger(database_url, owner="alive", lease_s=300)
    seen: list[EffectRecord] = []
    during: list[tuple[Any, ...]] = []

    def act(progress: Progress) -> dict[str, Any]:
        claim = row(alive, "fx:expired")
        during.append((claim.state, claim.owner, claim.attempts, claim.lease_until > datetime.now(UTC)))
        return {"acted": True}

    result = alive.run("fx:expired", "fx", {}, act, recover=lambda r: seen.append(r))
    assert result == {"acted": True}
    assert seen == [EffectRecord("fx:expired", "fx", EffectState.in_progress, "half-done", None, None, 1)]
    assert during == [(EffectState.in_progress, "alive", 2, True)]
    # The dead worker, if it wakes up, can no longer write: its claim is gone.
    with pytest.raises(EffectBusy) as lost:
        Progress(dead, "fx:expired", "dead").record_outside_id("late")
    assert str(lost.value) == "lost the claim on effect 'fx:expired' (lease expired and taken over)"
    final = row(alive, "fx:expired")
    assert (final.state, final.owner, final.attempts, final.outside_id) == (
        EffectState.done,
        "alive",
        2,
        "half-done",
    )


def test_a_claim_without_a_lease_counts_as_expired(database_url: str) -> None:
    upgrade(database_url)
    dead = make_ledger(database_url, owner="dead", lease_s=300)
    assert dead._insert("fx:nolease", "fx", fingerprint({}), "dead", None)
    set_row(dead, "fx:nolease", lease_until=None)
    alive = make_ledger(database_url, owner="alive")
    assert alive.run("fx:nolease", "fx", {}, lambda p: {"ok": 1}, wait_s=0) == {"ok": 1}
    assert row(alive, "fx:nolease").attempts == 2


def test_an_unknown_outcome_is_taken_over_at_once_whatever_its_lease(database_url: str) -> None:
    upgrade(database_url)
    dead = make_ledger(database_url, owner="dead", lease_s=300)
    assert dead._insert("fx:unk", "fx", fingerprint({}), "dead", None)
    set_row(dead, "fx:unk", state=EffectState.unknown)  # its lease still runs
    alive = make_ledger(database_url, owner="alive", lease_s=300)
    seen: list[EffectState] = []
    during: list[tuple[Any, ...]] = []

    def act(progress: Progress) -> dict[str, Any]:
        claim = row(alive, "fx:unk")
        during.append((claim.state, claim.owner, claim.attempts, claim.lease_until > datetime.now(UTC)))
        return {"ok": 1}

    assert alive.run("fx:unk", "fx", {}, act, recover=lambda r: seen.append(r.state), wait_s=0) == {"ok": 1}
    assert seen == [EffectState.unknown]
    assert during == [(EffectState.in_progress, "alive", 2, True)]


def test_a_take_over_is_a_compare_and_set_on_attempts_and_state(database_url: str) -> None:
    upgrade(database_url)
    dead = make_ledger(database_url, owner="dead", lease_s=-60)
    assert dead._insert("fx:cas", "fx", fingerprint({}), "dead", None)
    seen = EffectRecord.of(row(dead, "fx:cas"))
    first, second = (
        make_ledger(database_url, owner="first", lease_s=300),
        make_ledger(database_url, owner="second"),
    )
    stale_state = EffectRecord("fx:cas", "fx", EffectState.unknown, None, None, None, 1)
    assert not second._take_over("fx:cas", "second", stale_state)  # the state moved on
    stale_attempts = EffectRecord("fx:cas", "fx", EffectState.in_progress, None, None, None, 2)
    assert not second._take_over("fx:cas", "second", stale_attempts)
    before = datetime.now(UTC)
    assert first._take_over("fx:cas", "first", seen)
    assert not second._take_over("fx:cas", "second", seen)  # the same view: only one wins
    claim = row(first, "fx:cas")
    assert (claim.owner, claim.attempts, claim.state) == ("first", 2, EffectState.in_progress)
    assert claim.lease_until is not None and claim.lease_until >= before + timedelta(seconds=299)
    assert claim.updated_at >= before


def test_recovery_that_finds_the_effect_records_it_as_done(database_url: str) -> None:
    upgrade(database_url)
    dead = make_ledger(database_url, owner="dead")
    with pytest.raises(ConnectionError):
        dead.run("fx:found", "fx", {}, lambda p: (_ for _ in ()).throw(ConnectionError("reset")))
    alive = make_ledger(database_url, owner="alive")
    acted: list[int] = []
    assert alive.run(
        "fx:found", "fx", {}, lambda p: acted.append(1) or {}, recover=lambda r: {"found": 1}
    ) == {"found": 1}
    final = row(alive, "fx:found")
    assert (final.state, final.result, final.error, final.attempts, acted) == (
        EffectState.done,
        {"found": 1},
        None,
        2,
        [],
    )
    assert final.completed_at is not None and final.lease_until is None


@pytest.mark.parametrize(
    ("raised", "state", "error"),
    [
        (Permanent("gone for good"), EffectState.failed, "Permanent: gone for good"),
        (ConnectionError("reset again"), EffectState.unknown, "ConnectionError: reset again"),
        (NotAttempted("not sent"), EffectState.unknown, "not attempted after a take-over"),
    ],
)
def test_a_recovery_that_fails_is_recorded_like_a_failed_action(
    database_url: str, raised: Exception, state: EffectState, error: str
) -> None:
    upgrade(database_url)
    dead = make_ledger(database_url, owner="dead")
    with pytest.raises(TimeoutError):
        dead.run("fx:rec", "fx", {}, lambda p: (_ for _ in ()).throw(TimeoutError("lost")))
    alive = make_ledger(database_url, owner="alive")

    def recover(record: EffectRecord) -> dict[str, Any] | None:
        raise raised

    acted: list[int] = []
    with pytest.raises(type(raised)):
        alive.run("fx:rec", "fx", {}, lambda p: acted.append(1) or {}, recover=recover)
    final = row(alive, "fx:rec")
    assert (final.state, final.error, final.attempts, final.owner, acted) == (state, error, 2, "alive", [])
    assert final.lease_until is None


def test_not_attempted_after_a_take_over_says_so(ledger: EffectsLedger) -> None:
    with pytest.raises(TimeoutError):
        ledger.run("fx:na", "fx", {}, lambda p: (_ for _ in ()).throw(TimeoutError("lost")))
    with pytest.raises(NotAttempted):
        ledger.run("fx:na", "fx", {}, lambda p: (_ for _ in ()).throw(NotAttempted("cancelled")))
    final = row(ledger, "fx:na")
    assert (final.state, final.error, final.lease_until) == (
        EffectState.unknown,
        "not attempted after a take-over",
        None,
    )


def test_a_release_never_removes_another_workers_fresh_claim(database_url: str) -> None:
    upgrade(database_url)
    holder = make_ledger(database_url, owner="holder", lease_s=300)
    assert holder._insert("fx:mine", "fx", fingerprint({}), "holder", None)
    stranger = make_ledger(database_url, owner="stranger")
    with pytest.raises(EffectBusy):
        stranger._release("fx:mine", "stranger")
    claim = row(holder, "fx:mine")
    assert (claim.owner, claim.state, claim.attempts) == ("holder", EffectState.in_progress, 1)


def test_a_worker_that_lost_its_claim_cannot_finish_it(database_url: str) -> None:
    upgrade(database_url)
    slow = make_ledger(database_url, owner="slow", lease_s=-60)
    fast = make_ledger(database_url, owner="fast", lease_s=300)

    def overtaken(progress: Progress) -> dict[str, Any]:
        # While this call hangs its lease runs out and another worker takes over and finishes.
        assert fast.run("fx:overtaken", "fx", {}, lambda p: {"by": "fast"}, recover=lambda r: None) == {
            "by": "fast"
        }
        return {"by": "slow"}

    with pytest.raises(EffectBusy, match="lost the claim"):
        slow.run("fx:overtaken", "fx", {}, overtaken)
    final = row(fast, "fx:overtaken")
    assert (final.owner, final.result, final.state) == ("fast", {"by": "fast"}, EffectState.done)


def test_a_ledger_built_with_defaults_leases_two_minutes_and_polls_every_50_ms(database_url: str) -> None:
    upgrade(database_url)
    ledger = EffectsLedger(make_session_factory(make_engine(database_url)))
    assert (ledger.lease_s, ledger.poll_s) == (120.0, 0.05)
    leases: list[datetime] = []
    before = datetime.now(UTC)
    ledger.run("fx:defaults", "fx", {}, lambda p: leases.append(row(ledger, "fx:defaults").lease_until) or {})
    assert before + timedelta(seconds=119) <= leases[0] <= datetime.now(UTC) + timedelta(seconds=121)


def test_a_worker_holding_two_claims_writes_and_releases_each_alone(database_url: str) -> None:
    upgrade(database_url)
    ledger = make_ledger(database_url, owner="w1", lease_s=300)

    def outer(progress: Progress) -> dict[str, Any]:
        def inner(inner_progress: Progress) -> dict[str, Any]:
            inner_progress.record_outside_id("inner-1")
            raise NotAttempted("the inner call was cancelled")

        progress.record_outside_id("outer-1")
        with pytest.raises(NotAttempted):
            ledger.run("fx:inner", "fx", {}, inner)
        return {"outer": True}

    assert ledger.run("fx:outer", "fx", {}, outer) == {"outer": True}
    assert ledger.get("fx:inner") is None  # released: as if never claimed
    final = row(ledger, "fx:outer")
    assert (final.state, final.outside_id, final.result) == (EffectState.done, "outer-1", {"outer": True})


def test_taking_over_one_dead_claim_leaves_another_alone(database_url: str) -> None:
    upgrade(database_url)
    dead = make_ledger(database_url, owner="dead", lease_s=-60)
    for key in ("fx:dead-a", "fx:dead-b"):
        assert dead._insert(key, "fx", fingerprint({}), "dead", None)
    alive = make_ledger(database_url, owner="alive", lease_s=300)
    assert alive.run("fx:dead-a", "fx", {}, lambda p: {"ok": 1}, wait_s=0) == {"ok": 1}
    other = row(dead, "fx:dead-b")
    assert (other.owner, other.attempts, other.state) == ("dead", 1, EffectState.in_progress)


def test_an_outside_id_found_by_the_last_call_is_written_in_the_outcomes_commit(
    ledger: EffectsLedger,
) -> None:
    engine = ledger._factory.kw["bind"]
    commits: list[int] = []

    def count(conn: Any) -> None:
        commits.append(1)

    during: list[str | None] = []

    def act(progress: Progress) -> dict[str, Any]:
        progress.found_outside_id("shp_7")
        during.append(row(ledger, "label:7:1").outside_id)  # read only: no commit
        return {"label": "L7"}

    event.listen(engine, "commit", count)
    try:
        assert ledger.run("label:7:1", "label", {"order": 7}, act) == {"label": "L7"}
    finally:
        event.remove(engine, "commit", count)
    assert during == [None]  # not written on its own
    done = row(ledger, "label:7:1")
    assert (done.state, done.outside_id, done.result) == (EffectState.done, "shp_7", {"label": "L7"})
    assert len(commits) == 2  # the claim and the outcome


def test_an_outside_id_found_before_a_lost_answer_stays_with_the_unknown_outcome(
    ledger: EffectsLedger,
) -> None:
    def act(progress: Progress) -> dict[str, Any]:
        progress.found_outside_id("shp_8")
        raise TimeoutError("answer lost after the id was read")

    with pytest.raises(TimeoutError):
        ledger.run("label:8:1", "label", {"order": 8}, act)
    record = ledger.get("label:8:1")
    assert record is not None and (record.state, record.outside_id) == (EffectState.unknown, "shp_8")


def _accounts(ledger: EffectsLedger) -> list[str]:
    from db.models import Account

    with ledger._factory() as s:
        return sorted(s.scalars(select(Account.name)))


def test_then_lands_in_the_outcomes_own_commit(ledger: EffectsLedger) -> None:
    seen: list[EffectState] = []

    def then(s: Any, result: dict[str, Any]) -> None:
        # inside the outcome's transaction: the effect reads as done already, on this session
        state = s.execute(select(Effect.state).where(Effect.key == "label:20:1")).scalar_one()
        seen.append(state)
        get_or_create_account(s, f"then-{result['label']}")

    assert ledger.run("label:20:1", "label", {"order": 20}, lambda p: {"label": "L20"}, then=then) == {
        "label": "L20"
    }
    assert seen == [EffectState.done]
    assert _accounts(ledger) == ["then-L20"]


def test_then_runs_again_on_a_replay_in_a_transaction_of_its_own(ledger: EffectsLedger) -> None:
    calls: list[str] = []
    ledger.run("label:21:1", "label", {"order": 21}, lambda p: calls.append("act") or {"label": "L21"})
    done = ledger.run(
        "label:21:1",
        "label",
        {"order": 21},
        lambda p: calls.append("act") or {"label": "again"},
        then=lambda s, result: get_or_create_account(s, f"replayed-{result['label']}"),
    )
    assert done == {"label": "L21"} and calls == ["act"]
    assert _accounts(ledger) == ["replayed-L21"]


def test_a_then_that_fails_leaves_the_outcome_committed_alone(ledger: EffectsLedger) -> None:
    def then(s: Any, result: dict[str, Any]) -> None:
        get_or_create_account(s, "never-kept")
        raise RuntimeError("the record failed")

    calls: list[str] = []
    with pytest.raises(RuntimeError, match="the record failed"):
        ledger.run(
            "label:22:1", "label", {"order": 22}, lambda p: calls.append("act") or {"label": "L22"}, then=then
        )
    record = ledger.get("label:22:1")
    assert record is not None and record.state is EffectState.done and record.result == {"label": "L22"}
    assert _accounts(ledger) == []  # the record rolled back with its transaction
    # the retry finds the effect done: no second call, and the record is written this time
    again = ledger.run(
        "label:22:1",
        "label",
        {"order": 22},
        lambda p: calls.append("act") or {"label": "x"},
        then=lambda s, result: get_or_create_account(s, "kept"),
    )
    assert again == {"label": "L22"} and calls == ["act"]
    assert _accounts(ledger) == ["kept"]

"""The effects ledger: exactly one outside call per key, whatever happens."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from core.errors import NotAttempted, Permanent
from db.effects import EffectBusy, EffectConflict, EffectFailed, EffectsLedger, EffectState, Progress
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

"""Two workers take over the same dead claim at the same moment: exactly one wins.

Each worker is its own process with its own connection. A claim is left by a worker
that died (lease expired) or whose outcome is unknown; both survivors are released by one
barrier and call ``run`` on it. The take-over is a compare-and-set on ``attempts``: one
recovers and acts, the other sees the winner's claim and gets its result. Several keys
are raced one after another so that the two really meet at the update.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from db.effects import EffectsLedger, EffectState, fingerprint
from db.session import make_engine, make_session_factory, upgrade

ROUNDS = 4
REQUEST = {"order": "takeover"}


def make_ledger(url: str, **kwargs: Any) -> EffectsLedger:
    return EffectsLedger(make_session_factory(make_engine(url)), **kwargs)


def leave_dead_claims(url: str, state: str) -> None:
    """One claim per round, owned by a worker that is gone: lease already over, or unknown."""
    dead = make_ledger(url, lease_s=-60, owner="dead-worker")
    for n in range(ROUNDS):
        key = f"label:takeover:{n}"
        assert dead._insert(key, "label", fingerprint(REQUEST), "dead-worker", None)
        if state == "unknown":
            dead._finish(key, "dead-worker", EffectState.unknown, error="ConnectionError: reset")


def _worker(url: str, barrier: Any, acted: Any, recovered: Any, out: Any) -> None:
    ledger = make_ledger(url, lease_s=60, poll_s=0.01)
    me = multiprocessing.current_process().name

    def recover(record: Any) -> None:
        with recovered.get_lock():
            recovered.value += 1
        return None  # nothing found outside: acting again is safe

    def act(progress: Any) -> dict[str, Any]:
        with acted.get_lock():
            acted.value += 1
        return {"by": me}

    for n in range(ROUNDS):
        barrier.wait()
        try:
            out.put((n, ledger.run(f"label:takeover:{n}", "label", REQUEST, act, recover=recover)["by"]))
        except Exception as exc:  # reported to the test, which fails on it
            out.put((n, f"raised {type(exc).__name__}: {exc}"))


def race(url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    acted, recovered = ctx.Value("i", 0), ctx.Value("i", 0)
    procs = [
        ctx.Process(target=_worker, args=(url, barrier, acted, recovered, out), name=f"w{i}")
        for i in range(2)
    ]
    for p in procs:
        p.start()
    answers = [out.get(timeout=120) for _ in range(2 * ROUNDS)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert not [a for a in answers if a[1].startswith("raised")], answers
    assert acted.value == ROUNDS  # one call out per key, not two
    assert recovered.value == ROUNDS  # and one recovery: only the winner of the take-over recovers
    by_round: dict[int, set[str]] = {}
    for n, by in answers:
        by_round.setdefault(n, set()).add(by)
    assert all(len(winners) == 1 for winners in by_round.values())  # both got the winner's result
    ledger = make_ledger(url)
    for n in range(ROUNDS):
        record = ledger.get(f"label:takeover:{n}")
        assert record is not None
        assert (record.state, record.attempts) == (EffectState.done, 2)
        assert record.result == {"by": next(iter(by_round[n]))}


@pytest.mark.parametrize("state", ["expired", "unknown"])
def test_two_workers_take_over_one_dead_claim_on_sqlite(tmp_path: Path, state: str) -> None:
    url = f"sqlite:///{tmp_path / 'takeover.db'}"
    upgrade(url)
    leave_dead_claims(url, state)
    race(url)


@pytest.mark.parametrize("state", ["expired", "unknown"])
def test_two_workers_take_over_one_dead_claim_on_postgres(postgres_url: str, state: str) -> None:
    upgrade(postgres_url)
    leave_dead_claims(postgres_url, state)
    race(postgres_url)

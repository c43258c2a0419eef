"""webhooks.group.Combiner: concurrent callers' items run together, each caller gets its own answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from webhooks.group import Combiner, Failed


class Gate:
    """A ``run`` whose first batch waits until released, so others queue up behind it."""

    def __init__(self, answer: Callable[[int], Any] = lambda n: n * 10) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.answer = answer

    def __call__(self, batch: Sequence[int]) -> list[Any]:
        self.batches.append(list(batch))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.release.wait(10)
        return [self.answer(n) for n in batch]


def call_in_threads(combiner: Callable[[int], Any], items: list[int]) -> dict[int, Any]:
    """Each item from its own thread; ``{item: result or the exception raised}``."""
    out: dict[int, Any] = {}

    def call(n: int) -> None:
        try:
            out[n] = combiner(n)
        except Exception as exc:
            out[n] = exc

    threads = [threading.Thread(target=call, args=(n,)) for n in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return out


def wait_for(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def queue_behind_first(combiner: Combiner[int, Any], gate: Gate, later: list[int]) -> dict[int, Any]:
    """Item 0 runs alone and blocks; ``later`` arrive meanwhile; then 0 is released."""
    out: dict[int, Any] = {}
    first = threading.Thread(target=lambda: out.update({0: combiner(0)}))
    first.start()
    assert gate.entered.wait(10)
    rest = threading.Thread(target=lambda: out.update(call_in_threads(combiner, later)))
    rest.start()
    wait_for(lambda: len(combiner._waiting) == len(later))
    gate.release.set()
    first.join(10)
    rest.join(10)
    return out


def test_a_caller_alone_runs_at_once_in_a_batch_of_one() -> None:
    seen: list[list[int]] = []
    combiner: Combiner[int, int] = Combiner(lambda batch: seen.append(list(batch)) or [n + 1 for n in batch])
    assert combiner(1) == 2
    assert combiner(5) == 6
    assert seen == [[1], [5]]
    assert (combiner.batches, combiner.items) == (2, 2)


def test_callers_arriving_while_a_batch_runs_share_the_next_one() -> None:
    gate = Gate()
    combiner: Combiner[int, int] = Combiner(gate, max_batch=16)
    out = queue_behind_first(combiner, gate, [1, 2, 3, 4, 5])
    assert out == {n: n * 10 for n in range(6)}  # each caller its own answer
    assert gate.batches[0] == [0]
    assert sorted(gate.batches[1]) == [1, 2, 3, 4, 5]
    assert (combiner.batches, combiner.items) == (2, 6)


def test_batches_never_exceed_max_batch() -> None:
    gate = Gate()
    combiner: Combiner[int, int] = Combiner(gate, max_batch=3)
    out = queue_behind_first(combiner, gate, list(range(1, 11)))
    assert out == {n: n * 10 for n in range(11)}
    assert [len(b) for b in gate.batches] == [1, 3, 3, 3, 1]
    assert sorted(n for b in gate.batches for n in b) == list(range(11))


def test_a_failed_batch_raises_in_every_caller_of_it_and_the_next_batch_runs() -> None:
    def answer(n: int) -> int:
        return n

    gate = Gate(answer)
    calls = {"n": 0}

    def run(batch: Sequence[int]) -> list[int]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("database gone")
        return gate(batch)

    combiner: Combiner[int, int] = Combiner(run)
    out = queue_behind_first(combiner, gate, [1, 2, 3])
    assert out[0] == 0
    assert all(isinstance(out[n], ConnectionError) for n in (1, 2, 3))
    assert combiner(7) == 7  # nothing is left stuck
    assert combiner._running == 0 and not combiner._waiting


def test_an_item_that_alone_failed_raises_only_for_its_caller() -> None:
    def answer(n: int) -> Any:
        return Failed(ValueError(f"row {n} refused")) if n == 2 else n

    gate = Gate(answer)
    combiner: Combiner[int, Any] = Combiner(gate)
    out = queue_behind_first(combiner, gate, [1, 2, 3])
    assert out[1] == 1 and out[3] == 3
    assert isinstance(out[2], ValueError) and str(out[2]) == "row 2 refused"


def test_a_run_answering_the_wrong_number_of_results_fails_its_batch() -> None:
    combiner: Combiner[int, int] = Combiner(lambda batch: [1, 2])
    with pytest.raises(RuntimeError, match="a batch of 1 got 2 results"):
        combiner(1)


def test_two_batches_may_run_at_once_when_allowed() -> None:
    running, peak, lock = [0], [0], threading.Lock()
    both = threading.Barrier(2, timeout=10)

    def run(batch: Sequence[int]) -> list[int]:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        both.wait()  # passes only if two leaders are inside at once
        with lock:
            running[0] -= 1
        return list(batch)

    combiner: Combiner[int, int] = Combiner(run, max_in_flight=2)
    out = call_in_threads(combiner, [1, 2])
    assert out == {1: 1, 2: 2}
    assert peak[0] == 2


def test_many_threads_each_get_their_own_answer() -> None:
    arrived, lock = [0], threading.Lock()

    def run(batch: Sequence[int]) -> list[int]:
        # The first batch waits for every caller to arrive (a loaded machine may start the
        # threads slower than a batch runs), so later callers overlap and share batches.
        wait_for(lambda: arrived[0] == 64)
        time.sleep(0.01)
        return [n * n for n in batch]

    combiner: Combiner[int, int] = Combiner(run, max_batch=8)

    def counted(n: int) -> int:
        with lock:
            arrived[0] += 1
        return combiner(n)

    out = call_in_threads(counted, list(range(64)))
    assert out == {n: n * n for n in range(64)}
    assert combiner.items == 64
    assert combiner.batches < 64  # callers overlapped, so some shared a batch


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Combiner(lambda batch: list(batch), max_batch=0)
    with pytest.raises(ValueError):
        Combiner(lambda batch: list(batch), max_in_flight=0)

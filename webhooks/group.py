"""Group commit: webhooks arriving together share one inbox statement.

A webhook's commit is mostly fixed cost: a statement, a transaction and its durable
flush (PostgreSQL's backend spends about as much CPU committing a row as storing a
16 KB body), then a Redis round trip for the hand-off. :class:`Combiner` lets the
threads of one process that want the same kind of work done at the same moment have
it done once for all of them, as PostgreSQL groups the WAL flushes of concurrent
commits: the first thread to find nothing running becomes the leader and runs every
item waiting, up to ``max_batch``; threads arriving meanwhile wait for the leader's
answer or lead the next batch. A thread alone runs its own item at once, so nothing
is delayed to make a batch: batches form only when requests already overlap.

Every item's caller returns only after its batch ran (for the inbox: committed and
handed off), so an answer of 200 still means the event is durably stored. When the
batch fails, every caller in it gets the failure.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Failed:
    """A result that is a failure: ``run`` answers it for an item that alone failed, and
    that item's caller gets ``error`` raised while the rest of the batch succeeds."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Item(Generic[T, R]):
    __slots__ = ("done", "error", "result", "value", "wake")

    def __init__(self, value: T) -> None:
        self.value = value
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None
        self.wake = threading.Lock()  # held until the item is done or its thread is to lead
        self.wake.acquire()


class Combiner(Generic[T, R]):
    """Runs ``run`` over the items concurrent callers submit, in batches.

    ``run`` takes a batch of items and answers one result per item, in order (a
    :class:`Failed` for an item that failed on its own). ``max_in_flight`` batches may
    run at once (their own threads being the leaders). A waiting thread sleeps on a lock
    of its own: the leader releases it when its item is done, or when it is to lead the
    next batch (so a thread is woken once, and only when there is something for it).
    """

    def __init__(
        self, run: Callable[[Sequence[T]], Sequence[R | Failed]], max_batch: int = 16, max_in_flight: int = 1
    ) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._run, self.max_batch, self.max_in_flight = run, max_batch, max_in_flight
        self._waiting: deque[_Item[T, R]] = deque()
        self._running = 0  # batches running (their leaders hold these slots)
        self._mutex = threading.Lock()
        self.batches = 0  # batches run, for the curious (tests, benchmarks)
        self.items = 0

    def __call__(self, value: T) -> R:
        """``run``'s result for ``value``; raises what ``run`` raised for its batch."""
        item: _Item[T, R] = _Item(value)
        with self._mutex:
            lead = self._running < self.max_in_flight
            if lead:
                self._running += 1
            else:
                self._waiting.append(item)
        if not lead:
            item.wake.acquire()  # done, or handed a slot to lead the next batch
        if not item.done:
            self._lead(item)
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[return-value]  # R, set by _lead

    def _lead(self, item: _Item[T, R]) -> None:
        """Run ``item`` and the waiting items (up to ``max_batch``), wake them, then hand this
        slot to the next waiting thread (or free it)."""
        batch = [item]
        with self._mutex:
            while self._waiting and len(batch) < self.max_batch:
                batch.append(self._waiting.popleft())
        try:
            self._run_batch(batch)
        finally:
            for other in batch:
                other.done = True
            for other in batch[1:]:
                other.wake.release()
            with self._mutex:
                following = self._waiting.popleft() if self._waiting else None
                if following is None:
                    self._running -= 1
            if following is not None:
                following.wake.release()  # not done: it leads the next batch in this slot

    def _run_batch(self, batch: list[_Item[T, R]]) -> None:
        try:
            results = self._run([item.value for item in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
        except BaseException as exc:  # every caller in the batch gets it
            for item in batch:
                item.error = exc
        else:
            for item, result in zip(batch, results, strict=True):
                if isinstance(result, Failed):
                    item.error = result.error
                else:
                    item.result = result
        self.batches += 1
        self.items += len(batch)

"""A stock push's calls: sent through the effects ledger, pipelined, committed in order.

``sync/stock_push.py`` plans the writes; :func:`write_calls` hands them to the store's
:class:`~connectors.storefront.stock.StockWriter` and :func:`commit` records what each
call did: the links learn what the channel shows, the written marks are cleared, the
observed levels wait for the settle step and the refused writes go on the timeline.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from connectors.storefront.stock import StockCall, StockWriter, WriteOutcome, WriteResult
from connectors.storefront.stock import StockWrite as Write
from core.errors import NotAttempted, Permanent
from db.bulk import Many
from db.models import CatalogLink, Store, utcnow
from db.stock import clear_marks
from db.timeline import record

if TYPE_CHECKING:
    from sync.runtime import Runtime

EFFECT_KIND = "stock_push"
ACTOR = "stock_push"
CHUNK = 500  # ids per IN (...) list


@dataclass
class Outcome:
    """What one call (or one round) did, per SKU."""

    # sku -> (write, what the channel shows, the platform's time, whether our compare-and-set passed)
    written: dict[str, tuple[Write, int, datetime | None, bool]] = field(default_factory=dict)
    observed: dict[str, tuple[Write, int, datetime]] = field(default_factory=dict)
    failed: dict[str, tuple[Write, str]] = field(default_factory=dict)

    def merge(self, other: Outcome) -> None:
        self.written.update(other.written)
        self.observed.update(other.observed)
        self.failed.update(other.failed)


def effect_key(store_id: int, parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"stock:{store_id}:{digest}"[:255]


def _links_pushed_statement() -> Many:
    table = cast(Table, CatalogLink.__table__)
    return Many(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            channel_qty=bindparam("b_qty"),
            channel_qty_open=bindparam("b_open"),  # a level written (or read back): no sale left open
            channel_qty_at=bindparam("b_at", type_=table.c.channel_qty_at.type),
            last_pushed=bindparam("b_last"),
            pushed_at=bindparam("b_now", type_=table.c.pushed_at.type),
        )
    )


_LINKS_PUSHED = _links_pushed_statement()


def commit(rt: Runtime, store: Store, outcome: Outcome) -> None:
    """Links learn what the channel shows; the written marks are cleared; failures are recorded."""
    now = utcnow()
    with rt.session() as s, s.no_autoflush:
        _links_written(s, outcome, now)
        _links_observed(s, outcome, now)
        s.flush()
        clear_marks(s, store.id, [(w.sku, w.marked_at) for w, _, _, _ in outcome.written.values()])
        _record(s, store, outcome)


def _links_written(s: Session, outcome: Outcome, now: datetime) -> None:
    # What the written links hold now, in one read per chunk (no ORM objects: a full push
    # commits 10,000 of these, and loading them dominated the push's own time).
    written_ids = [w.link_id for w, _, _, _ in outcome.written.values()]
    current: dict[int, tuple[int | None, datetime | None]] = {}
    for start in range(0, len(written_ids), CHUNK):
        chunk = written_ids[start : start + CHUNK]
        for link_id, qty, at in s.execute(
            select(CatalogLink.id, CatalogLink.channel_qty, CatalogLink.channel_qty_at).where(
                CatalogLink.id.in_(chunk)
            )
        ):
            current[link_id] = (qty, at)
    params: list[dict[str, Any]] = []
    for write, qty, at, cas in outcome.written.values():
        if write.link_id not in current:
            continue
        held_qty, held_at = current[write.link_id]
        shown = qty
        if cas and write.current is not None and held_qty is not None and held_qty != write.current:
            # The compare-and-set passed, so the shop showed `current` when we wrote: a
            # sale counted on the link since then happened after our write.
            shown = qty + (held_qty - write.current)
        new_at = at if at is not None and (held_at is None or at >= held_at) else held_at
        params.append(
            {
                "b_id": write.link_id,
                "b_qty": shown,
                "b_open": 0,
                "b_at": new_at,
                "b_last": write.target,
                "b_now": now,
            }
        )
    _LINKS_PUSHED.run(s, params)


def _links_observed(s: Session, outcome: Outcome, now: datetime) -> None:
    observed_ids = [w.link_id for w, _, _ in outcome.observed.values()]
    rows = {
        link.id: link
        for start in range(0, len(observed_ids), CHUNK)
        for link in s.scalars(
            select(CatalogLink).where(CatalogLink.id.in_(observed_ids[start : start + CHUNK]))
        )
    }
    for write, qty, at in outcome.observed.values():
        link = rows.get(write.link_id)
        if link is None:
            continue
        if link.observed_at is None or at >= link.observed_at:
            link.observed_qty, link.observed_at = qty, at
        if link.observed_received_at is None:
            link.observed_received_at = now


def _record(s: Session, store: Store, outcome: Outcome) -> None:
    if outcome.failed:
        reasons = sorted({why for _, why in outcome.failed.values()})
        record(
            s,
            store.account_id,
            f"store:{store.id}",
            ACTOR,
            "stock.push_failed",
            f"{len(outcome.failed)} stock write(s) refused: {'; '.join(reasons)[:400]}",
            {"skus": {sku: why for sku, (_, why) in sorted(outcome.failed.items())[:200]}},
        )
    if outcome.observed:
        record(
            s,
            store.account_id,
            f"store:{store.id}",
            ACTOR,
            "stock.push_stale",
            f"{len(outcome.observed)} level(s) changed on the channel before our write: "
            "left for the settle step",
            {"skus": {sku: qty for sku, (_, qty, _) in sorted(outcome.observed.items())[:200]}},
        )


def write_calls(rt: Runtime, store: Store, writer: StockWriter, writes: Iterator[Write]) -> Outcome:
    """The writer's calls, its ``in_flight`` at the platform at a time; outcomes committed in
    call order.

    Waybill's own work per call overlaps the platform's instead of adding to it: while calls
    are out, the writer's ``ahead`` more calls are prepared, claimed in the effects ledger and
    built, each waiting at the gate to be sent the moment a call in flight answers (before
    that call's ledger entry and links are written). The calls hold disjoint SKUs. If a call
    fails, the gate closes: prepared calls are not sent (their claims are released), the
    calls out finish and are committed, and the error is raised: the marks of what was not
    committed stay for the next push.
    """
    total = Outcome()
    gate = _Gate(writer.in_flight)
    with (
        _Committer(rt, store) as committer,
        ThreadPoolExecutor(writer.in_flight + writer.ahead, thread_name_prefix="stock-call") as calls,
    ):
        observed, remaining = writer.before(writes)
        if observed:
            first = _outcome(observed)
            committer.submit(first)
            total.merge(first)
        prepared = writer.prepare(remaining)
        pending: deque[Future[Outcome]] = deque()

        def prepare_next() -> None:
            call = next(prepared, None)
            if call is not None:
                pending.append(calls.submit(_send, rt, store, writer, gate, call))

        for _ in range(writer.in_flight + writer.ahead):
            prepare_next()
        failure: BaseException | None = None
        while pending:
            try:
                outcome = pending.popleft().result()
            except BaseException as exc:
                if failure is None:
                    failure = exc
                    gate.close()
                continue
            committer.submit(outcome)
            total.merge(outcome)
            if failure is None:
                prepare_next()
        if failure is not None:
            raise failure
    return total


def _outcome(results: Iterable[WriteResult]) -> Outcome:
    outcome = Outcome()
    for r in results:
        w = r.write
        if r.outcome is WriteOutcome.WRITTEN:
            outcome.written[w.sku] = (w, w.target if r.quantity is None else r.quantity, r.at, r.checked)
        elif r.outcome is WriteOutcome.OBSERVED and r.quantity is not None and r.at is not None:
            outcome.observed[w.sku] = (w, r.quantity, r.at)
        else:
            outcome.failed[w.sku] = (w, r.reason or "refused")
    return outcome


def _send(rt: Runtime, store: Store, writer: StockWriter, gate: _Gate, call: StockCall) -> Outcome:
    """One call through the effects ledger, sent again without the writes refused with the
    others until nothing of it is pending."""
    total = Outcome()
    calls = deque([call])
    while calls:
        call = calls.popleft()
        key = effect_key(store.id, call.content)

        def act(progress: Any, call: StockCall = call, key: str = key) -> dict[str, Any]:
            return writer.send(call, key, gate.slot)

        try:
            answer = rt.ledger.run(
                key,
                EFFECT_KIND,
                {"store_id": store.id, **call.request},
                act,
                recover=None,  # the platform replays an idempotent call; a level set again is harmless
                account_id=store.account_id,
            )
        except Permanent as exc:
            why = f"{type(exc).__name__}: {exc}"[:300]
            total.merge(_outcome(WriteResult(w, WriteOutcome.REFUSED, reason=why) for w in call.writes))
            continue
        results, again = writer.results(call, answer, gate.slot)
        total.merge(_outcome(results))
        calls.extend(writer.prepare(iter(again)))
    return total


class _Gate:
    """At most ``slots`` calls at the platform at once; prepared calls wait here their turn.

    A call that fails (other than a refusal) closes it, and so does the push on seeing a
    failure: a call that had not been sent then gives up (``NotAttempted``).
    """

    def __init__(self, slots: int) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            if self._closed.is_set():
                raise NotAttempted("not sent: an earlier call of this push failed")
            try:
                yield
            except Permanent:
                raise  # a refusal: recorded as failed writes, the push goes on
            except BaseException:
                self._closed.set()  # before the slot is free: no prepared call slips out
                raise


class _Committer:
    """Commits each call's outcome on one background thread while the next call is in flight.

    At most one commit is outstanding and they run in call order; leaving the block waits for
    the last one and raises its error, so a push never reports what it has not recorded. A
    crash before a commit leaves that call's marks in place: the next push replays the call
    from the effects ledger (same key), never a second write.
    """

    def __init__(self, rt: Runtime, store: Store) -> None:
        self._rt, self._store = rt, store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stock-commit")
        self._last: Future[None] | None = None

    def submit(self, outcome: Outcome) -> None:
        self._wait()
        self._last = self._pool.submit(commit, self._rt, self._store, outcome)

    def _wait(self) -> None:
        if self._last is not None:
            last, self._last = self._last, None
            last.result()

    def __enter__(self) -> _Committer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)

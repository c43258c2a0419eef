"""The effects ledger: every outside side effect happens at most once.

Usage::

    ledger.run(
        key="label:123:1", kind="label", request={...},
        act=lambda progress: buy_label(progress),      # calls the outside system
        recover=lambda record: look_it_up(record),     # after a crash: what happened?
    )

``run`` claims the key in the database before ``act`` runs. ``act`` reports the
outside id the moment it exists (``progress.record_outside_id``), which is
committed at once, so a crash after the outside system acted still leaves a
trace; an ``act`` whose outside call is its last step reports it with
``progress.found_outside_id`` instead, written in the outcome's own commit (two
transactions per effect, the claim and the outcome, instead of three). On a
later call with the same key:

- ``done``: the recorded result is returned, nothing is called;
- ``failed``: the recorded permanent error is raised again;
- claimed by a live worker: wait for it (up to ``wait_s``), then return its result;
- claimed by a worker that died (lease expired) or left the outcome ``unknown``:
  take the claim over atomically and call ``recover(record)`` first; if it finds
  the effect happened it returns the result and ``act`` is not called. A
  ``recover`` of ``None`` declares ``act`` safe to repeat (the outside system
  dedupes, as Shopify's ``@idempotent`` does).

An ``act`` that gives up before reaching the outside system raises
:class:`core.errors.NotAttempted`: a fresh claim is then removed (the key is free, as if
never claimed) rather than left ``unknown``.

Exactly one of any number of concurrent callers acts: the claim is a unique
insert, and take-overs are compare-and-set updates on ``attempts``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import NotAttempted, Permanent, Retryable
from db.models import Effect, EffectState, utcnow
from db.session import session_scope

Result = dict[str, Any]
# The caller's record of an effect's outcome, written in the outcome's own transaction.
Then = Callable[[Session, Result], None]

# The ledger's statements, built once: Core statements on the table, run on a connection of
# the sessions' engine (an ORM session's flush and its bulk-update bookkeeping cost several
# times the statement itself, on every effect). Where-clause parameters are named ``w_*`` so
# that an UPDATE's SET takes the remaining parameters as column values.
_EFFECTS: Table = Effect.__table__  # type: ignore[assignment]
_INSERT = insert(_EFFECTS)
_SELECT = select(_EFFECTS).where(_EFFECTS.c.key == bindparam("w_key"))
_TAKE_OVER = update(_EFFECTS).where(
    _EFFECTS.c.key == bindparam("w_key"),
    _EFFECTS.c.attempts == bindparam("w_attempts"),
    _EFFECTS.c.state == bindparam("w_state"),
)
_WRITE = update(_EFFECTS).where(
    _EFFECTS.c.key == bindparam("w_key"), _EFFECTS.c.owner == bindparam("w_owner")
)
_RELEASE = delete(_EFFECTS).where(
    _EFFECTS.c.key == bindparam("w_key"), _EFFECTS.c.owner == bindparam("w_owner"), _EFFECTS.c.attempts == 1
)


class EffectConflict(Permanent):
    """The same key was used for a different request: a bug in the caller's key."""


class EffectFailed(Permanent):
    """The outside system refused this effect earlier; the refusal is replayed."""


class EffectBusy(Retryable):
    """Another worker holds the claim and has not finished in time."""


@dataclass(frozen=True)
class EffectRecord:
    """What the ledger knows of an effect (passed to ``recover``)."""

    key: str
    kind: str
    state: EffectState
    outside_id: str | None
    result: Result | None
    error: str | None
    attempts: int

    @classmethod
    def of(cls, row: Effect | Row[Any]) -> EffectRecord:
        return cls(row.key, row.kind, row.state, row.outside_id, row.result, row.error, row.attempts)


def fingerprint(request: Any) -> str:
    """A stable hash of the request, to catch one key reused for another request."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Progress:
    """Handed to ``act``: commits the outside id the moment it exists."""

    def __init__(self, ledger: EffectsLedger, key: str, owner: str) -> None:
        self._ledger, self._key, self._owner = ledger, key, owner
        self.outside_id: str | None = None

    def record_outside_id(self, outside_id: str) -> None:
        self.outside_id = outside_id
        self._ledger._update(self._key, self._owner, outside_id=outside_id)

    def found_outside_id(self, outside_id: str) -> None:
        """The outside id, written in the same commit as the outcome rather than on its own.

        For an ``act`` whose outside call is its last step: the id exists only once that
        call has answered, and the outcome is committed right after, so a crash leaves the
        same trace either way (the claim, then recovery) and one transaction is saved. An
        ``act`` that does more after the id exists uses ``record_outside_id``."""
        self.outside_id = outside_id

    def heartbeat(self) -> None:
        """Extend the claim's lease during a long call."""
        self._ledger._update(self._key, self._owner)


class EffectsLedger:
    def __init__(
        self,
        factory: sessionmaker[Session],
        lease_s: float = 120.0,
        poll_s: float = 0.05,
        owner: str | None = None,
    ) -> None:
        self._factory = factory
        self._engine: Engine = factory.kw["bind"]
        self.lease_s = lease_s
        self.poll_s = poll_s
        self._owner = owner

    @property
    def owner(self) -> str:
        return self._owner or default_owner()

    def get(self, key: str) -> EffectRecord | None:
        with self._engine.begin() as conn:
            row = conn.execute(_SELECT, {"w_key": key}).first()
        return EffectRecord.of(row) if row else None

    def run(
        self,
        key: str,
        kind: str,
        request: Any,
        act: Callable[[Progress], Result],
        recover: Callable[[EffectRecord], Result | None] | None = None,
        account_id: int | None = None,
        wait_s: float | None = None,
        then: Then | None = None,
    ) -> Result:
        """``then(session, result)``: the caller's record of the outcome, run in the same
        transaction as the outcome's commit (one transaction fewer, and the two land
        together). It runs on every successful return, in a transaction of its own when
        the effect was done already; if it raises, the outcome is committed alone and the
        error raised (a retry finds the effect done and runs ``then`` again)."""
        owner = self.owner
        fp = fingerprint(request)
        outcome = self._claim(key, kind, fp, owner, account_id, self.lease_s if wait_s is None else wait_s)
        if isinstance(outcome, dict):
            if then is not None:
                with session_scope(self._factory) as s:
                    then(s, outcome)
            return outcome
        if outcome is not None and recover is not None:
            found: Result | None = self._guard(key, owner, lambda: recover(outcome))
            if found is not None:
                self._finish(key, owner, EffectState.done, result=found, then=then)
                return found
        progress = Progress(self, key, owner)
        result: Result = self._guard(key, owner, lambda: act(progress), progress)
        self._finish(key, owner, EffectState.done, result=result, outside_id=progress.outside_id, then=then)
        return result

    # -- claim
    def _claim(
        self, key: str, kind: str, fp: str, owner: str, account_id: int | None, wait_s: float
    ) -> Result | EffectRecord | None:
        """Returns None (fresh claim), a record (taken over: recover first) or a finished result."""
        if self._insert(key, kind, fp, owner, account_id):
            return None
        deadline = time.monotonic() + wait_s
        while True:
            with self._engine.begin() as conn:
                row = conn.execute(_SELECT, {"w_key": key}).first()
            assert row is not None
            record = EffectRecord.of(row)
            lease_until = row.lease_until
            if row.fingerprint != fp:
                raise EffectConflict(f"effect key {key!r} was used for a different request")
            if record.state is EffectState.done:
                return record.result or {}
            if record.state is EffectState.failed:
                raise EffectFailed(record.error or "failed")
            expired = lease_until is None or lease_until <= utcnow()
            if (record.state is EffectState.unknown or expired) and self._take_over(key, owner, record):
                return record
            if time.monotonic() >= deadline:
                raise EffectBusy(f"effect {key!r} is being performed by another worker", wait_s=self.lease_s)
            time.sleep(self.poll_s)

    def _insert(self, key: str, kind: str, fp: str, owner: str, account_id: int | None) -> bool:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    _INSERT,
                    {
                        "key": key,
                        "kind": kind,
                        "fingerprint": fp,
                        "account_id": account_id,
                        "state": EffectState.in_progress,
                        "owner": owner,
                        "lease_until": self._lease(),
                        "attempts": 1,
                    },
                )
            return True
        except IntegrityError:
            return False

    def _take_over(self, key: str, owner: str, record: EffectRecord) -> bool:
        with self._engine.begin() as conn:
            done = conn.execute(
                _TAKE_OVER,
                {
                    "w_key": key,
                    "w_attempts": record.attempts,
                    "w_state": record.state,
                    "state": EffectState.in_progress,
                    "owner": owner,
                    "lease_until": self._lease(),
                    "attempts": record.attempts + 1,
                    "updated_at": utcnow(),
                },
            )
            return done.rowcount == 1

    # -- finish
    def _guard(
        self, key: str, owner: str, call: Callable[[], Result | None], progress: Progress | None = None
    ) -> Any:
        try:
            return call()
        except NotAttempted:
            self._release(key, owner)
            raise
        except BaseException as exc:
            # Permanent: refused, replayed from now on. Anything else: the outside system
            # may or may not have acted: leave it to recovery (with the id, if one is known).
            state = EffectState.failed if isinstance(exc, Permanent) else EffectState.unknown
            outside_id = progress.outside_id if progress is not None else None
            self._finish(key, owner, state, error=f"{type(exc).__name__}: {exc}", outside_id=outside_id)
            raise

    def _release(self, key: str, owner: str) -> None:
        """A claim whose action never reached the outside system: a fresh claim is removed;
        one taken over from an unknown outcome stays unknown."""
        with self._engine.begin() as conn:
            gone = conn.execute(_RELEASE, {"w_key": key, "w_owner": owner})
            if gone.rowcount == 1:
                return
        self._finish(key, owner, EffectState.unknown, error="not attempted after a take-over")

    def _finish(
        self,
        key: str,
        owner: str,
        state: EffectState,
        result: Result | None = None,
        error: str | None = None,
        outside_id: str | None = None,
        then: Then | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state, "updated_at": utcnow(), "lease_until": None}
        if outside_id is not None:
            values["outside_id"] = outside_id
        if state is EffectState.done:
            values.update(result=result, completed_at=utcnow(), error=None)
        else:
            values["error"] = error
        if then is None:
            self._write(key, owner, values)
            return
        try:
            with session_scope(self._factory) as s:
                self._check_written(
                    s.connection().execute(_WRITE, {**values, "w_key": key, "w_owner": owner}), key
                )
                then(s, result or {})
        except EffectBusy:
            raise
        except BaseException:
            self._write(key, owner, values)  # the outcome alone: the caller's record failed
            raise

    def _update(self, key: str, owner: str, **values: Any) -> None:
        self._write(key, owner, {**values, "lease_until": self._lease(), "updated_at": utcnow()})

    def _write(self, key: str, owner: str, values: dict[str, Any]) -> None:
        with self._engine.begin() as conn:
            self._check_written(conn.execute(_WRITE, {**values, "w_key": key, "w_owner": owner}), key)

    @staticmethod
    def _check_written(done: Any, key: str) -> None:
        if done.rowcount != 1:
            raise EffectBusy(f"lost the claim on effect {key!r} (lease expired and taken over)")

    def _lease(self) -> datetime:
        return utcnow() + timedelta(seconds=self.lease_s)

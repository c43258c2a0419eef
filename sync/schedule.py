"""The scheduler: enqueues periodic jobs (``schedules`` in config.yaml).

Each entry names a job (registered with ``sync.jobs.job``, taking no arguments), how often
it runs and on which queue; nothing else adds periodic work. An entry that names no such
job stops start-up (:func:`check_schedules`, called by ``build_runtime``).

Exactly one runs. In embedded mode it is a thread of ``waybill run``; in
production ``waybill worker --scheduler``, which holds a Redis lock so a second
scheduler started by mistake only waits as a standby. Periodic job ids are
deterministic (``periodic-<name>``), so a run still queued is never doubled.

When it takes its lease again after Redis was away or emptied, the active scheduler sweeps
the inbox itself (``Scheduler.sweep_here``), not through a queued job.

In production the active scheduler also does the work of RQ's scheduler, in its own
process: every second it moves the jobs whose wait has passed (retries, delayed jobs)
from RQ's scheduled registries onto their queues. Workers do not run RQ's scheduler:
RQ would fork it from a worker, as a child that inherits the worker's connections and
outlives it (db/forks.py says why that froze order intake).
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
import uuid
from typing import TYPE_CHECKING

import structlog
from redis import Redis
from rq.scheduler import RQScheduler
from rq.scripts import ACQUIRE_OR_REFRESH_LOCK_SCRIPT

from db.forks import make_redis_fork_safe
from settings import Schedule, Settings, SettingsError
from sync.jobs import JOBS

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.scheduler")
LOCK_KEY = "waybill:scheduler:lock"


def check_schedules(settings: Settings) -> None:
    """Refuse a ``schedules`` entry that names no job, or a job that needs arguments
    (the scheduler passes none). Call once the jobs are registered (``sync.tasks``)."""
    for name in settings.schedules:
        found = JOBS.get(name)
        if found is None:
            raise SettingsError(
                f"invalid configuration:\n  setting 'schedules.{name}': no job is named {name!r} "
                f"(jobs that can be scheduled: {', '.join(sorted(schedulable()))})"
            )
        needs = _required_arguments(found.fn)
        if needs:
            raise SettingsError(
                f"invalid configuration:\n  setting 'schedules.{name}': the job needs "
                f"{', '.join(needs)}, which a schedule cannot give"
            )


def schedulable() -> list[str]:
    """The registered jobs a schedule may name: those that take nothing but the runtime."""
    return [name for name, found in JOBS.items() if not _required_arguments(found.fn)]


def _required_arguments(fn: object) -> list[str]:
    """The arguments after the runtime that ``fn`` cannot do without."""
    params = list(inspect.signature(fn).parameters.values())[1:]  # type: ignore[arg-type]
    return [
        p.name
        for p in params
        if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


class Scheduler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.schedules: dict[str, Schedule] = dict(rt.settings.schedules)
        self._next: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sweeping: threading.Thread | None = None  # the inbox sweep run here (sweep_here)
        # Reconciliations owed to every store, once per start or takeover (when one is scheduled).
        self._owed = "reconcile_all" not in self.schedules

    def tick(self, now: float | None = None) -> list[str]:
        """Enqueue every periodic job that is due; returns their names."""
        now = time.monotonic() if now is None else now
        if not self._owed:
            self._owed = self._owe_reconciliation()
        fired = []
        for name, schedule in self.schedules.items():
            if now >= self._next.get(name, 0):
                self._next[name] = now + schedule.every_s
                try:
                    self.rt.queue.enqueue(name, {}, job_id=f"periodic-{name}", queue=schedule.queue)
                    fired.append(name)
                except Exception as exc:  # queue down: try again next tick
                    log.warning("scheduler.enqueue_failed", name=name, error=f"{type(exc).__name__}: {exc}")
                    self._next[name] = now + 1
        return fired

    def _owe_reconciliation(self) -> bool:
        """Before the first jobs of this scheduler: no store's levels are settled until a
        reconciliation has fed what was missed meanwhile (``sync/reconcile.py``)."""
        from sync.reconcile import owe_reconciliation

        try:
            stores = owe_reconciliation(self.rt)
        except Exception as exc:  # database away: the periodic jobs wait for it anyway; next tick
            log.warning("scheduler.owe_failed", error=f"{type(exc).__name__}: {exc}")
            return False
        log.info("scheduler.reconciliation_owed", stores=stores)
        return True

    def run(self, poll_s: float = 1.0) -> None:
        """Tick until stopped; in production only while holding the scheduler lock."""
        lock = _RedisLock(self.rt.settings.redis_url) if self.rt.settings.redis_url else None
        held = True
        due = _DueJobs(self.rt) if lock is not None else None
        while not self._stop.is_set():
            held = self.step(lock, due, was_held=held)
            self._stop.wait(poll_s)
        if due is not None:
            due.release()
        if lock is not None:
            lock.release()

    def step(self, lock: _RedisLock | None, due: _DueJobs | None, was_held: bool) -> bool:
        """One round of :meth:`run`: hold the lease, then tick and move due jobs; whether held."""
        held = lock is None or lock.hold()
        if held:
            if not was_held or (lock is not None and lock.taken_afresh):
                self.regained()
                if lock is not None:
                    self.sweep_here()
            self.tick()
            if due is not None:
                due.move()
                self._owed_after_refusals()
        elif due is not None:
            due.release()
        return held

    def _owed_after_refusals(self) -> None:
        """Reconcile every store after webhooks were refused while the database was down."""
        from sync.refused import reconcile_after_refusals

        try:
            reconcile_after_refusals(self.rt)
        except Exception as exc:  # the database still down: the flag stays for the next round
            log.warning("scheduler.owed_failed", error=type(exc).__name__)

    def regained(self) -> None:
        """After Redis was away, was emptied (flushed, or restarted empty between two ticks:
        the lease had to be taken afresh) or another scheduler held the lease: sweep the
        inbox now.

        Whatever the web tier took in meanwhile was not handed off, and Redis may have come
        back empty; the sweep re-enqueues it without waiting out its interval. A
        reconciliation of every store is owed again (settles wait for it), so it runs now
        too: waiting out its interval held every store's settles back for minutes."""
        for name in ("sweep_inbox", "reconcile_all"):
            if name in self.schedules:
                self._next[name] = 0
        self._owed = "reconcile_all" not in self.schedules

    def sweep_here(self) -> threading.Thread | None:
        """Sweep the inbox in this process, in a thread of its own, instead of queueing the
        sweep for a worker (after Redis came back: :meth:`regained`).

        The workers are then reconnecting and working through the jobs Redis kept, with the
        reconciliations just owed behind them: a queued sweep waited for them, and every event
        taken in during the outage stayed without a job for 5 to 10 s on a loaded 2-core
        machine (the drills' R3). This sweep takes the queued one's place (the next runs one
        interval later); if it fails, the queued one runs at the next tick. One at a time.
        Returns the thread started (None: no sweep scheduled, or one still running)."""
        schedule = self.schedules.get("sweep_inbox")
        if schedule is None or (self._sweeping is not None and self._sweeping.is_alive()):
            return None
        self._next["sweep_inbox"] = time.monotonic() + schedule.every_s
        self._sweeping = threading.Thread(target=self._sweep, name="waybill-inbox-sweep", daemon=True)
        self._sweeping.start()
        return self._sweeping

    def _sweep(self) -> None:
        """Two passes: now, and again once what came in during the last
        ``inbox.sweep_after_s`` before Redis came back or was emptied (its hand-off lost
        with it) is old enough for the sweep to take it. The queued sweep waited behind
        the backlog for that: 23 s after a flush in the drills' R3."""
        from sync.intake import sweep_inbox

        try:
            sweep_inbox(self.rt)
            if not self._stop.wait(self.rt.settings.inbox.sweep_after_s + 0.5):
                sweep_inbox(self.rt)
        except Exception as exc:  # Redis or the database away again: a worker sweeps next tick
            log.warning("scheduler.sweep_failed", error=f"{type(exc).__name__}: {exc}")
            self._next["sweep_inbox"] = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="waybill-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _DueJobs:
    """RQ's scheduler, run in this process: moves due scheduled jobs onto their queues.

    RQ's per-queue scheduler locks still apply (a worker of an older release, started with
    RQ's scheduler, keeps moving the queues it holds), but nothing is forked. With a queue
    per merchant partition (``queue.partitions``: some two hundred RQ queues), RQ's own
    passes cost a round trip per queue: taking or renewing the locks, and looking for due
    jobs in every queue's scheduled registry (a pass on every tick that found any job due,
    about 37 ms of CPU). Here the locks (which last 61 s) are taken or renewed every
    ``RENEW_S`` in one pipelined round trip, each tick asks one script which registries
    hold a due job, and RQ's pass runs over those registries only.
    """

    RENEW_S = 15.0
    # The indexes (1-based) of the registries in KEYS holding a job due at ARGV[1].
    DUE_SCRIPT = """
    local due = {}
    for i, key in ipairs(KEYS) do
        if redis.call('ZCOUNT', key, 0, ARGV[1]) > 0 then due[#due + 1] = i end
    end
    return due
    """

    def __init__(self, rt: Runtime) -> None:
        from sync.redis_queue import RedisJobQueue

        assert isinstance(rt.queue, RedisJobQueue)
        queues = list(rt.queue.queues.values())
        self.rq = RQScheduler(
            [q.name for q in queues], connection=rt.queue.connection, logging_level="WARNING"
        )
        make_redis_fork_safe(self.rq.connection)
        self.names = [q.name for q in queues]
        self.registries = [q.scheduled_job_registry.key for q in queues]
        self.renewed = -self.RENEW_S
        self._due = self.rq.connection.register_script(self.DUE_SCRIPT)
        self._lock = self.rq.connection.register_script(ACQUIRE_OR_REFRESH_LOCK_SCRIPT)

    def move(self) -> None:
        try:
            if time.monotonic() - self.renewed >= self.RENEW_S or not self.rq.acquired_locks:
                self.acquire_locks()
                self.renewed = time.monotonic()
            held = self.rq.acquired_locks
            due = [name for name in self.due_queues() if name in held]
            if due:
                self.rq.prepare_registries(due)  # RQ's pass below looks at these only
                self.rq.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
        except Exception as exc:  # Redis blip: the next tick tries again
            log.warning("scheduler.due_jobs_failed", error=type(exc).__name__)

    def acquire_locks(self) -> set[str]:
        """RQ's ``acquire_locks`` (take each queue's scheduler lock, or renew it if ours), in
        one round trip; the queues whose lock this scheduler holds."""
        ttl = self.rq.interval + 60
        with self.rq.connection.pipeline(transaction=False) as pipe:
            for name in self.names:
                self._lock(keys=[RQScheduler.get_locking_key(name)], args=[self.rq.name, ttl], client=pipe)
            outcomes = pipe.execute()
        held = {name for name, outcome in zip(self.names, outcomes, strict=True) if outcome in (1, 2)}
        self.rq._acquired_locks = held
        self.rq._scheduled_job_registries = []
        return held

    def due_queues(self) -> list[str]:
        """The queues whose scheduled registry holds a job whose time has come (one round trip)."""
        due = self._due(keys=self.registries, args=[time.time()])
        return [self.names[int(i) - 1] for i in due]

    def release(self) -> None:
        if not self.rq.acquired_locks:
            return
        with contextlib.suppress(Exception):  # the locks expire on their own
            self.rq.release_locks()  # type: ignore[no-untyped-call]


class _RedisLock:
    """A renewable lease so that one scheduler is active across machines."""

    # 1: taken afresh (the key was free), 2: ours and renewed, 0: another's. One round trip.
    HOLD_SCRIPT = """
    if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
    if redis.call('GET', KEYS[1]) == ARGV[1] then
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        return 2
    end
    return 0
    """

    def __init__(self, url: str, ttl_s: int = 15) -> None:
        self.redis = Redis.from_url(url, socket_timeout=5)
        make_redis_fork_safe(self.redis)
        self.token = uuid.uuid4().hex
        self.ttl_s = ttl_s
        self.held = False
        self.taken_afresh = False
        self._hold = self.redis.register_script(self.HOLD_SCRIPT)

    def hold(self) -> bool:
        """Take or renew the lease; whether this scheduler holds it. ``taken_afresh`` says
        the lease key had to be set anew: at start, after another held it, or because
        Redis lost it while this one held it (flushed, or restarted empty)."""
        self.taken_afresh = False
        try:
            outcome = self._hold(keys=[LOCK_KEY], args=[self.token, self.ttl_s])
            if outcome == 1:
                if self.held:
                    log.warning("scheduler.lease_lost")  # Redis was emptied under us
                self.held = self.taken_afresh = True
                log.info("scheduler.active")
            else:
                # 2: ours, renewed. Also after a failed round (Redis away, then back on its
                # AOF with our lease): left False, this scheduler renewed a lease it did not
                # use, for ever, and no periodic or retried job ran again.
                self.held = outcome == 2
        except Exception as exc:
            log.warning("scheduler.lock_unavailable", error=f"{type(exc).__name__}: {exc}")
            self.held = False
        return self.held

    def release(self) -> None:
        try:
            if self.redis.get(LOCK_KEY) == self.token.encode():
                self.redis.delete(LOCK_KEY)
        except Exception:  # noqa: S110 (the lease expires on its own)
            pass

"""RQ worker entry point.

    waybill worker [QUEUE ...]      work the named queues (default: all, in config order)
    waybill worker --scheduler      run the one scheduler of periodic jobs
    waybill worker --burst          work until the queues are empty, then exit

(``python worker.py ...`` does the same.)

Each queue is worked through all its partitions (``queue.partitions``, one per slice of
merchant accounts), taken round robin: one job from each non-empty partition in turn, so
no merchant's backlog holds up the others (see ``sync/queue.py``). Jobs run in this
process (``sync.rq_worker.LeanWorker``: RQ's ``SimpleWorker`` taking and finishing a job in
one Redis round trip each); ``--fork`` runs each in a forked child (RQ's ``Worker``).

Start any number of workers on any number of machines against the same Redis and
database; start exactly one scheduler (a second one waits as a standby). The scheduler
also moves retries whose wait has passed back onto their queues: without one running,
retries wait.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import uuid
from typing import Any

import structlog
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.worker import DequeueStrategy

from settings import SettingsError, load_settings
from sync.redis_queue import ALIVE_EVERY_S, WORKER_PREFIX, RedisJobQueue
from sync.rq_worker import LeanWorker
from sync.runtime import build_runtime, freeze_boot_heap, install
from sync.schedule import Scheduler
from telemetry import configure_logging

log = structlog.get_logger("waybill.worker")
REDIS_WAIT_MAX_S = 2.0  # longest wait between two tries to reach Redis again


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="waybill worker", description="Waybill worker")
    parser.add_argument("queues", nargs="*", help="queues to work (default: all)")
    parser.add_argument("--scheduler", action="store_true", help="run the periodic-job scheduler instead")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--fork", action="store_true", help="run each job in a forked child (RQ's Worker)")
    parser.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus metrics on this port")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        if not settings.redis_url:
            print(
                "waybill: the worker needs REDIS_URL; without it `./waybill run` runs jobs itself",
                file=sys.stderr,
            )
            return 2
        rt = build_runtime(settings, migrate=False)
    except SettingsError as exc:
        print(f"waybill: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if type(exc).__name__ in {"DatabaseNotReady", "SecretKeyError"}:
            print(f"waybill: {exc}", file=sys.stderr)
            return 2
        raise
    install(rt)
    freeze_boot_heap()
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port)
    if args.scheduler:
        return _run_scheduler(Scheduler(rt))
    assert isinstance(rt.queue, RedisJobQueue)
    unknown = [q for q in args.queues if q not in settings.queue.names]
    if unknown:
        print(f"waybill: unknown queue(s) {unknown}; configured: {settings.queue.names}", file=sys.stderr)
        return 2
    names = args.queues or settings.queue.names
    worker_class: Any = Worker if args.fork else LeanWorker
    _start_pump(rt.queue)
    return _work(rt.queue, names, worker_class, burst=args.burst)


def _work(queue: RedisJobQueue, names: list[str], worker_class: Any, burst: bool) -> int:
    """Run RQ workers until asked to stop, outliving Redis outages.

    Each worker talks to Redis over connections of its own (:func:`build_worker`).
    When RQ's loop ends on a Redis error, the process waits for
    Redis with backoff and starts a fresh worker; only a stop request (SIGTERM, SIGINT)
    or ``--burst`` ends it.
    """
    url = queue.settings.redis_url or ""
    stop = threading.Event()
    current: list[str] = [""]
    _start_heartbeat(queue, current, stop)
    wait = 0.5
    while not stop.is_set():
        worker = build_worker(queue, names, worker_class)
        connection = worker.connection
        current[0] = worker.name
        queue.keep_alive_quietly(worker.name)
        log.info("worker.start", queues=names, worker=worker.name)
        started = time.monotonic()
        try:
            # RQ's scheduler would run as a forked child of this worker, holding copies of its
            # connections after the worker dies: the scheduler process (--scheduler) does its work.
            worker.work(
                burst=burst,
                with_scheduler=False,
                logging_level="WARNING",
                dequeue_strategy=dequeue_strategy(queue),
            )
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("worker.redis_lost", error=type(exc).__name__)
        except StopRequested:
            break
        finally:
            connection.close()
        if burst or getattr(worker, "_shutdown_requested_date", None) is not None:
            break
        # RQ's loop ended on an error (Redis went away): wait for Redis, then go on.
        signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
        signal.signal(signal.SIGINT, lambda _sig, _frame: stop.set())
        if time.monotonic() - started > 60:
            wait = 0.5
        while not stop.is_set() and not _redis_answers(url):
            stop.wait(wait)
            wait = min(wait * 2, REDIS_WAIT_MAX_S)
        log.info("worker.redis_back")
    stop.set()
    return 0


def build_worker(queue: RedisJobQueue, names: list[str], worker_class: Any = LeanWorker) -> Any:
    """An RQ worker for the partitions of ``names`` on Redis connections of its own.

    Not ``queue.connection``: its pool serves the hand-off pump with a 5 s socket
    timeout, and a pooled connection made before RQ raises the timeout keeps it, so RQ's
    blocking dequeue (up to 405 s) timed out on it and backed off (1, 2, 4, 8, 16 s...)
    while jobs waited."""
    url = queue.settings.redis_url or ""
    connection = Redis.from_url(url, socket_connect_timeout=2, socket_keepalive=True)
    queues = [Queue(name, connection=connection) for name in queue.worker_queues(names)]
    worker = worker_class(queues, connection=connection, name=f"{WORKER_PREFIX}{uuid.uuid4().hex}")
    worker.max_connection_wait_time = REDIS_WAIT_MAX_S  # RQ's dequeue backoff (default 60 s)
    return worker


def dequeue_strategy(queue: RedisJobQueue) -> DequeueStrategy:
    """Round robin over the partitions; with one partition, the queues in their given order
    (a worker of ``intake orders`` takes intake's jobs first)."""
    return DequeueStrategy.ROUND_ROBIN if queue.partitions > 1 else DequeueStrategy.DEFAULT


def _redis_answers(url: str) -> bool:
    try:
        with Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as probe:
            return bool(probe.ping())
    except Exception:
        return False


def _start_heartbeat(queue: RedisJobQueue, current: list[str], stop: threading.Event) -> None:
    """Keep this worker's liveness key fresh, so a killed worker's jobs are handed back
    within seconds (``RedisJobQueue.reap``), and hand back those of dead workers."""

    def beat() -> None:
        while not stop.wait(ALIVE_EVERY_S):
            if current[0]:
                queue.keep_alive_quietly(current[0])
            try:
                queue.reap()
            except Exception as exc:  # Redis blip: the next beat tries again
                log.warning("worker.reap_failed", error=type(exc).__name__)

    threading.Thread(target=beat, name="waybill-heartbeat", daemon=True).start()


def _start_pump(queue: RedisJobQueue) -> None:
    """Move the web tier's hand-offs into RQ (every worker pumps; BRPOP shares them out)."""

    def pump() -> None:
        while True:
            try:
                queue.pump(block_s=1.0)
            except Exception as exc:  # Redis blip: the sweeper covers what is missed
                log.warning("worker.pump_failed", error=type(exc).__name__)
                time.sleep(1)

    threading.Thread(target=pump, name="waybill-handoff-pump", daemon=True).start()


def _run_scheduler(scheduler: Scheduler) -> int:
    def stop(_sig: int, _frame: Any) -> None:
        scheduler._stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler.start", schedules=scheduler.schedules)
    scheduler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""RQ worker entry point.

    waybill worker [QUEUE ...]      work the named queues (default: all, in config order)
    waybill worker --scheduler      run the one scheduler of periodic jobs
    waybill worker --burst          work until the queues are empty, then exit

(``python worker.py ...`` does the same.)

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
from typing import Any

import structlog
from rq import SimpleWorker, Worker

from settings import SettingsError, load_settings
from sync.queue import RedisJobQueue
from sync.runtime import build_runtime, freeze_boot_heap, install
from sync.schedule import Scheduler
from telemetry import configure_logging

log = structlog.get_logger("waybill.worker")


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
    queues = [rt.queue.queues[name] for name in (args.queues or settings.queue.names)]
    worker_class: Any = Worker if args.fork else SimpleWorker
    _start_pump(rt.queue)
    worker = worker_class(queues, connection=rt.queue.connection)
    log.info("worker.start", queues=[q.name for q in queues])
    # RQ's scheduler would run as a forked child of this worker, holding copies of its
    # connections after the worker dies: the scheduler process (--scheduler) runs it instead.
    worker.work(burst=args.burst, with_scheduler=False, logging_level="WARNING")
    return 0


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

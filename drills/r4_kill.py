"""R4 workers SIGKILLed at random moments, including between buying a label and committing
it: exactly one label per parcel.

EasyPost holds back the answer to some label purchases (the lost-response fault on
``shipment.buy``: the label is bought, the answer comes ``HANG_S`` later as a 504). While
one is held, every worker running a shipping job is SIGKILLed: the label exists at
EasyPost, Waybill never heard of it. Besides, a worker picked at random is SIGKILLed every
few seconds, wherever it is. Each killed worker is replaced by a fresh ``worker.py`` (the
host restarted); the killed worker's job is handed back by the others' reaper once its
liveness key lapses, and the effects ledger finds the bought label by the shipment's
reference instead of buying another.

Figures: ``kills_mid_buy`` (workers killed while their purchase's answer was held),
``kills_random``, ``labels`` (bought at EasyPost) for ``parcels``, ``settle_s``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from redis import Redis
from rq import Queue
from rq.job import Job

from drills import crash
from drills.runner import Result, Size, run_alone, verify
from drills.world import World
from sync.queue import partition_names

NAME = "R4"
TITLE = "workers SIGKILLed at random moments, also between buying a label and committing it"
HANG_S = 2.0  # how long EasyPost holds back a purchase's answer
RANDOM_EVERY_S = (3.0, 8.0)  # a random kill every so often


@dataclass
class Killer:
    """The thread that kills workers (see the module's docstring)."""

    world: World
    mid_buy_max: int
    random_max: int
    rng: random.Random = field(default_factory=lambda: random.Random(4))
    mid_buy: int = 0
    at_random: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        easypost = self.world.platforms.info["easypost"]
        redis = Redis.from_url(self.world.redis.url(0), socket_timeout=5)
        next_random = time.monotonic() + self.rng.uniform(*RANDOM_EVERY_S)
        while not self.stop.wait(0.05):
            if self.mid_buy < self.mid_buy_max and _hanging(easypost):
                for i in self._buying(redis):
                    self._kill(i)
                    self.mid_buy += 1
            if self.at_random < self.random_max and time.monotonic() >= next_random:
                self._kill(self.rng.randrange(len(self.world.workers)))
                self.at_random += 1
                next_random = time.monotonic() + self.rng.uniform(*RANDOM_EVERY_S)

    def done(self) -> bool:
        return self.mid_buy >= self.mid_buy_max and self.at_random >= self.random_max

    def _buying(self, redis: Redis) -> list[int]:
        """Indexes of the workers running a shipping job now, in any of the queue's partitions
        (a merchant's jobs run in its account's partition, ``sync.queue.partition_index``)."""
        pids = {p.pid: i for i, p in enumerate(self.world.workers) if p.poll() is None}
        found = []
        for name in partition_names(["shipping"], self.world.rt.settings.queue.partitions):
            for job_id in Queue(name, connection=redis).started_job_registry.get_job_ids():
                job = Job.fetch(job_id, connection=redis)
                pid = int(redis.hget(f"rq:worker:{job.worker_name}", "pid") or 0)
                if pid in pids and pids[pid] not in found:
                    found.append(pids[pid])
        return found

    def _kill(self, i: int) -> None:
        self.world.kill_worker(i)
        self.world.respawn(i)


def _hanging(easypost: str) -> bool:
    try:
        return bool(requests.get(f"{easypost}/_sandbox/state", timeout=5).json()["hanging"])
    except requests.RequestException:
        return False


def run(size: Size) -> Result:
    return run_alone(drill, size)


def drill(world: World, size: Size) -> Result:
    """R4 in ``world`` (shareable: faults cleared and every worker running at the end)."""
    crash.ready(world)
    plan = {"lost_response_rate": 0.3, "lost_response_ops": ["shipment.buy"], "hang_s": HANG_S}
    world.faults("easypost", seed=4, **plan)
    orders = world.orders(size.per_store, start=world.next_number())
    # A kill costs the reaper's 10 s and a worker's start-up: bounded, so `make drills` fits.
    mid_buy, at_random = min(3, max(1, len(orders) // 12)), min(4, max(1, len(orders) // 8))
    killer = Killer(world, mid_buy_max=mid_buy, random_max=at_random)
    thread = threading.Thread(target=_guarded(killer), name="drill-killer", daemon=True)
    started = time.monotonic()
    thread.start()
    placed = world.place(orders)
    try:
        crash.wait_until(killer.done, 90, "workers killed mid-purchase and at random")
    except TimeoutError:
        if killer.mid_buy == 0:  # the drill did not do what it says
            raise
    finally:
        killer.stop.set()
        thread.join(10)
        world.clear_faults()
    world.settle(world.placed, timeout_s=120 + 5 * len(placed))
    settle_s = time.monotonic() - started
    report = verify(world)
    labels = sum(n for n, _ in world.observe()["labels"].values())
    figures = {
        "kills_mid_buy": killer.mid_buy,
        "kills_random": killer.at_random,
        "labels": labels,
        "parcels": sum(p.parcels for p in world.placed),
        "settle_s": settle_s,
    }
    return Result(NAME, len(placed), report, figures)


def _guarded(killer: Killer) -> Callable[[], None]:
    """The killer's loop; an error in it stops the killing, never the drill's check."""

    def loop() -> None:
        try:
            killer.run()
        except Exception as exc:  # a kill raced a respawn: the drill goes on with fewer kills
            print(f"# R4 killer stopped: {type(exc).__name__}: {exc}", flush=True)

    return loop

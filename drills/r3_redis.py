"""R3 Redis killed and restarted mid-burst, and flushed once: 0 lost orders, and the inbox
sweeper brings back every stranded event within its interval.

1. A first burst of orders; while their jobs run, Redis is SIGKILLed (its AOF loses up to
   the last second of writes). A second burst arrives while it is down: the receivers
   commit each event and answer 200, their hand-offs fail. Redis restarts on its AOF.
2. A third burst; Redis is flushed (FLUSHALL: every queued job, hand-off, lease and
   liveness key gone) while its jobs run, and a fourth burst follows.

After each fault, ``<fault>_recovered_s``: from Redis back (or flushed) until no event is
stranded, i.e. every order's event is in the inbox and every unfinished one has a live job
again; it must be within the sweep interval (``sweep_s``), else the drill fails. Then
``<fault>_drained_s``: until every event is processed (the workers' pace on this machine).
``non_2xx``: webhook answers other than 2xx (0: the receivers never depend on Redis).
``settle_s``: from the last fault until every order is done at the platforms.
"""

from __future__ import annotations

import time

from drills import crash
from drills.runner import Result, Size, run_alone, verify
from drills.world import Placed, World

NAME = "R3"
TITLE = "Redis killed and restarted mid-burst, and flushed once"
DOWN_S = 3.0  # how long Redis stays down


def run(size: Size) -> Result:
    return run_alone(drill, size)


def drill(world: World, size: Size) -> Result:
    """R3 in ``world`` (shareable: Redis is back, every worker running, at the end)."""
    crash.ready(world)
    interval = crash.sweep_s(world)
    before = _non_2xx(world)
    placed, figures = _drive(world, size, interval)
    figures["settle_s"] = world.settle(world.placed, timeout_s=120 + 5 * len(placed))
    report = verify(world)
    figures["non_2xx"] = _non_2xx(world) - before
    figures["sweep_s"] = interval
    late = [k for k in ("kill_recovered_s", "flush_recovered_s") if figures[k] > interval]
    if late:
        raise AssertionError(f"R3: {late} beyond the sweep interval ({interval} s): {figures}")
    return Result(NAME, len(placed), report, figures)


def _non_2xx(world: World) -> int:
    answers = world.observe()["webhooks"]
    return sum(n for status, n in answers.items() if not status.startswith("2"))


def _drive(world: World, size: Size, interval: float) -> tuple[list[Placed], dict[str, float]]:
    per_burst = max(1, size.per_store // 2)
    first = world.next_number()
    bursts = [world.orders(per_burst, start=first + i * per_burst) for i in range(4)]
    placed = world.place(bursts[0])
    time.sleep(1.0)  # their jobs are queued and running
    world.redis.kill()
    placed += world.place(bursts[1])  # stored, not handed off
    time.sleep(DOWN_S)
    world.redis.start()  # on its AOF
    figures = _recovered(world, placed, "kill", interval)
    placed += world.place(bursts[2])
    time.sleep(1.0)
    world.redis.flush()
    placed += world.place(bursts[3])
    figures |= _recovered(world, placed, "flush", interval)
    return placed, figures


def _recovered(world: World, placed: list[Placed], fault: str, interval: float) -> dict[str, float]:
    """``<fault>_recovered_s``: seconds until no event is stranded (every order's event in
    the inbox, each unfinished one with a live job), waiting up to twice the sweep interval
    so that a late recovery is measured, and failed, rather than cut off; then
    ``<fault>_drained_s``: until every event is processed."""
    started = time.monotonic()
    crash.wait_for_none(lambda: crash.stranded(world, placed), 2 * interval + 30, f"{fault}: stranded")
    recovered = time.monotonic() - started
    crash.wait_until(lambda: crash.inbox_caught_up(world, placed), 600, f"{fault}: every event processed")
    return {f"{fault}_recovered_s": recovered, f"{fault}_drained_s": time.monotonic() - started}

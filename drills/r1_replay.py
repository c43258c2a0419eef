"""R1 replay storm: every webhook delivered 3 times, concurrently.

Every simulator's fault plan sends two extra copies of each delivery (``webhook_duplicates``),
and each simulator sends from several threads, so the three copies reach gunicorn together.
Figures: ``deliveries`` (webhook deliveries answered), ``settle_s`` (from the first order
placed until every order is done and all is quiet).
"""

from __future__ import annotations

from drills.runner import Result, Size, verify
from drills.world import World, WorldConfig

NAME = "R1"
TITLE = "replay storm: every webhook delivered 3 times concurrently"


def run(size: Size) -> Result:
    with World(WorldConfig(merchants=size.merchants, workers=size.workers)) as world:
        before = sum(world.observe()["webhooks"].values())
        for platform in ("shopify", "woocommerce", "easypost"):
            world.faults(platform, seed=1, webhook_duplicates=2)
        placed = world.place(world.orders(size.per_store))
        settle_s = world.settle(placed, timeout_s=60 + 10 * len(placed))
        report = verify(world, placed)
        answered = world.observe()["webhooks"]
    deliveries = sum(answered.values()) - before
    errors = sum(n for status, n in answered.items() if not status.startswith("2"))
    return Result(
        NAME, len(placed), report, {"deliveries": deliveries, "non_2xx": errors, "settle_s": settle_s}
    )

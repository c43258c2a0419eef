"""R2 out of order: every webhook of a burst delivered in a random permutation.

The simulators hold their webhooks while the orders are placed (each order's creation and
update deliveries queue up), then send everything at once in an order shuffled by the fault
plan (``webhook_reorder``, seeded: the permutation replays). Later webhooks (fulfilment
updates, tracker events) keep being shuffled within each batch. Every order must reach the
same final state as in order. Figures: ``held`` (deliveries shuffled at release), ``seed``.
"""

from __future__ import annotations

import random

from drills.runner import Result, Size, run_alone, verify
from drills.world import World

NAME = "R2"
TITLE = "out of order: deliveries shuffled reach the same final state"


def run(size: Size) -> Result:
    return run_alone(drill, size)


def drill(world: World, size: Size, seed: int | None = None) -> Result:
    seed = random.SystemRandom().randrange(1, 1_000_000) if seed is None else seed
    world.platforms.call("hold")
    try:
        for platform in ("shopify", "woocommerce", "easypost"):
            world.faults(platform, seed=seed, webhook_reorder=True)
        placed = world.place(world.orders(size.per_store, world.next_number()))
        held = world.platforms.call("pending")
    finally:
        world.platforms.call("release")
    try:
        settle_s = world.settle(placed, timeout_s=60 + 10 * len(placed))
    finally:
        world.clear_faults()
    report = verify(world)
    if held < len(placed):  # at least each order's creation was held and shuffled
        report.note("faults", lost=1, why=f"only {held} deliveries held for {len(placed)} orders")
    return Result(NAME, len(placed), report, {"held": held, "seed": seed, "settle_s": settle_s})

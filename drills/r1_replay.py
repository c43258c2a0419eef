"""R1 replay storm: every webhook delivered 3 times, concurrently.

Every simulator's fault plan sends two extra copies of each delivery (``webhook_duplicates``),
and each simulator sends from several threads, so the three copies reach gunicorn together.
Figures: ``deliveries`` (webhook deliveries answered), ``settle_s`` (from the first order
placed until every order is done and all is quiet).
"""

from __future__ import annotations

from drills.runner import Result, Size, run_alone, verify
from drills.world import World

NAME = "R1"
TITLE = "replay storm: every webhook delivered 3 times concurrently"
PLATFORMS = ("shopify", "woocommerce", "easypost")


def run(size: Size) -> Result:
    return run_alone(drill, size)


def drill(world: World, size: Size) -> Result:
    before = world.observe()["webhooks"]
    for platform in PLATFORMS:
        world.faults(platform, seed=1, webhook_duplicates=2)
    try:
        placed = world.place(world.orders(size.per_store, world.next_number()))
        settle_s = world.settle(placed, timeout_s=60 + 10 * len(placed))
    finally:
        world.clear_faults()
    report = verify(world)
    answered = world.observe()["webhooks"]
    deliveries = sum(answered.values()) - sum(before.values())
    errors = sum(n - before.get(status, 0) for status, n in answered.items() if not status.startswith("2"))
    if deliveries < 3 * len(placed):  # at least each order's creation, three times
        report.note("faults", lost=1, why=f"only {deliveries} deliveries for {len(placed)} orders")
    figures = {"deliveries": deliveries, "non_2xx": errors, "settle_s": settle_s}
    return Result(NAME, len(placed), report, figures)

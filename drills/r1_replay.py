"""R1 replay storm: every webhook delivered 3 times, concurrently.

Every simulator's fault plan sends two extra copies of each delivery (``webhook_duplicates``),
and each simulator sends from several threads, so the three copies reach gunicorn together.
Every copy answered must be answered 2xx (copies not answered within the sender's 5 s are
counted apart as ``timeouts``: the other copies, Shopify's retries and the reconciliation
cover them). Figures: ``deliveries`` (webhook deliveries answered), ``non_2xx`` (of which
``timeouts``; ``answers``: what they were answered, by status or error), ``settle_s`` (from
the first order placed until every order is done and all is quiet).
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
    others = {s: n - before.get(s, 0) for s, n in answered.items() if not s.startswith("2")}
    others = {s: n for s, n in others.items() if n}
    errors = sum(others.values())
    # Every copy answered must be answered 2xx (a duplicate is accepted and ignored): an error
    # answer is a receiver failing. A copy not answered within the platform's 5 s (a timeout)
    # is counted apart: on a saturated machine the other copies and retries cover it.
    refused = sum(n for s, n in others.items() if s[0].isdigit())
    report.note("receivers", lost=refused, why=f"deliveries answered with an error: {others}")
    if deliveries < 3 * len(placed):  # at least each order's creation, three times
        report.note("faults", lost=1, why=f"only {deliveries} deliveries for {len(placed)} orders")
    figures = {"deliveries": deliveries, "non_2xx": errors, "timeouts": errors - refused}
    figures["settle_s"] = settle_s
    if others:
        figures["answers"] = ",".join(f"{s}:{n}" for s, n in sorted(others.items()))
    return Result(NAME, len(placed), report, figures)

"""R6 platform faults together: latency, 5xx, 429/THROTTLED and responses lost after success,
on Shopify, every WooCommerce store and EasyPost at once, for the whole burst.

Passes with every order done once (the checker), no webhook answered 5xx by Waybill's
receivers (``receiver_5xx``: the simulators' deliveries, as gunicorn answered them) and no
dead letter (every fault injected is transient: a dead letter is only for a permanent error).
Jobs retry on a short policy (``drills.runner.RETRY``) so the drill fits its time; the
production policy differs only in its waits. Figures: ``receiver_5xx``, ``timeouts``
(deliveries not answered within the sender's 5 s, counted apart), ``dead_letters``,
``settle_s`` and the faults injected (``injected_error``, ``injected_throttle``,
``injected_lost_response``: the drill fails if one kind never happened).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from drills.runner import Result, Size, run_alone, verify
from drills.world import World

NAME = "R6"
TITLE = "platform faults together: 0 receiver 5xx, dead letters only for permanent errors"
PLAN: dict[str, Any] = {
    "latency_s": 0.02,
    "error_rate": 0.08,
    "throttle_rate": 0.08,
    "retry_after_s": 1.0,
    "lost_response_rate": 0.05,
    "hang_s": 0.5,
}
INJECTED = ("error", "throttle", "lost_response")


def run(size: Size) -> Result:
    return run_alone(drill, size)


def drill(world: World, size: Size) -> Result:
    from db.models import DeadLetter

    observed = world.observe()
    before, injected_before = observed["webhooks"], observed["injected"]
    for n, platform in enumerate(("shopify", "woocommerce", "easypost")):
        world.faults(platform, seed=60 + n, **PLAN)
    try:
        placed = world.place(world.orders(size.per_store, world.next_number()))
        settle_s = world.settle(placed, timeout_s=90 + 10 * len(placed))
    finally:
        world.clear_faults()
    report = verify(world)
    observed = world.observe()
    answered = observed["webhooks"]
    injected = {k: observed["injected"].get(k, 0) - injected_before.get(k, 0) for k in INJECTED}
    for kind, n in injected.items():  # a fault that never happened proves nothing
        report.note("faults", lost=int(n == 0), why=f"no {kind} fault was injected")
    with world.rt.session() as s:
        dead = s.scalar(select(func.count()).select_from(DeadLetter)) or 0
        errors = [e for (e,) in s.execute(select(DeadLetter.error).limit(5))]
    receiver_5xx = sum(n - before.get(status, 0) for status, n in answered.items() if status[0] == "5")
    timeouts = sum(n - before.get(status, 0) for status, n in answered.items() if not status[0].isdigit())
    report.note("receivers", lost=receiver_5xx, why=f"{receiver_5xx} deliveries answered 5xx")
    report.note("dead_letters", lost=dead, why=f"{dead} dead letters for transient faults: {errors}")
    figures = {"receiver_5xx": receiver_5xx, "timeouts": timeouts, "dead_letters": dead}
    figures["settle_s"] = settle_s
    return Result(NAME, len(placed), report, figures | {f"injected_{k}": n for k, n in injected.items()})

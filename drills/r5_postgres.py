"""R5 PostgreSQL restarted mid-burst: no webhook answered 2xx before its commit, 0 lost, the
receivers answer 503 while it is down, and every refused order comes back.

A first burst of orders; while their jobs run, PostgreSQL stops (fast shutdown: every
session ended) and a second burst arrives while it is down; it starts again ``DOWN_S``
later, and a third burst follows. The platforms behave as they do: Shopify sends a refused
delivery again on its schedule (10 s, 30 s, 1 min, 5 min, ... compressed by
``RETRY_SCALE``), WooCommerce never sends one again (and disables a webhook at its 7th
failure in a row). So after refusing storefront webhooks Waybill owes every store a
reconciliation and runs it as soon as the database answers (``sync/refused.py``), well
before the periodic ``reconcile_all`` (every 5 minutes).

Checked at the platforms (``GET /_sandbox/deliveries``): every delivery attempted while
the database was down was answered 503 (``non_503_down=0``), and every order delivery
answered 2xx is in Waybill's inbox (``acked_not_stored=0``: a 2xx only after the commit).
Figures: ``refused`` (503 answers; ``refused_woo`` of them to WooCommerce, whose orders
only the reconciliation brings back), ``down_s``, ``recovered_s`` (from the restart until
every order is done at the platforms).
"""

from __future__ import annotations

import time
from typing import Any

from drills import crash
from drills.runner import Result, Size, run_alone, verify
from drills.world import Placed, World

NAME = "R5"
TITLE = "PostgreSQL restarted mid-burst"
DOWN_S = 8.0
RETRY_SCALE = 0.1  # Shopify's retries after 1, 3, 6, 30 s ...


def run(size: Size) -> Result:
    return run_alone(drill, size)


def drill(world: World, size: Size) -> Result:
    """R5 in ``world`` (shareable: PostgreSQL back, retry schedules as the platforms' own)."""
    crash.ready(world)
    seen = len(crash.deliveries(world))
    crash.retry_scale(world, RETRY_SCALE)
    try:
        placed, down_at, up_at = _drive(world, size)
        world.settle(world.placed, timeout_s=180 + 5 * len(placed))
    finally:
        crash.retry_scale(world, 1.0)
    recovered_s = time.time() - up_at
    report = verify(world)
    figures = _answers(crash.deliveries(world)[seen:], crash.received(world), placed, down_at, up_at)
    for key in ("non_503_down", "acked_not_stored"):
        if figures[key]:
            report.problems.append(f"{key}={figures[key]}")
            report.lost["orders"] += figures[key]
    figures |= {"down_s": up_at - down_at, "recovered_s": recovered_s}
    return Result(NAME, len(placed), report, figures)


def _drive(world: World, size: Size) -> tuple[list[Placed], float, float]:
    """The three bursts around the outage; the orders and when PostgreSQL stopped and started."""
    per_burst = max(1, size.per_store // 3)
    first = world.next_number()
    placed = world.place(world.orders(per_burst, start=first))
    time.sleep(1.0)  # their jobs are queued and running
    down_at = time.time()
    world.postgres.stop()
    placed += world.place(world.orders(per_burst, start=first + per_burst))
    time.sleep(DOWN_S)
    world.postgres.start()
    up_at = time.time()
    placed += world.place(world.orders(per_burst, start=first + 2 * per_burst))
    return placed, down_at, up_at


def _answers(
    attempts: list[dict[str, Any]],
    stored: set[tuple[str, int]],
    placed: list[Placed],
    down_at: float,
    up_at: float,
) -> dict[str, Any]:
    """The platforms' record of Waybill's answers (see the module's docstring)."""
    ours = {(p.platform, p.order_id) for p in placed}
    down = [a for a in attempts if a["at"] is not None and down_at + 0.5 < a["at"] < up_at]
    acked = {
        (a["platform"], int(a["resource_id"]))
        for a in attempts
        if a["topic"] in crash.ORDER_TOPICS and a["status"] and 200 <= a["status"] < 300
    }
    return {
        "refused": sum(1 for a in attempts if a["status"] == 503),
        "refused_woo": sum(1 for a in attempts if a["status"] == 503 and a["platform"] == "woocommerce"),
        "non_503_down": sum(1 for a in down if a["status"] != 503),
        "acked_not_stored": len((acked & ours) - stored),
    }

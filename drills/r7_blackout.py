"""R7 webhook blackout: every store's subscriptions deleted (Shopify) or disabled and deleted
(WooCommerce), as a long outage of Waybill's receivers leaves them; orders keep coming; then
ONE reconciliation (``reconcile_all``, enqueued once: no schedule runs in this world) restores
every subscription and recovers every order missed. The blackout starts once the world is
settled (no delivery is left pending: those would be lost with their subscriptions).

Checks, besides the checker's: no order placed during the blackout was done before the
reconciliation (the blackout was real), every store has its subscriptions back, the orders
recovered by polling are exactly the missed ones, and orders placed afterwards arrive by
webhook again. Figures: ``missed`` (orders placed during the blackout), ``recovered`` (of those,
done after the reconciliation), ``polled`` (orders the reconciliation fed through the inbox,
changed ones before the blackout included), ``restored`` (subscriptions back), ``reconcile_s``
(enqueue to settled).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

from drills.check import unfinished
from drills.runner import Result, Size, run_alone, verify
from drills.world import World

NAME = "R7"
TITLE = "webhook blackout: one reconciliation restores every subscription and recovers every order"
QUIET_S = 3.0  # how long the blacked-out orders are left alone, to show nothing picks them up


def subscriptions(observed: dict[str, Any]) -> list[int]:
    return [store["subscriptions"] for p in ("shopify", "woocommerce") for store in observed[p]]


def run(size: Size) -> Result:
    return run_alone(drill, size)


def drill(world: World, size: Size) -> Result:
    # A fresh world's start-up reconciliation polls orders; let it finish before the blackout,
    # or it picks up blacked-out orders (counted as done during the blackout).
    world.settle([], timeout_s=120)
    wanted = subscriptions(world.observe())
    world.blackout()
    missed = world.place(world.orders(size.per_store, world.next_number()))
    time.sleep(QUIET_S)
    early = len(missed) - len(unfinished(missed, world.observe()))
    started = time.monotonic()
    world.rt.enqueue("reconcile_all", job_id=f"drill-reconcile-all-{world.next_number()}")
    world.settle(missed, timeout_s=60 + 10 * len(missed))
    reconcile_s = time.monotonic() - started
    restored = subscriptions(world.observe())
    polled = _polled(world)
    recovered = len(missed) - len(unfinished(missed, world.observe()))
    after = world.place(world.orders(size.per_store, world.next_number()))
    world.settle(after, timeout_s=60 + 10 * len(after))
    report = verify(world)
    report.note("orders", duplicates=early, why=f"{early} orders done during the blackout")
    report.note(
        "subscriptions", lost=sum(wanted) - sum(restored), why=f"subscriptions {restored} != {wanted}"
    )
    figures: dict[str, Any] = {"missed": len(missed), "recovered": recovered, "polled": polled}
    figures |= {"restored": sum(restored), "reconcile_s": reconcile_s}
    return Result(NAME, len(missed) + len(after), report, figures)


def _polled(world: World) -> int:
    """Orders reconciliations fed through the inbox so far (distinct)."""
    from connectors.storefront.orders import POLLED_ORDER_TOPIC
    from db.models import InboxEvent

    with world.rt.session() as s:
        count = select(func.count(func.distinct(InboxEvent.dedupe_key)))
        return int(s.scalar(count.where(InboxEvent.topic == POLLED_ORDER_TOPIC)) or 0)

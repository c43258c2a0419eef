"""The stock ledger's flows: reserve at intake, hold what is oversold, read merchant edits.

Orders (any channel) reserve stock when they arrive, release it when cancelled and take
it off the shelf when fulfilled; each change marks the SKU for a push to every channel.

A channel's own level reports (a stock event the storefront parses, a level the push
found changed) are *observations*. Most of them are
not merchant edits: our own writes come back as webhooks (echoes), and a channel
lowers its level by itself when it sells. So each link keeps ``channel_qty``, what the
channel shows as far as we know, and its platform time: our writes set it, and every
order the channel sold lowers it (once, by a ``channel_sale`` bookkeeping movement).
An observation is settled ``inventory.settle_s`` after it arrives, when the order
behind a sale has normally arrived too; what still differs from ``channel_qty`` is a
merchant edit and moves ``on_hand`` by that difference. An observation older than our
last write, or equal to what we expect, changes nothing: no echo loops.

No inbox event tells that an order is on its way when its webhook is late or lost (after a
blackout, another store's recovered orders push to this one before its own are recovered;
under load a level report overtakes its order). So before a difference is read as an edit,
the store's orders changed since the level we knew, up to the level just read, are polled
from the channel (``sync.reconcile_feed.orders_not_counted``): those the ledger has not counted
are fed through the inbox as reconciliation feeds them, and the settle waits for them. A
sale (or a cancellation given back) is then never read as the merchant changing stock and
counted a second time when its order arrives (channels below, or above, the truth).

Platform times have whole seconds. A sale made in the second of the level we know
(``taken.at`` equal to ``channel_qty_at`` to the second) may be counted in that level or
not: a level read, a write's answer or a stale write's read-back in that second cannot
tell. Its units are taken off ``channel_qty`` and kept as ``channel_qty_open``, so the
channel shows between ``channel_qty`` and ``channel_qty + channel_qty_open``. The settle
step reads a level in that range as no merchant edit, and one outside it as an edit of its
whole difference from ``channel_qty`` (:func:`edit_delta`: a merchant edit made while
Waybill heard nothing is still taken in whole). The push writes such a link even when
``channel_qty`` is already the published level, so the channel is read (a stale
compare-and-set, a read before the write) or written: a sale is never read as the
merchant raising stock, nor left counted twice on the channel. Any level read or
written closes the range (``channel_qty_open`` back to 0).

The work is split by operation: ``sync/stock_orders.py`` applies an order's units (and holds
what is oversold), ``sync/stock_settle.py`` reads the channels' observations and settles
them; this module keeps what both share: an order's units per SKU, noting an observed level,
and the low-stock alert.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy.orm import Session

from core.orders import Order
from db.models import CatalogLink, StockItem, utcnow
from db.timeline import record

# --- orders -------------------------------------------------------------------------


def order_quantities(order: Order) -> dict[str, int]:
    """Units per SKU; lines without a SKU are not stock-tracked."""
    out: dict[str, int] = defaultdict(int)
    for line in order.line_items:
        sku = (line.sku or "").strip()
        if sku and line.quantity > 0:
            out[sku] += line.quantity
    return dict(out)


def low_stock_check(s: Session, item: StockItem, available: int, default: int | None) -> None:
    """Alert once when available falls to the SKU's threshold; clear when it recovers."""
    threshold = item.low_stock_threshold if item.low_stock_threshold is not None else default
    if threshold is None:
        return
    if available <= threshold and item.low_stock_since is None:
        item.low_stock_since = utcnow()
        record(
            s,
            item.account_id,
            f"sku:{item.sku}",
            "inventory",
            "stock.low",
            f"{available} available at {item.location} (threshold {threshold})",
            {"available": available, "threshold": threshold, "location": item.location},
        )
    elif available > threshold and item.low_stock_since is not None:
        item.low_stock_since = None


# --- channel observations -----------------------------------------------------------


def observe(link: CatalogLink, qty: int, at: datetime, now: datetime | None = None) -> bool:
    """Note that the channel reported a level; ``True`` when it needs settling.

    The report only triggers a settle, which reads the channel's current level: reports
    arrive late, out of order and with one-second timestamps, so their values are not
    trusted on their own.
    """
    if link.channel_qty_at is not None and (
        at < link.channel_qty_at or (at == link.channel_qty_at and qty == link.channel_qty)
    ):
        return False  # older than (or the echo of) what we know
    if link.observed_received_at is None and qty == link.channel_qty:
        return False  # nothing new: our own write, or a sale we already counted
    if link.observed_at is None or at >= link.observed_at:
        link.observed_qty, link.observed_at = qty, at
    if link.observed_received_at is None:
        link.observed_received_at = now or utcnow()
    return True


def same_second(a: datetime, b: datetime) -> bool:
    """Whether two platform times fall in one second (platforms keep whole seconds)."""
    return a.replace(microsecond=0) == b.replace(microsecond=0)


def edit_delta(level: int, expected: int, open_units: int = 0) -> int:
    """What a level read says the merchant changed: nothing when it lies in the range the channel
    may show (``expected`` to ``expected + open_units``, see the module docstring); outside it,
    the whole difference from ``expected``, as when no sale is open (the open sales are taken
    as made after the level we knew, the rule for a sale in any later second)."""
    if expected <= level <= expected + max(0, open_units):
        return 0
    return level - expected

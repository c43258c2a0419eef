"""An order's units on the stock ledger: reserved at intake, released when cancelled, taken
off the shelf when fulfilled, and the order held when the ledger is short of them.

Each change marks the SKU for a push to every channel; the selling channel's own level
follows the order too (``channel_sale`` / ``channel_restock`` bookkeeping, see
``sync/inventory.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from connectors.order_stock import stock_taken
from core.inventory import StockTaken
from core.lifecycle import Stage, allowed
from core.orders import FulfillmentStatus, Order
from db.models import CatalogLink, StockItem, StockMovement, Store
from db.models import Order as OrderRow
from db.stock import Moved, find_item, mark_dirty, move
from sync.inventory import low_stock_check, order_quantities, same_second
from sync.lifecycle import advance

if TYPE_CHECKING:
    from settings import InventorySettings

# An item seeded from a channel's level keeps that store, the level's platform time and the
# units its open orders held off it (``StockItem.seeded_store_id``/``seeded_level_at``/
# ``seeded_out``). An order of that store whose units the channel took by then (in that second
# included: the order's own sale sets the level's time) was already out of the level: when it
# arrives open, its units go back on hand (``import_order``, at most the held units left) and
# it reserves them, so on hand counts them once and available stays what the channel showed;
# arriving shipped or cancelled, it moves nothing. Items seeded without the level's time
# (before these columns) keep the old rule: orders created this long before the item are
# taken as counted in its level and not reserved.
SEEDED_GRACE = timedelta(seconds=30)

ORDER_REASONS = ("order_reserved", "order_released", "order_shipped")


@dataclass(frozen=True)
class Shortage:
    sku: str
    wanted: int
    available: int

    def describe(self) -> str:
        return f"{self.sku}: {self.wanted} wanted, {max(0, self.available)} available"


@dataclass
class OrderStock:
    """What applying an order to the ledger did."""

    shortages: list[Shortage]
    changed_skus: set[str]
    dirty_stores: set[int]


def apply_order(
    s: Session,
    store: Store,
    row: OrderRow,
    order: Order,
    inv: InventorySettings,
    payload: Mapping[str, Any] | None = None,
) -> OrderStock:
    """Bring the ledger in line with the order's state (reserved, released or shipped), once."""
    wanted = order_quantities(order)
    result = OrderStock([], set(), set())
    if not wanted:
        return result
    target = _target(order)
    # When the channel itself took the units (at creation, or only at payment): the
    # connectors read it from the payload; None without one (nothing is known then).
    taken = stock_taken(store.platform, payload, order)
    done = _OrderMovements.read(s, row.id)
    for sku in sorted(wanted):  # one lock order for every transaction: no deadlocks
        item = find_item(s, store.account_id, sku, inv.location)
        if item is None:
            continue  # not stock-tracked: no catalog link made a ledger item for it
        qty = wanted[sku]
        held, shipped = done.position(item.id)
        if held == 0 and not shipped and _in_seed(store, order, item, taken):
            if target != "reserved" or item.seeded_level_at is None:
                continue  # sold before the ledger existed: the channel's level already counted it
            _units_back(s, store, row, item, qty, done)
        units = _Units(sku, qty, held, shipped)
        moved = _move_units(s, store, row, order, item, target, units, result.shortages, done)
        if moved is not None:
            if moved.on_hand_delta != moved.reserved_delta:
                # Available moved, so does what every channel shows. A shipment of units the
                # order held (on hand and reserved down alike) changes no channel's level.
                result.changed_skus.add(sku)
            low_stock_check(s, item, moved.available, inv.low_stock_threshold)
        if taken is not None and _channel_bookkeeping(s, store, row, order, item, qty, taken, done):
            # The channel now shows less (more) than the ledger publishes: push it back.
            result.changed_skus.add(sku)
    if result.shortages:
        _hold_oversold(s, row, result.shortages)
    result.dirty_stores = mark_dirty(s, store.account_id, result.changed_skus)
    return result


def _in_seed(store: Store, order: Order, item: StockItem, taken: StockTaken | None) -> bool:
    """Whether the channel level that seeded the item had the order's units out already
    (see :data:`SEEDED_GRACE`)."""
    if item.seeded_level_at is None:
        return order.created_at < item.created_at - SEEDED_GRACE
    if item.seeded_store_id != store.id:
        return False  # another channel's sale: the seed's level had it in
    if taken is not None and taken.at is None:
        return False  # the channel holds none of its units (unpaid, or given back)
    at = taken.at if taken is not None and taken.at is not None else order.created_at
    return at.replace(microsecond=0) <= item.seeded_level_at.replace(microsecond=0)


def _units_back(
    s: Session, store: Store, row: OrderRow, item: StockItem, qty: int, done: _OrderMovements
) -> None:
    """Put the units of an order sold before the seed's level was read back on hand (once per
    order and SKU), as many as the seed's level had out for open orders and are not back yet
    (all of them where the channel did not tell); the order's reservation then holds them."""
    key = f"order:{row.id}:{item.sku}:seeded"
    if done.has(key):
        return
    out = s.scalar(select(StockItem.seeded_out).where(StockItem.id == item.id).with_for_update())
    units = qty if out is None else min(qty, max(0, out))
    if units <= 0:
        return  # the seed's level had no more units out: this sale came after it was read
    if out is not None:
        s.execute(update(StockItem).where(StockItem.id == item.id).values(seeded_out=out - units))
    done.move(
        s,
        item,
        account_id=store.account_id,
        key=key,
        reason="import_order",
        source=f"order:{row.id}",
        on_hand=units,
        store_id=store.id,
        order_id=row.id,
        note=f"{units} sold on the channel before its level seeded the ledger, not shipped yet",
    )


def _target(order: Order) -> str:
    """Where the order's units belong: ``released``, ``shipped`` or ``reserved``."""
    if order.is_cancelled:
        return "released"
    if order.fulfillment_status is FulfillmentStatus.FULFILLED:
        return "shipped"
    return "reserved"


@dataclass(frozen=True)
class _Units:
    """One SKU of the order: the units it wants, holds already, and whether they shipped."""

    sku: str
    qty: int
    held: int
    shipped: bool


def _move_units(
    s: Session,
    store: Store,
    row: OrderRow,
    order: Order,
    item: StockItem,
    target: str,
    units: _Units,
    shortages: list[Shortage],
    done: _OrderMovements,
) -> Moved | None:
    """The one movement that takes the SKU's units to ``target`` (None when they are there)."""
    qty, held = units.qty, units.held
    key = f"order:{row.id}:{units.sku}"
    common: dict[str, Any] = {
        "account_id": store.account_id,
        "source": f"order:{row.id}",
        "store_id": store.id,
        "order_id": row.id,
    }
    if target == "reserved" and not units.shipped and held != qty:
        reason = "order_reserved" if qty > held else "order_released"
        moved = done.move(
            s, item, key=f"{key}:reserve:{qty}:{held}", reason=reason, reserved=qty - held, **common
        )
        if moved is not None and qty > held and moved.available_before < qty - held:
            shortages.append(Shortage(units.sku, qty - held, moved.available_before))
        return moved
    if target == "released" and held:
        return done.move(
            s,
            item,
            key=f"{key}:release",
            reason="order_released",
            reserved=-held,
            note=order.cancel_reason,
            **common,
        )
    if target == "shipped" and not units.shipped:
        return done.move(
            s, item, key=f"{key}:ship", reason="order_shipped", on_hand=-qty, reserved=-held, **common
        )
    return None


# Built once per process: read for every order version applied.
_ORDER_MOVEMENTS = select(
    StockMovement.stock_item_id, StockMovement.key, StockMovement.reason, StockMovement.reserved_delta
).where(StockMovement.order_id == bindparam("w_order"))
_CHANNEL_LINK = select(CatalogLink).where(
    CatalogLink.store_id == bindparam("w_store"), CatalogLink.sku == bindparam("w_sku")
)


@dataclass(frozen=True)
class _OrderMovements:
    """The movements the ledger holds for one order (read once per application): the units it
    holds per item, whether they shipped, and which keys are applied already, so that each
    SKU asks no more questions of the database. A concurrent application of the same order
    fails on the movements' unique key at its INSERT and retries whole (see ``db.stock.move``)."""

    rows: list[Any]
    keys: set[str]

    @classmethod
    def read(cls, s: Session, order_id: int) -> _OrderMovements:
        rows = list(s.execute(_ORDER_MOVEMENTS, {"w_order": order_id}))
        return cls(rows, {r.key for r in rows})

    def position(self, item_id: int) -> tuple[int, bool]:
        """Units this order holds on the item, and whether it shipped."""
        mine = [r for r in self.rows if r.stock_item_id == item_id and r.reason in ORDER_REASONS]
        return sum(int(r.reserved_delta or 0) for r in mine), any(r.reason == "order_shipped" for r in mine)

    def has(self, key: str) -> bool:
        return key[:255] in self.keys

    def move(self, s: Session, item: StockItem, *, key: str, **movement: Any) -> Moved | None:
        """``db.stock.move`` once: None when the order has the key applied already."""
        if self.has(key):
            return None
        self.keys.add(key[:255])
        return move(s, item, key=key, looked=True, **movement)


def _channel_bookkeeping(
    s: Session,
    store: Store,
    row: OrderRow,
    order: Order,
    item: StockItem,
    qty: int,
    taken: StockTaken,
    done: _OrderMovements,
) -> bool:
    """Follow the selling channel's own level: it fell when it took the units, rose when it gave them back.

    The level we know (``channel_qty`` at ``channel_qty_at``) already counts a change the
    channel made before that time, and not one made after it: the comparison uses when
    the channel took the units (``taken.at``), which is not always the order's creation.
    Platform times have whole seconds, so a sale made in the level's own second may be
    counted in it or not (the level may have been read before or after the sale, or the
    sale itself set that time): its units are taken off ``channel_qty`` and noted as open
    (``channel_qty_open``), and the settle step or the next push decides by reading the
    channel, never by calling the difference a merchant edit. Returns whether
    ``channel_qty`` moved.
    """
    # Read here, after this order's movement of the item (its UPDATE holds the item's row lock
    # to the commit): a concurrent order of the same SKU has committed its ``channel_qty`` then.
    link: CatalogLink | None = s.scalar(_CHANNEL_LINK, {"w_store": store.id, "w_sku": item.sku})
    if link is None:
        return False
    key = f"order:{row.id}:{item.sku}:channel_"
    common = {
        "account_id": store.account_id,
        "source": f"store:{store.id}",
        "store_id": store.id,
        "order_id": row.id,
    }
    sold = done.has(key + "sale")
    if taken.at is not None and not sold:
        note = f"{qty} sold on the channel"
        done.move(s, item, key=key + "sale", reason="channel_sale", note=note, **common)
        if link.channel_qty is not None and (link.channel_qty_at is None or taken.at >= link.channel_qty_at):
            link.channel_qty -= qty
            if link.channel_qty_at is not None and same_second(taken.at, link.channel_qty_at):
                link.channel_qty_open = (link.channel_qty_open or 0) + qty
            return True
    elif taken.at is None and sold and not done.has(key + "restock"):
        note = f"{qty} restored on the channel"
        done.move(s, item, key=key + "restock", reason="channel_restock", note=note, **common)
        if link.channel_qty is not None and (
            link.channel_qty_at is None or order.updated_at >= link.channel_qty_at
        ):
            link.channel_qty += qty
            return True
    return False


def _hold_oversold(s: Session, row: OrderRow, shortages: list[Shortage]) -> None:
    reason = "oversold: " + "; ".join(x.describe() for x in shortages)
    if not allowed(row.stage, Stage.ON_HOLD):  # cancelled, rejected or fulfilled: nothing to hold
        return
    row.hold_reason = reason
    advance(
        s,
        row,
        Stage.ON_HOLD,
        "inventory",
        reason,
        {"shortages": [{"sku": x.sku, "wanted": x.wanted, "available": x.available} for x in shortages]},
        action="order.held",
    )

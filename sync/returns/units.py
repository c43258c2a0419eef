"""A return's units in the stock ledger (db/stock.py): exchange units reserved at request
time, released when the return is refused or closed, shipped with the exchange parcel;
returned units restocked or recorded as a loss after inspection.

Every movement has a key of the return's own (``exchange:<return>:<item>:<what>``,
``return:<return>:<item>``), so a retry moves nothing twice; each marks the SKU on every
channel that lists it, and the caller schedules the pushes after its commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Return, ReturnItem, StockItem, StockMovement
from db.stock import ensure_item, mark_dirty, move

if TYPE_CHECKING:
    from sync.runtime import Runtime


def available(
    s: Session, account_id: int, location: str, skus: Iterable[str], lock: bool = False
) -> dict[str, int]:
    """Units of each SKU free to promise (on hand - reserved; 0 for a SKU the ledger lacks)."""
    wanted = sorted(set(skus))
    query = select(StockItem).where(
        StockItem.account_id == account_id, StockItem.location == location, StockItem.sku.in_(wanted)
    )
    if lock:
        query = query.order_by(StockItem.id).with_for_update()
    found = {item.sku: item.on_hand - item.reserved for item in s.scalars(query)}
    return {sku: found.get(sku, 0) for sku in wanted}


def exchange_wanted(items: Iterable[ReturnItem]) -> Counter[str]:
    wanted: Counter[str] = Counter()
    for item in items:
        if item.exchange_sku:
            wanted[item.exchange_sku] += item.quantity
    return wanted


def reserve_exchange(
    s: Session, ret: Return, items: list[ReturnItem], location: str
) -> tuple[list[str], set[int]]:
    """Reserve the exchange units under their rows' locks: (the SKUs short, the stores to push).
    Nothing is reserved when any SKU is short."""
    wanted = exchange_wanted(items)
    if not wanted:
        return [], set()
    free = available(s, ret.account_id, location, wanted, lock=True)
    short = [sku for sku, qty in sorted(wanted.items()) if free[sku] < qty]
    if short:
        return short, set()
    for item in items:
        if item.exchange_sku:
            _move(s, ret, item, location, "reserved", "exchange_reserved", reserved=item.quantity)
    return [], mark_dirty(s, ret.account_id, wanted)


def release_exchange(s: Session, ret: Return, items: list[ReturnItem], location: str) -> set[int]:
    """Give back the exchange units reserved and not shipped; the stores to push."""
    released: list[str] = []
    for item in items:
        if not item.exchange_sku or not _moved(s, ret, item, "reserved") or _moved(s, ret, item, "shipped"):
            continue
        if _move(s, ret, item, location, "released", "exchange_released", reserved=-item.quantity):
            released.append(item.exchange_sku)
    return mark_dirty(s, ret.account_id, released) if released else set()


def ship_exchange(s: Session, ret: Return, items: list[ReturnItem], location: str) -> set[int]:
    """The reserved exchange units left with their parcel: on hand and reserved both fall."""
    shipped: list[str] = []
    for item in items:
        if not item.exchange_sku or _moved(s, ret, item, "released"):
            continue
        q = item.quantity
        if _move(s, ret, item, location, "shipped", "exchange_shipped", on_hand=-q, reserved=-q):
            shipped.append(item.exchange_sku)
    return mark_dirty(s, ret.account_id, shipped) if shipped else set()


def restock(s: Session, ret: Return, item: ReturnItem, location: str, resellable: bool) -> set[int]:
    """A returned item back on the shelf (resellable) or recorded as a loss (nothing goes back
    on sale); the stores to push."""
    if not item.sku:
        return set()
    stock_id = ensure_item(s, ret.account_id, item.sku, location)
    moved = move(
        s,
        stock_id,
        account_id=ret.account_id,
        key=f"return:{ret.id}:{item.id}",
        reason="return_restocked" if resellable else "return_loss",
        source=f"return:{ret.id}",
        on_hand=item.quantity if resellable else 0,
        order_id=ret.order_id,
        note=None if resellable else f"{item.quantity} unit(s) came back {item.condition}",
    )
    if moved is None or not resellable:
        return set()
    return mark_dirty(s, ret.account_id, [item.sku])


def push(rt: Runtime, stores: set[int]) -> None:
    if stores:
        from sync.stock_push import schedule_push

        schedule_push(rt, stores)


def _key(ret: Return, item: ReturnItem, what: str) -> str:
    return f"exchange:{ret.id}:{item.id}:{what}"


def _moved(s: Session, ret: Return, item: ReturnItem, what: str) -> bool:
    found = s.scalar(
        select(StockMovement.id).where(
            StockMovement.account_id == ret.account_id, StockMovement.key == _key(ret, item, what)
        )
    )
    return found is not None


def _move(
    s: Session,
    ret: Return,
    item: ReturnItem,
    location: str,
    what: str,
    reason: str,
    on_hand: int = 0,
    reserved: int = 0,
) -> bool:
    assert item.exchange_sku is not None
    stock_id = ensure_item(s, ret.account_id, item.exchange_sku, location)
    moved = move(
        s,
        stock_id,
        account_id=ret.account_id,
        key=_key(ret, item, what),
        reason=reason,
        source=f"return:{ret.id}",
        on_hand=on_hand,
        reserved=reserved,
        order_id=ret.order_id,
    )
    return moved is not None

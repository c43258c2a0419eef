"""Pick and pack: the pick list for a batch of orders, and the pack scan that lets a label be bought.

Scans are SKUs: the catalog import keeps no barcodes yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import OrderNotFound
from core.lifecycle import Stage
from core.orders import Order
from core.picking import expected_units, pick_list, verify_packing
from db.models import Order as OrderRow
from db.timeline import record
from sync.shipping.common import ShippingError, ShippingInputError, ship_soon

if TYPE_CHECKING:
    from sync.runtime import Runtime


def pick_list_for(rt: Runtime, account_id: int, order_ids: list[int] | None) -> list[dict[str, Any]]:
    """The pick list (one line per SKU, in bin order) for the orders, or every ready_to_ship order."""
    with rt.session() as s:
        if order_ids is None:
            rows = list(
                s.scalars(
                    select(OrderRow)
                    .where(OrderRow.account_id == account_id, OrderRow.stage == Stage.READY_TO_SHIP)
                    .order_by(OrderRow.id)
                )
            )
        else:
            rows = [order_in(s, account_id, oid) for oid in dict.fromkeys(order_ids)]
        batch = [(str(r.id), Order.from_dict(r.data)) for r in rows]
        numbers = {str(r.id): r.number for r in rows}
    lines = pick_list(batch, rt.settings.shipping.bins)
    return [
        {
            "bin": p.bin,
            "sku": p.sku,
            "title": p.title,
            "quantity": p.quantity,
            "orders": [{"id": int(ref), "number": numbers[ref]} for ref in p.orders],
        }
        for p in lines
    ]


def order_in(s: Session, account_id: int, order_id: int) -> OrderRow:
    row = s.get(OrderRow, order_id)
    if row is None or row.account_id != account_id:
        raise OrderNotFound(f"order {order_id} not found")
    return row


def record_pack_scan(
    rt: Runtime, account_id: int, order_id: int, scanned: list[str], actor: str
) -> dict[str, Any]:
    """Check what was scanned into the parcel against the order; a match lets the label be bought.

    A mismatch is recorded (``pack.mismatch``) and the order stays ready_to_ship.
    """
    if not isinstance(scanned, list) or not all(isinstance(c, str) for c in scanned):
        raise ShippingInputError("scanned must be a list of SKUs or barcodes")
    if not actor or not actor.strip():
        raise ShippingInputError("actor is required: who packed the parcel")
    with rt.session() as s:
        row = order_in(s, account_id, order_id)
        if row.stage != Stage.READY_TO_SHIP or row.hold_reason is not None:
            why = f": {row.hold_reason}" if row.hold_reason else ""
            raise ShippingError(f"order {order_id} is {row.stage}{why}, not ready to pack")
        check = verify_packing(expected_units(Order.from_dict(row.data)), scanned)
        result = {
            "order_id": row.id,
            "ok": check.ok,
            "message": check.message,
            "missing": dict(check.missing),
            "extra": dict(check.extra),
            "unknown": list(check.unknown),
            "stage": row.stage,
        }
        subject = f"order:{row.id}"
        if check.ok:
            record(
                s,
                account_id,
                subject,
                actor.strip()[:64],
                "pack.verified",
                check.message,
                {"scanned": len(scanned)},
            )
        else:
            data = {k: result[k] for k in ("missing", "extra", "unknown")}
            record(s, account_id, subject, actor.strip()[:64], "pack.mismatch", check.message, data)
    if check.ok:
        ship_soon(rt, order_id)
    return result

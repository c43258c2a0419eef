"""Pick and pack: the pick list for a batch of orders, and the pack scan that lets a label be bought.

Scans are SKUs: the catalog import keeps no barcodes yet. At the console's packing bench the
units are scanned one at a time (:func:`scan_unit`), counted on the server, and the pack scan
is recorded when the last one is in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import OrderNotFound
from core.lifecycle import Stage
from core.orders import Order
from core.picking import expected_units, pick_list, verify_packing
from db.models import Order as OrderRow
from db.models import PackProgress, utcnow
from db.timeline import record
from sync.shipping.common import ShippingError, ShippingInputError, scan_passed, ship_soon

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


# --- scan-to-pack, one unit at a time (the console's packing bench) ------------------------------

MAX_CODE = 255


def _ready(row: OrderRow) -> None:
    if row.stage != Stage.READY_TO_SHIP or row.hold_reason is not None:
        why = f": {row.hold_reason}" if row.hold_reason else ""
        raise ShippingError(f"order {row.number or row.id} is {row.stage}{why}, not ready to pack")


def pack_state(rt: Runtime, account_id: int, order_id: int) -> dict[str, Any]:
    """What the parcel must hold (per SKU, with titles) and what has been scanned into it so far."""
    with rt.session() as s:
        row = order_in(s, account_id, order_id)
        progress = s.get(PackProgress, row.id)
        counts = dict(progress.counts) if progress is not None else {}
        return _state(row, counts, scan_passed(s, row.id))


def _state(row: OrderRow, counts: dict[str, Any], packed: bool) -> dict[str, Any]:
    order = Order.from_dict(row.data)
    expected = expected_units(order)
    titles: dict[str, str] = {}
    for line in order.line_items:
        titles.setdefault((line.sku or "").strip() or line.title, line.title)
    lines: list[dict[str, Any]] = [
        {"sku": sku, "title": titles.get(sku, sku), "expected": n, "scanned": int(counts.get(sku, 0))}
        for sku, n in expected.items()
    ]
    return {
        "order_id": row.id,
        "number": row.number,
        "stage": row.stage,
        "hold_reason": row.hold_reason,
        "lines": lines,
        "units": sum(expected.values()),
        "scanned": sum(line["scanned"] for line in lines),
        "complete": bool(lines) and all(line["scanned"] >= line["expected"] for line in lines),
        "verified": packed,  # its pack scan is recorded (the label is bought next)
    }


def scan_unit(rt: Runtime, account_id: int, order_id: int, code: str, actor: str) -> dict[str, Any]:
    """One scanned code at the packing bench: a unit the parcel still needs is counted (``ok``);
    a code not in the order, or one unit too many, counts nothing (``ok`` false, ``message``).

    The count is kept on the server (``PackProgress``), so a reload or a second tablet sees it.
    When the last unit is counted, the order's pack scan is recorded with
    :func:`record_pack_scan` (the API's pack), which lets its label be bought. Codes are SKUs
    (a line without SKU: its title); the catalog keeps no barcodes yet.
    """
    code = (code or "").strip()
    if not code:
        raise ShippingInputError("scan a SKU (the code was empty)")
    if len(code) > MAX_CODE:
        raise ShippingInputError(f"a code has at most {MAX_CODE} characters")
    if not actor or not actor.strip():
        raise ShippingInputError("actor is required: who packed the parcel")
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        if row is None or row.account_id != account_id:
            raise OrderNotFound(f"order {order_id} not found")
        _ready(row)
        if scan_passed(s, row.id):
            raise ShippingError(f"order {row.number} is packed already; its label is being bought")
        progress = s.get(PackProgress, row.id, with_for_update=True)
        counts: dict[str, Any] = dict(progress.counts) if progress is not None else {}
        expected = expected_units(Order.from_dict(row.data))
        if code not in expected:
            ok, message = False, f"{code} is not in order {row.number}"
        elif int(counts.get(code, 0)) >= expected[code]:
            ok, message = False, f"too many: order {row.number} needs {expected[code]} x {code}, all scanned"
        else:
            counts[code] = int(counts.get(code, 0)) + 1
            ok, message = True, f"{code}: {counts[code]} of {expected[code]}"
            if progress is None:
                progress = PackProgress(order_id=row.id, account_id=account_id, counts=counts)
                s.add(progress)
            progress.counts = counts
            progress.updated_by = actor.strip()[:200]
            progress.updated_at = utcnow()
        state = _state(row, counts, False)
    state.update(ok=ok, code=code, message=message, packed=None)
    if ok and state["complete"]:
        scanned = [sku for sku, n in counts.items() for _ in range(int(n))]
        packed = record_pack_scan(rt, account_id, order_id, scanned, actor)
        state["packed"] = packed
        if packed["ok"]:
            with rt.session() as s:
                s.execute(delete(PackProgress).where(PackProgress.order_id == order_id))
    return state


def restart_pack(rt: Runtime, account_id: int, order_id: int, actor: str) -> None:
    """Forget the units scanned so far into the order's parcel (the packer starts again)."""
    with rt.session() as s:
        row = order_in(s, account_id, order_id)
        progress = s.get(PackProgress, row.id)
        if progress is not None:
            s.delete(progress)
            record(
                s,
                account_id,
                f"order:{row.id}",
                actor.strip()[:64],
                "pack.restarted",
                "scanned units cleared",
            )


def orders_for_code(rt: Runtime, account_id: int, code: str, limit: int = 10) -> list[dict[str, Any]]:
    """The orders a scanned order number or pick slip code (``WB-<id>``) names, ready ones first."""
    code = (code or "").strip()
    if not code or len(code) > MAX_CODE:
        return []
    with rt.session() as s:
        by_id = code.upper().removeprefix("WB-")
        if code.upper().startswith("WB-") and by_id.isdigit() and len(by_id) < 19:
            row = s.get(OrderRow, int(by_id))
            rows = [row] if row is not None and row.account_id == account_id else []
        else:
            numbers = {code, code.lstrip("#"), "#" + code.lstrip("#")}
            rows = list(
                s.scalars(
                    select(OrderRow)
                    .where(OrderRow.account_id == account_id, OrderRow.number.in_(numbers))
                    .order_by(OrderRow.id.desc())
                    .limit(limit)
                )
            )
        rows.sort(key=lambda r: r.stage != Stage.READY_TO_SHIP)
        return [{"id": r.id, "number": r.number, "stage": r.stage} for r in rows]

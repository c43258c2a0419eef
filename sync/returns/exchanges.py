"""The exchange parcel: the variant the customer chose, shipped as a new shipment of the
original order through the normal label pipeline (sync/shipping/labels.py).

Run by ``refund_return`` once the exchange's evidence is there (the same rules as a
refund). Under the return's row lock a ``Shipment`` of the order is planned once (the next
package number, linked by ``Return.exchange_shipment_id``), holding the exchange units.
Its label is bought like any parcel's (``shipment:<order>:<package>`` and
``label:<order>:<package>:<rate>`` in the effects ledger: never two labels) and its tracker
started; the units reserved at request time leave the ledger (``exchange_shipped``). A
cheaper variant refunds the difference when the policy says so (``refund:<return>``, once).
Then the return is ``exchanged`` and the storefront told.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from core.orders import Order
from core.returns import ReturnState, exchange_refund
from core.shipping import parcel_to_json
from db.models import Return, Shipment
from sync.jobs import job
from sync.returns import units
from sync.returns.common import items_of, move, note, order_of, soon
from sync.returns.labels import parcel_for
from sync.returns.merchant import for_account
from sync.returns.refunds import READY_STATES, issue_refund
from sync.shipping.common import easypost
from sync.shipping.labels import buy_parcel
from sync.shipping.plan import Context
from sync.shipping.trackers import start_tracker

if TYPE_CHECKING:
    from sync.runtime import Runtime


@job("ship_exchange", queue="returns")
def ship_exchange(rt: Runtime, return_id: int) -> str:
    """Plan, buy and record the exchange parcel once (see the module's docstring)."""
    planned = _plan(rt, return_id)
    if isinstance(planned, str):
        return planned
    ctx, shipment_id = planned
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        assert sh is not None
        bought = sh.state not in ("planned", "created")
    client = easypost(rt)
    if not bought:
        problem = buy_parcel(rt, client, ctx, shipment_id)
        if problem is not None:
            return _problem(rt, return_id, f"exchange parcel: {problem}")
    start_tracker(rt, client, ctx, shipment_id)
    difference = _difference(rt, return_id)
    return _finish(rt, return_id, shipment_id, difference)


def _plan(rt: Runtime, return_id: int) -> tuple[Context, int] | str:
    with rt.session() as s:
        ret = s.get(Return, return_id, with_for_update=True)
        if ret is None:
            return "missing"
        if ret.state not in READY_STATES:
            return str(ret.state)
        row = order_of(s, ret)
        order = Order.from_dict(row.data)
        ctx = Context(row.id, row.account_id, order)
        if ret.exchange_shipment_id is not None:
            return ctx, ret.exchange_shipment_id
        lines = {line.line_id: line for line in order.line_items}
        wanted = [
            (replace(lines[i.line_id], sku=i.exchange_sku, variant_id=None, product_id=None), i.quantity)
            for i in items_of(s, ret.id)
            if i.exchange_sku and i.line_id in lines
        ]
        if order.shipping_address is None or order.shipping_address.is_empty():
            return _note_problem(s, ret, "the order has no shipping address for the exchange parcel")
        parcel = parcel_for(rt, s, row, wanted)
        if isinstance(parcel, str):
            return _note_problem(s, ret, f"exchange parcel: {parcel}")
        package = (s.scalar(select(func.max(Shipment.package)).where(Shipment.order_id == row.id)) or 0) + 1
        sh = Shipment(
            account_id=row.account_id,
            store_id=row.store_id,
            order_id=row.id,
            package=package,
            state="planned",
            parcel=parcel_to_json(parcel),
        )
        s.add(sh)
        s.flush()
        ret.exchange_shipment_id = sh.id
        note(
            s,
            ret,
            "return.exchange_planned",
            f"exchange parcel {package}: {parcel.box}",
            {"shipment_id": sh.id},
        )
        return ctx, sh.id


def _note_problem(s: Any, ret: Return, problem: str) -> str:
    if ret.problem != problem:
        ret.problem = problem[:900]
        note(s, ret, "return.exchange_problem", problem)
    return "problem"


def _problem(rt: Runtime, return_id: int, problem: str) -> str:
    with rt.session() as s:
        ret = s.get(Return, return_id, with_for_update=True)
        assert ret is not None
        return _note_problem(s, ret, problem)


def _difference(rt: Runtime, return_id: int) -> Decimal:
    """A cheaper variant's difference refunded once, when the policy refunds differences."""
    with rt.session() as s:
        ret = s.get(Return, return_id)
        assert ret is not None
        policy = for_account(rt, s, ret.account_id).policy
        currency = Order.from_dict(order_of(s, ret).data).currency
        lines: list[dict[str, Any]] = []
        for item in items_of(s, ret.id):
            if item.exchange_price is None:
                continue
            owed = (
                exchange_refund(policy, Decimal(item.unit_price), Decimal(item.exchange_price))
                * item.quantity
            )
            if owed > 0:
                lines.append({"line_id": item.line_id, "quantity": item.quantity, "amount": str(owed)})
    if not lines:
        return Decimal("0.00")
    issue_refund(rt, return_id, lines, "0.00", currency, "refund")
    return sum((Decimal(x["amount"]) for x in lines), Decimal("0.00"))


def _finish(rt: Runtime, return_id: int, shipment_id: int, difference: Decimal) -> str:
    with rt.session() as s:
        ret = s.get(Return, return_id, with_for_update=True)
        assert ret is not None
        if ret.state == ReturnState.exchanged:
            return "exchanged"
        sh = s.get(Shipment, shipment_id)
        assert sh is not None
        stores = units.ship_exchange(s, ret, items_of(s, ret.id), rt.settings.inventory.location)
        if difference > 0:
            ret.refund = {"total": str(difference), "exchange_difference": str(difference)}
        ret.problem = None
        why = f"exchange parcel {sh.package} sent, tracking {sh.tracking_code}"
        if difference > 0:
            why += f"; {difference} refunded (a cheaper variant)"
        move(s, ret, ReturnState.exchanged, why, {"shipment_id": shipment_id})
    units.push(rt, stores)
    soon(rt, "write_back_return", return_id, "exchanged")
    return "exchanged"

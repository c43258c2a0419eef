"""Receive and inspect a return: each item's condition, the parcel's weight on arrival.

``receive`` takes a condition for every item of the return (resellable, damaged,
wrong_item, missing). Resellable units go back on the shelf through the stock ledger
(``return_restocked`` under ``return:<return>:<item>``; every channel that lists the SKU
is marked and pushed); the others are recorded as a loss movement (``return_loss``:
nothing goes back on sale). The return becomes ``received`` (when the carrier had not
said so) and ``inspected``; then ``refund_return`` (or the exchange) checks its evidence.
A return refunded or exchanged before inspection (its evidence came first) is inspected
without a change of state. Receiving again with the same conditions changes nothing;
other conditions are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from core.returns import Condition, ReturnState
from db.models import Return
from sync.returns import units
from sync.returns.common import (
    ReturnConflict,
    ReturnInputError,
    check_actor,
    get_return,
    items_of,
    move,
    note,
    soon,
)

if TYPE_CHECKING:
    from sync.runtime import Runtime

RECEIVABLE = (ReturnState.approved, ReturnState.label_sent, ReturnState.in_transit, ReturnState.received)
# Refunded or exchanged before the goods were inspected (the policy's evidence came first).
SETTLED = (ReturnState.refunded, ReturnState.exchanged)
MAX_WEIGHT_OZ = Decimal("100000")


def _conditions(raw: Mapping[int | str, Condition | str]) -> dict[int, Condition]:
    out: dict[int, Condition] = {}
    for key, value in raw.items():
        try:
            item_id = int(key)
            out[item_id] = Condition(str(value))
        except ValueError as exc:
            raise ReturnInputError(
                f"item {key!r}: the condition must be one of {', '.join(c.value for c in Condition)}"
            ) from exc
    return out


def _weight(weight_oz: Decimal | float | str | None) -> Decimal | None:
    if weight_oz is None or weight_oz == "":
        return None
    try:
        value = Decimal(str(weight_oz))
    except InvalidOperation as exc:
        raise ReturnInputError("the weight on arrival is not a number of ounces") from exc
    if not value.is_finite() or value < 0 or value > MAX_WEIGHT_OZ:
        raise ReturnInputError("the weight on arrival is out of range")
    return value


def receive(
    rt: Runtime,
    account_id: int,
    return_id: int,
    conditions: Mapping[int | str, Condition | str],
    weight_oz: Decimal | float | str | None,
    actor: str,
) -> Return:
    """Record the return's items as inspected (see the module's docstring); returns the return."""
    actor, wanted, weight = check_actor(actor), _conditions(conditions), _weight(weight_oz)
    location = rt.settings.inventory.location
    now = rt.now()
    with rt.session() as s:
        ret = get_return(s, account_id, return_id, lock=True)
        items = items_of(s, ret.id)
        if set(wanted) != {i.id for i in items}:
            known = ", ".join(str(i.id) for i in items)
            raise ReturnInputError(f"give a condition for each item of return {return_id} (items {known})")
        if ret.inspected_at is not None:
            if all(i.condition == wanted[i.id].value for i in items):
                return ret
            raise ReturnConflict(f"return {return_id} was already inspected")
        if ret.state not in RECEIVABLE and ret.state not in SETTLED:
            raise ReturnConflict(f"return {return_id} is {ret.state}: nothing to receive")
        who = f"user:{actor}"
        if ret.state in RECEIVABLE and ret.state != ReturnState.received:
            move(s, ret, ReturnState.received, f"received by {actor}", actor=who, at=now)
        stores: set[int] = set()
        for item in items:
            item.condition, item.inspected_at = wanted[item.id].value, now
            stores |= units.restock(s, ret, item, location, wanted[item.id] is Condition.resellable)
        if weight is not None:
            ret.arrival_weight_oz = float(weight)
        counts = {c.value: sum(i.quantity for i in items if i.condition == c.value) for c in Condition}
        summary = ", ".join(f"{n} {c}" for c, n in counts.items() if n)
        data = {"conditions": counts, "weight_oz": str(weight) if weight is not None else None}
        if ret.state in RECEIVABLE:
            move(s, ret, ReturnState.inspected, summary, data, who, at=now)
        else:  # refunded (or exchanged) on earlier evidence: the state stays, the goods are inspected
            ret.inspected_at = now
            note(s, ret, "return.inspected", summary, data, who)
    units.push(rt, stores)
    soon(rt, "refund_return", ret.id, "inspected")
    soon(rt, "write_back_return", ret.id, "inspected")
    return ret

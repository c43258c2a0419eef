"""``refund_return``: the refund, once, and only on its evidence.

Run after each step that may bring evidence (first scan, delivery, inspection, a review):

1. the evidence rules (sync/returns/evidence.py). A flagged return not yet reviewed is
   held (``hold_reason`` with the facts, ``return.held`` once on the timeline) until a
   person approves or rejects it (sync/returns/desk.py), like an order's review; one
   whose evidence is not there yet waits (the job answers what for);
2. an exchange goes to its parcel (sync/returns/exchanges.py);
3. the amount by policy (``core.returns.refund_plan``), fixed on the return before any
   call, so a retry asks for the very same refund;
4. ``Storefront.refund`` inside the effects ledger under ``refund:<return>``: a retry
   after a timeout or a dead worker asks ``find_refund`` first and never refunds twice;
5. state ``refunded``; the storefront's return closed, notes and the merchant's order
   status follow (``write_back_return``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.storefront.writes import RefundLine, RefundRequest, Written
from core.errors import Permanent
from core.money import Money
from core.orders import Order
from core.returns import NOT_REFUNDED, Condition, RefundItem, RefundPlan, Resolution, ReturnState, refund_plan
from core.shipping import Label
from db.effects import EffectRecord, Progress
from db.models import Return, ReturnItem
from sync.jobs import job
from sync.returns.common import items_of, move, note, order_of, soon, store_of
from sync.returns.evidence import judge
from sync.returns.merchant import for_account
from sync.storefronts import storefront

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sync.runtime import Runtime

READY_STATES = (ReturnState.approved, ReturnState.in_transit, ReturnState.received, ReturnState.inspected)
ZERO = Decimal("0.00")


@job("refund_return", queue="returns")
def refund_return(rt: Runtime, return_id: int) -> str:
    """Hold, wait, ship the exchange or refund (see the module's docstring); returns what it did."""
    gate = _gate(rt, return_id)
    if gate != "ready":
        return gate
    with rt.session() as s:
        ret = s.get(Return, return_id)
        assert ret is not None
        exchange = ret.resolution == Resolution.exchange
    if exchange:
        from sync.returns.exchanges import ship_exchange

        return str(ship_exchange(rt, return_id))
    _written_back(rt, return_id)
    plan = _fix_plan(rt, return_id)
    written = issue_refund(rt, return_id, plan["lines"], plan["shipping"], plan["currency"], "refund")
    with rt.session() as s:
        ret = s.get(Return, return_id, with_for_update=True)
        assert ret is not None
        if ret.state == ReturnState.refunded:
            return "refunded"
        ret.refund_ref = (written.ref if written is not None else None) or ret.refund_ref
        total = (ret.refund or {}).get("total", "0.00")
        move(s, ret, ReturnState.refunded, f"{total} {plan['currency']} refunded", {"refund": ret.refund})
    soon(rt, "write_back_return", return_id, "refunded")
    return "refunded"


def _written_back(rt: Runtime, return_id: int) -> None:
    """The storefront's return opened (or approved) before it is refunded through it. A
    write the storefront refuses for good does not stop the refund (it goes to the order
    then); the refusal is on the timeline."""
    from sync.returns.write_back import write_back_return

    try:
        write_back_return(rt, return_id)
    except Permanent as exc:
        with rt.session() as s:
            ret = s.get(Return, return_id)
            assert ret is not None
            note(s, ret, "return.write_back_refused", f"{type(exc).__name__}: {exc}"[:500])


def _gate(rt: Runtime, return_id: int) -> str:
    """``ready``, or why the refund does not go out now (held, waiting, finished)."""
    with rt.session() as s:
        ret = s.get(Return, return_id, with_for_update=True)
        if ret is None:
            return "missing"
        if ret.state not in READY_STATES:
            return str(ret.state)
        if ret.review is not None and ret.review.get("decision") == "reject":
            return "rejected"
        policy = for_account(rt, s, ret.account_id).policy
        judged = judge(s, ret, items_of(s, ret.id), policy, rt.now())
        ret.evidence = {"facts": judged.facts.to_dict(), "flags": [f.to_dict() for f in judged.flags]}
        if judged.readiness.hold:
            if ret.hold_reason is None:
                ret.hold_reason = "; ".join(f.reason for f in judged.flags)[:1000]
                note(s, ret, "return.held", ret.hold_reason, {"flags": [f.rule for f in judged.flags]})
            return "held"
        if not judged.readiness.ready:
            return f"waiting for {judged.readiness.waits_for}"
        return "ready"


def _fix_plan(rt: Runtime, return_id: int) -> dict[str, Any]:
    """What is refunded, decided once and kept on the return (a retry asks for the same)."""
    with rt.session() as s:
        ret = s.get(Return, return_id, with_for_update=True)
        assert ret is not None
        if ret.refund is not None and "lines" in ret.refund:
            return dict(ret.refund)
        items = items_of(s, ret.id)
        order = Order.from_dict(order_of(s, ret).data)
        policy = for_account(rt, s, ret.account_id).policy
        plan = refund_plan(
            policy,
            [RefundItem(Decimal(i.unit_price), i.quantity, i.reason, _condition(i)) for i in items],
            _shipping_left(s, ret, order),
            _label_cost(ret),
            bool((ret.decision or {}).get("merchant_pays_label")),
        )
        ret.refund = {**plan.to_dict(), "currency": order.currency, **_allocate(plan, items)}
        note(s, ret, "return.refund_planned", _describe(plan, order.currency), {"refund": ret.refund})
        return dict(ret.refund)


def _condition(item: ReturnItem) -> Condition | None:
    return Condition(item.condition) if item.condition else None


def _shipping_left(s: Session, ret: Return, order: Order) -> Decimal:
    """The order's shipping, unless another return of the order refunded it already."""
    from sqlalchemy import select

    others = s.scalars(select(Return.refund).where(Return.order_id == ret.order_id, Return.id != ret.id))
    if any(r and Decimal(str(r.get("shipping") or "0")) > 0 for r in others):
        return ZERO
    return order.total_shipping.amount


def _label_cost(ret: Return) -> Decimal:
    if not ret.label:
        return ZERO
    label = Label.from_dict(ret.label)
    return label.price.amount if label.price is not None else ZERO


def _allocate(plan: RefundPlan, items: list[ReturnItem]) -> dict[str, Any]:
    """The refund per order line: each refunded line's value, less the fee and label taken
    from the first lines; the original shipping apart."""
    deduct = plan.fee + plan.label
    lines: list[dict[str, Any]] = []
    for item in items:
        if item.condition and Condition(item.condition) in NOT_REFUNDED:
            continue
        value = Decimal(item.unit_price) * item.quantity
        take = min(value, deduct)
        deduct -= take
        if value - take > 0:
            lines.append({"line_id": item.line_id, "quantity": item.quantity, "amount": str(value - take)})
    shipping = plan.shipping - min(plan.shipping, deduct)
    return {"lines": lines, "shipping": str(shipping)}


def _describe(plan: RefundPlan, currency: str) -> str:
    return (
        f"{plan.total} {currency}: items {plan.items}, shipping {plan.shipping}, "
        f"restocking fee -{plan.fee}, return label -{plan.label}"
    )


def issue_refund(
    rt: Runtime, return_id: int, lines: list[dict[str, Any]], shipping: str, currency: str, what: str
) -> Written | None:
    """Refund ``lines`` (and ``shipping``) once on the storefront, under ``<what>:<return>``;
    None when nothing is owed."""
    if not lines and Decimal(shipping) <= 0:
        return None
    with rt.session() as s:
        ret = s.get(Return, return_id)
        assert ret is not None
        row, store = order_of(s, ret), store_of(s, ret)
        s.expunge(store)
        account_id, order_id, return_ref = ret.account_id, row.platform_order_id, ret.platform_return_id
    shop = storefront(rt, store)
    key = f"{what}:{return_id}"
    request = RefundRequest(
        key=key,
        lines=tuple(
            RefundLine(str(x["line_id"]), int(x["quantity"]), Money(Decimal(x["amount"]), currency))
            for x in lines
        ),
        shipping=Money(Decimal(shipping), currency) if Decimal(shipping) > 0 else None,
        note=f"Return {return_id}",
        money_back=True,
        notify=True,
        return_ref=return_ref,
    )

    def act(progress: Progress) -> dict[str, Any]:
        written = shop.refund(order_id, request)
        if written.ref:
            progress.record_outside_id(str(written.ref)[:255])
        return written.to_dict()

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        again = shop.find_refund(order_id, key, return_ref)
        return again.to_dict() if again is not None else None

    fingerprint = {"return_id": return_id, "lines": lines, "shipping": shipping, "currency": currency}
    done = rt.ledger.run(key, "refund", fingerprint, act, recover, account_id=account_id)
    return Written.from_dict(done)

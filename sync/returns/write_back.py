"""``write_back_return``: where a return stands, told to its storefront once per step.

Each write runs inside the effects ledger under a key of the return's own, so a retried
job (or one whose answer was lost) writes nothing twice:

- ``retopen:<return>``: a return requested at the portal or by the merchant is opened on
  a storefront with returns of its own (``find_return`` recovers a lost answer); its id
  there is kept (``platform_return_id``);
- ``retapprove:<return>`` / ``retdecline:<return>``: a request made on the storefront is
  approved or declined there as the policy (or the merchant) decided;
- ``retclose:<return>``: a closed, refunded or exchanged return is closed there;
- ``retnote:<return>:<state>``: each step reached, in a note (the customer's when it
  concerns them; ``find_return_note`` recovers); a storefront with returns of its own
  records none;
- ``orderstatus:<order>:return<return>:<state>:<status>``: the merchant's order status
  for the state (``returns.order_status``), where the store takes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from connectors.storefront import Storefront
from connectors.storefront.writes import OrderStatusRefused, ReturnLine, ReturnReason, ReturnRequest, Written
from core.returns import ReturnState
from db.effects import EffectFailed, EffectRecord, Progress
from db.models import Return, Shipment
from sync.jobs import job
from sync.returns.common import get_return, items_of, note, order_of, store_of
from sync.returns.merchant import MerchantReturns, for_account
from sync.storefronts import storefront

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.returns")
SETTLED = (ReturnState.refunded, ReturnState.exchanged, ReturnState.closed)
# What the note of each step says (the customer's note for those marked True).
STEPS: tuple[tuple[str, str, str, bool], ...] = (
    ("approved_at", "approved", "Your return was approved.", True),
    ("label_sent_at", "label_sent", "Your return label was sent by e-mail.", True),
    ("received_at", "received", "Your returned items arrived.", True),
    ("inspected_at", "inspected", "Your returned items were inspected.", False),
    ("refunded_at", "settled", "Your return is complete.", True),
    ("closed_at", "closed", "Your return was closed.", True),
)


@dataclass
class Target:
    """What one run needs of the return, read once."""

    return_id: int
    account_id: int
    order_id: int
    platform_order_id: str
    source: str
    state: ReturnState
    platform_return_id: str | None
    refusals: list[dict[str, str]]
    steps: list[tuple[str, str, bool]]
    lines: tuple[ReturnLine, ...]
    merchant: MerchantReturns


@job("write_back_return", queue="returns")
def write_back_return(rt: Runtime, return_id: int) -> str:
    """Tell the storefront every step the return reached (each once); returns its state."""
    loaded = _load(rt, return_id)
    if loaded is None:
        return "missing"
    target, shop = loaded
    if target.state == ReturnState.requested:
        return str(target.state)
    if target.state == ReturnState.refused:
        _decline(rt, shop, target)
    elif target.platform_return_id is None and target.source != "storefront" and shop.native_returns:
        target.platform_return_id = _open(rt, shop, target)
    elif target.platform_return_id is not None and target.source == "storefront" and target.steps:
        _once(
            rt,
            target,
            f"retapprove:{target.return_id}",
            "return_approve",
            lambda: shop.approve_return(target.platform_order_id, str(target.platform_return_id)),
        )
    if target.state in SETTLED and target.platform_return_id is not None:
        _once(
            rt,
            target,
            f"retclose:{target.return_id}",
            "return_close",
            lambda: shop.close_return(target.platform_order_id, str(target.platform_return_id)),
        )
    for name, text, notify in target.steps:
        _note(rt, shop, target, name, text, notify)
    _order_status(rt, shop, target)
    return str(target.state)


def _load(rt: Runtime, return_id: int) -> tuple[Target, Storefront] | None:
    with rt.session() as s:
        ret = s.get(Return, return_id)
        if ret is None:
            return None
        row, store = order_of(s, ret), store_of(s, ret)
        lines = tuple(
            ReturnLine(i.line_id, i.quantity, _reason(i.reason), (i.note or "")[:500])
            for i in items_of(s, ret.id)
        )
        steps = [
            (name, text, notify) for stamp, name, text, notify in STEPS if getattr(ret, stamp) is not None
        ]
        if ret.state == ReturnState.exchanged and ret.exchange_shipment_id is not None:
            sh = s.get(Shipment, ret.exchange_shipment_id)
            sent = f"Your exchange is on its way: {sh.carrier} {sh.tracking_code}." if sh is not None else ""
            steps = [(n, sent if n == "settled" and sent else text, notify) for n, text, notify in steps]
        target = Target(
            return_id=ret.id,
            account_id=ret.account_id,
            order_id=ret.order_id,
            platform_order_id=row.platform_order_id,
            source=ret.source,
            state=ReturnState(ret.state),
            platform_return_id=ret.platform_return_id,
            refusals=list((ret.decision or {}).get("refusals") or []),
            steps=steps,
            lines=lines,
            merchant=for_account(rt, s, ret.account_id),
        )
        s.expunge(store)
    return target, storefront(rt, store)


def _reason(text: str) -> ReturnReason:
    try:
        return ReturnReason(text)
    except ValueError:
        return ReturnReason.other


def _once(
    rt: Runtime,
    target: Target,
    key: str,
    kind: str,
    call: Callable[[], Written],
    find: Callable[[], Written | None] | None = None,
) -> dict[str, Any]:
    def act(progress: Progress) -> dict[str, Any]:
        written = call()
        if written.ref:
            progress.record_outside_id(str(written.ref)[:255])
        return written.to_dict()

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        assert find is not None
        again = find()
        return again.to_dict() if again is not None else None

    # Without a finder the write is safe to repeat: the storefront answers "already done".
    return rt.ledger.run(
        key,
        kind,
        {"return_id": target.return_id, "kind": kind},
        act,
        recover if find is not None else None,
        account_id=target.account_id,
    )


def _open(rt: Runtime, shop: Storefront, target: Target) -> str | None:
    """The return opened on the storefront once; its id there kept on the return."""
    key = f"retopen:{target.return_id}"
    request = ReturnRequest(key=key, lines=target.lines, notify=False)
    done = _once(
        rt,
        target,
        key,
        "return_open",
        lambda: shop.open_return(target.platform_order_id, request),
        lambda: shop.find_return(target.platform_order_id, key),
    )
    ref = done.get("ref")
    if not ref:
        return None
    with rt.session() as s:
        ret = get_return(s, target.account_id, target.return_id, lock=True)
        if ret.platform_return_id is None:
            ret.platform_return_id = str(ref)[:128]
            note(s, ret, "return.opened", f"opened on {shop.platform}", {"ref": str(ref)})
    return str(ref)


def _decline(rt: Runtime, shop: Storefront, target: Target) -> None:
    rules = [r.get("rule", "other") for r in target.refusals] or ["other"]
    words = " ".join(r.get("reason", "") for r in target.refusals).strip() or "Not within the return policy."
    if target.platform_return_id is not None:
        _once(
            rt,
            target,
            f"retdecline:{target.return_id}",
            "return_decline",
            lambda: shop.decline_return(
                target.platform_order_id, str(target.platform_return_id), rules[0], words[:500]
            ),
        )
    _note(rt, shop, target, "refused", f"Your return request was refused: {words}", True)


def _note(rt: Runtime, shop: Storefront, target: Target, step: str, text: str, notify: bool) -> None:
    key = f"retnote:{target.return_id}:{step}"
    _once(
        rt,
        target,
        key,
        "return_note",
        lambda: shop.note_return(target.platform_order_id, key, text, notify),
        lambda: shop.find_return_note(target.platform_order_id, key),
    )


def _order_status(rt: Runtime, shop: Storefront, target: Target) -> None:
    """The merchant's order status for the return's state, once per return and state."""
    status = target.merchant.order_status.get(target.state.value)
    if not status or not shop.custom_statuses:
        return
    key = f"orderstatus:{target.order_id}:return{target.return_id}:{target.state}:{status}"
    try:
        _once(
            rt, target, key, "order_status", lambda: shop.set_order_status(target.platform_order_id, status)
        )
    except EffectFailed:
        return  # refused before, and noted then
    except OrderStatusRefused as exc:
        log.warning("returns.order_status_refused", order_id=target.order_id, status=status)
        with rt.session() as s:
            ret = get_return(s, target.account_id, target.return_id)
            note(s, ret, "return.order_status_refused", str(exc)[:500], {"status": status})

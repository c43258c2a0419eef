"""The order pipeline's first stages: verification, the checks of review, cancellation.

received -> verifying -> approved -> ready_to_ship (then sync/shipping.py)
                      -> on_hold (a person reviews: approve resumes, reject cancels)
                      -> rejected (risk.reject_action "cancel": cancelled on the storefront)
cancelled from any stage but rejected, when the storefront cancels (``cancel_order``).

Every move goes through ``sync.lifecycle.advance`` (the table in core/lifecycle.py) and
lands on the order's timeline with its reason. Each step reads the stage it starts from,
so a job run twice, or late, changes nothing: the database says where the order is, and a
sweep re-enqueues the verification of orders left without one.
An order with ``hold_reason`` set (oversold, held by review) never reaches ready_to_ship.
Storefront effects (the verdict written back, a cancellation) run as their own jobs
(sync/verdicts.py), so a storefront outage never blocks a verdict already stored.
The reviewer's decisions and the trusted customers are in sync/review.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.addresses import Address
from core.errors import Conflict, InvalidInput
from core.lifecycle import FINAL, UNVERIFIED, Stage
from core.orders import Order, email_key
from core.shipping import AddressCheck
from db.models import Order as OrderRow
from db.models import StockItem, TrustedCustomer, utcnow
from db.timeline import record
from sync.jobs import job, run_now, safe_job_id
from sync.lifecycle import advance

if TYPE_CHECKING:
    from core.risk import RiskInput, RiskVerdict
    from settings import RiskSettings
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.pipeline")

ACTOR = "pipeline"
MAX_REASON = 1000
STALLED_AFTER = timedelta(seconds=60)  # a received/verifying order this old with no job is re-enqueued
# An order still awaiting payment (financial status pending: unpaid, or a bank transfer) is not
# verified yet: the update that says it was paid starts it.
UNPAID = "pending"


class ReviewError(Conflict):
    """A review decision that cannot be taken now; its subclasses say when it is the order
    or the input that is wrong."""


class ReviewInputError(InvalidInput, ReviewError):
    """The decision's input is refused (reviewer, reason, e-mail)."""


# --- stages ---------------------------------------------------------------------------


def verifiable(row: OrderRow) -> bool:
    """Received, being verified, or held by the stock ledger (oversold) before it was verified."""
    if row.stage in UNVERIFIED:
        return True
    return row.stage == Stage.ON_HOLD and row.risk is None and row.review is None


def waits_for_verification(row: OrderRow) -> bool:
    """Whether the order is one ``start`` would enqueue verification for."""
    return verifiable(row) and row.financial_status != UNPAID


def verify_now(rt: Runtime, order_id: int) -> None:
    """Verify an order just taken in (``waits_for_verification``) in the job that took it
    in (``sync.jobs.run_now``: queued as its own job when that attempt fails, or when
    called outside a job)."""
    run_now(rt, "verify_order", safe_job_id("verify", order_id), order_id=order_id)


def start(rt: Runtime, order_ids: Iterable[int]) -> None:
    """Enqueue verification for the orders (just taken in) that wait for it."""
    ids = list(order_ids)
    if not ids:
        return
    with rt.session() as s:
        rows = list(s.scalars(select(OrderRow).where(OrderRow.id.in_(ids))))
        waiting = [r.id for r in rows if waits_for_verification(r)]
    for order_id in waiting:
        rt.enqueue("verify_order", job_id=safe_job_id("verify", order_id), order_id=order_id)


def _lock(s: Session, order_id: int) -> OrderRow | None:
    return s.get(OrderRow, order_id, with_for_update=True)


# --- verification ---------------------------------------------------------------------


@job("verify_order", queue="orders")
def verify_order(rt: Runtime, order_id: int) -> str:
    """Score the order and act on the verdict; returns the order's stage."""
    from core.risk import RiskRules, assess
    from sync.account_settings import settings_for

    with rt.session() as s:
        row = _lock(s, order_id)
        if row is None:
            return "missing"
        if not verifiable(row):
            return row.stage
        if row.stage != Stage.VERIFYING:
            advance(s, row, Stage.VERIFYING, ACTOR, "verification started")
        order = Order.from_dict(row.data)
        risk = settings_for(rt, row.account_id, s).risk  # the merchant's own weights and thresholds
        inp = gather_input(s, row, order, risk)
    check, skipped = address_check(rt, order)
    verdict = assess(replace(inp, address_check=check), RiskRules.from_settings(risk))
    with rt.session() as s:
        row = _lock(s, order_id)
        if row is None:
            return "missing"
        if row.stage != Stage.VERIFYING:  # cancelled (or decided) while the address was checked
            return row.stage
        if skipped:
            record(s, row.account_id, f"order:{row.id}", ACTOR, "order.address_check_skipped", skipped)
        stage = apply_verdict(s, row, verdict, risk)
    after_verdict(rt, order_id, stage, verdict)
    return stage


def apply_verdict(s: Session, row: OrderRow, verdict: RiskVerdict, risk: RiskSettings) -> str:
    """Store the verdict and move the order to where it says; returns the new stage."""
    row.risk = {**verdict.to_dict(), "at": utcnow().isoformat()}
    facts = [f.to_dict() for f in verdict.facts]
    data = {"score": verdict.score, "decision": verdict.decision, "facts": facts}
    record(s, row.account_id, f"order:{row.id}", ACTOR, "order.verified", verdict.reason, data)
    held_for = row.hold_reason  # e.g. "oversold: ..." set by the stock ledger at intake
    if verdict.decision == "approve":
        advance(s, row, Stage.APPROVED, ACTOR, verdict.reason)
        if held_for:
            advance(s, row, Stage.ON_HOLD, ACTOR, held_for)
        else:
            advance(s, row, Stage.READY_TO_SHIP, ACTOR, "approved and nothing holds it")
    elif verdict.decision == "hold":
        row.hold_reason = _joined(f"review: {verdict.reason}", held_for)
        advance(s, row, Stage.ON_HOLD, ACTOR, row.hold_reason)
    elif risk.reject_action == "cancel":
        row.hold_reason = None
        advance(s, row, Stage.REJECTED, ACTOR, verdict.reason, {"action": "cancel on the storefront"})
    else:
        row.hold_reason = _joined(f"rejected by rules: {verdict.reason}", held_for)
        advance(s, row, Stage.ON_HOLD, ACTOR, row.hold_reason, {"action": "a person decides"})
    return row.stage


def _joined(reason: str, earlier: str | None) -> str:
    return f"{reason}; {earlier}" if earlier else reason


def after_verdict(rt: Runtime, order_id: int, stage: str, verdict: RiskVerdict) -> None:
    """What follows a stored verdict, once committed: ship or cancel (queued first, so
    another worker can start on it), and write the verdict back (its first attempt here,
    see ``sync.jobs.run_now``)."""
    if stage == Stage.READY_TO_SHIP:
        ship_soon(rt, order_id)
    elif stage == Stage.REJECTED:
        cancel_on_storefront_soon(rt, order_id)
    run_now(rt, "write_back_verdict", safe_job_id("risk", order_id, 1), order_id=order_id, n=1)


def write_back_soon(rt: Runtime, order_id: int, n: int) -> None:
    """Verdict ``n`` of the order (1: the rules', 2: the reviewer's) goes to the storefront."""
    rt.enqueue("write_back_verdict", job_id=safe_job_id("risk", order_id, n), order_id=order_id, n=n)


def ship_soon(rt: Runtime, order_id: int) -> None:
    """Hand an order that is ready to ship to shipping, unless an operator starts each one."""
    if rt.settings.shipping.auto_ship:
        rt.enqueue("ship_order", job_id=safe_job_id("ship", order_id), order_id=order_id)


def cancel_on_storefront_soon(rt: Runtime, order_id: int) -> None:
    rt.enqueue("cancel_on_storefront", job_id=safe_job_id("cancel", order_id), order_id=order_id)


# --- what the rules look at -----------------------------------------------------------


def address_key(address: Address | None) -> str | None:
    """One shipping address however it was typed: country, postal code and first line."""
    return address.key() if address is not None else None


def is_trusted(s: Session, account_id: int, email: str | None, risk: RiskSettings) -> bool:
    if not email:
        return False
    email = email.strip().lower()
    if email in {a.strip().lower() for a in risk.allowlist}:
        return True
    found = s.scalar(
        select(TrustedCustomer.id).where(
            TrustedCustomer.account_id == account_id, TrustedCustomer.email == email
        )
    )
    return found is not None


def _count(*where: Any) -> Any:
    return select(func.count()).select_from(OrderRow).where(*where).scalar_subquery()


def gather_input(s: Session, row: OrderRow, order: Order, risk: RiskSettings) -> RiskInput:
    """The order with its history: earlier orders, and how many came from the same
    e-mail, address or IP inside the velocity window (address check added later).

    Counted in one query by the keys each order keeps (``db.models.order_history_keys``),
    whatever the number of orders the account holds."""
    from core.risk import RiskInput

    email = email_key(order.email)
    here = address_key(order.shipping_address)
    ip = order.browser_ip.strip() if order.browser_ip else None
    window = timedelta(hours=risk.velocity_window_h)
    others = (OrderRow.account_id == row.account_id, OrderRow.id != row.id)
    inside = OrderRow.placed_at.between(order.created_at - window, order.created_at + window)
    counts: dict[str, Any] = {}
    if email:
        counts["prior"] = _count(*others, OrderRow.email == email, OrderRow.placed_at < order.created_at)
        counts["email"] = _count(*others, OrderRow.email == email, inside)
    if here:
        counts["address"] = _count(*others, OrderRow.ship_key == here, inside)
    if ip:
        counts["ip"] = _count(*others, OrderRow.browser_ip == ip, inside)
    found: dict[str, int] = {}
    if counts:
        values = s.execute(select(*(c.label(k) for k, c in counts.items()))).one()
        found = dict(zip(counts, values, strict=True))
    return RiskInput(
        order=order,
        prior_orders=found.get("prior", 0),
        recent_by_email=found.get("email", 0),
        recent_by_address=found.get("address", 0),
        recent_by_ip=found.get("ip", 0),
        # The canonical order carries no platform verdict; reading the storefront's risk
        # assessments would cost a query per order, so the rule stays silent for now.
        platform_risk=None,
        trusted=is_trusted(s, row.account_id, email, risk),
    )


def address_check(rt: Runtime, order: Order) -> tuple[AddressCheck | None, str | None]:
    """EasyPost's verdict on the shipping address, or why none was asked for.

    A ``Retryable`` from EasyPost propagates: the job retries, the order stays verifying."""
    if not rt.settings.risk.verify_addresses:
        return None, "address verification is off (risk.verify_addresses)"
    if rt.settings.easypost.api_key is None:
        return None, "no EasyPost key configured: address not verified"
    if order.shipping_address is None or order.shipping_address.is_empty():
        return None, "no shipping address to verify"
    from sync.carriers import easypost_client

    return easypost_client(rt).verify_address(order.shipping_address), None


# --- what a review decision checks (the decisions: sync/review.py) ---------------------


def _check_input(reviewer: str, reason: str) -> tuple[str, str]:
    reviewer, reason = (reviewer or "").strip(), (reason or "").strip()
    if not reviewer or not reason:
        raise ReviewInputError("reviewer and reason are both required")
    if len(reason) > MAX_REASON:
        raise ReviewInputError(f"reason is longer than {MAX_REASON} characters")
    if len(reviewer) > 200:
        raise ReviewInputError("reviewer is longer than 200 characters")
    return reviewer, reason


def still_short(s: Session, row: OrderRow, location: str) -> list[str]:
    """SKUs of the order the stock ledger is still short of (available below zero)."""
    from sync.inventory import order_quantities

    skus = sorted(order_quantities(Order.from_dict(row.data)))
    if not skus:
        return []
    items = s.scalars(
        select(StockItem).where(
            StockItem.account_id == row.account_id, StockItem.location == location, StockItem.sku.in_(skus)
        )
    )
    return [f"{i.sku}: {i.on_hand - i.reserved} available" for i in items if i.on_hand - i.reserved < 0]


def decision_summary(row: OrderRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "stage": row.stage,
        "hold_reason": row.hold_reason,
        "risk": row.risk,
        "review": row.review,
    }


# --- cancellation -----------------------------------------------------------------------


def cancel_order(rt: Runtime, order_id: int, reason: str) -> None:
    """The storefront cancelled: the pipeline stops where it is and unused labels are voided.

    The stock reservation was already released by the stock ledger (sync/stock_orders.py)."""
    with rt.session() as s:
        row = _lock(s, order_id)
        if row is None:
            return
        if row.stage not in FINAL:
            advance(s, row, Stage.CANCELLED, ACTOR, reason)
        record(s, row.account_id, f"order:{row.id}", ACTOR, "order.pipeline_stopped", reason)
    from sync.shipping import void_labels

    voided = void_labels(rt, order_id, reason)
    if voided:
        log.info("pipeline.labels_voided", order_id=order_id, count=voided)


@job("stop_order", queue="orders")
def stop_order(rt: Runtime, order_id: int, reason: str) -> None:
    """``cancel_order`` as a job: a failing label refund retries without the webhook."""
    cancel_order(rt, order_id, reason)


def stop_soon(rt: Runtime, order_id: int, reason: str) -> None:
    rt.enqueue("stop_order", job_id=safe_job_id("stop", order_id), order_id=order_id, reason=reason)


# --- sweep ------------------------------------------------------------------------------


def resume_stalled(rt: Runtime) -> int:
    """Orders left waiting for verification (a lost job) get it enqueued again."""
    cutoff = utcnow() - STALLED_AFTER
    with rt.session() as s:
        ids = list(
            s.scalars(
                select(OrderRow.id)
                .where(
                    OrderRow.stage.in_(UNVERIFIED),
                    OrderRow.financial_status != UNPAID,
                    OrderRow.updated_at <= cutoff,
                )
                .limit(500)
            )
        )
    for order_id in ids:
        if not rt.queue.is_live(safe_job_id("verify", order_id)):
            rt.enqueue("verify_order", job_id=safe_job_id("verify", order_id), order_id=order_id)
    return len(ids)

"""Review decisions on held orders (approve, reject) and the merchant's trusted customers.

A reviewer's decision is taken once: the same decision again answers what was decided,
another one is refused (``ReviewError``). The decision's input is checked by
``sync.pipeline._check_input``; the verdict goes back to the storefront and the order
ships or is cancelled there through the jobs of ``sync/pipeline.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.addresses import Address
from core.errors import OrderNotFound
from core.lifecycle import Stage
from core.orders import Order
from db.models import Order as OrderRow
from db.models import TrustedCustomer, utcnow
from db.timeline import record
from sync.account_settings import settings_for
from sync.lifecycle import advance
from sync.pipeline import (
    ReviewError,
    ReviewInputError,
    _check_input,
    _lock,
    address_check,
    cancel_on_storefront_soon,
    decision_summary,
    gather_input,
    ship_soon,
    still_short,
    write_back_soon,
)

if TYPE_CHECKING:
    from sync.runtime import Runtime


def _reviewable(s: Session, account_id: int, order_id: int, decision: str) -> tuple[OrderRow, bool]:
    """The held order, or (row, True) when the same decision was already taken."""
    row = _lock(s, order_id)
    if row is None or row.account_id != account_id:
        raise OrderNotFound("not found")
    if row.review is not None:
        if row.review.get("decision") == decision:
            return row, True
        done = {"approve": "approved", "reject": "rejected"}.get(str(row.review.get("decision")), "decided")
        raise ReviewError(f"order {order_id} was already {done} by {row.review.get('reviewer')}")
    if row.stage != Stage.ON_HOLD:
        raise ReviewError(f"order {order_id} is {row.stage}, not on hold: nothing to {decision}")
    if row.risk is None:
        raise ReviewError(f"order {order_id} has not been verified yet; decide once its verdict is in")
    return row, False


def _review(reviewer: str, decision: str, reason: str) -> dict[str, Any]:
    return {"reviewer": reviewer, "decision": decision, "reason": reason, "at": utcnow().isoformat()}


def approve(rt: Runtime, account_id: int, order_id: int, reviewer: str, reason: str) -> dict[str, Any]:
    """A reviewer releases a held order: it resumes at ready_to_ship."""
    reviewer, reason = _check_input(reviewer, reason)
    with rt.session() as s:
        row, repeated = _reviewable(s, account_id, order_id, "approve")
        if repeated:
            return decision_summary(row)
        if "oversold" in (row.hold_reason or ""):
            short = still_short(s, row, rt.settings.inventory.location)
            if short:
                raise ReviewError("still short of stock, cannot ship yet: " + "; ".join(short))
        actor = f"reviewer:{reviewer}"[:100]
        released = row.hold_reason
        row.review = _review(reviewer, "approve", reason)
        row.hold_reason = None
        advance(s, row, Stage.APPROVED, actor, reason, {"released": released})
        advance(s, row, Stage.READY_TO_SHIP, actor, "approved by a reviewer")
        summary = decision_summary(row)
    write_back_soon(rt, order_id, 2)
    ship_soon(rt, order_id)
    return summary


def reject(rt: Runtime, account_id: int, order_id: int, reviewer: str, reason: str) -> dict[str, Any]:
    """A reviewer refuses a held order: it is cancelled on the storefront."""
    reviewer, reason = _check_input(reviewer, reason)
    with rt.session() as s:
        row, repeated = _reviewable(s, account_id, order_id, "reject")
        if repeated:
            return decision_summary(row)
        actor = f"reviewer:{reviewer}"[:100]
        released = row.hold_reason
        row.review = _review(reviewer, "reject", reason)
        row.hold_reason = None
        data = {"released": released, "action": "cancel on the storefront"}
        advance(s, row, Stage.REJECTED, actor, reason, data)
        summary = decision_summary(row)
    write_back_soon(rt, order_id, 2)
    cancel_on_storefront_soon(rt, order_id)
    return summary


def trust(rt: Runtime, account_id: int, email: str, note: str | None = None) -> bool:
    """Add a customer to the merchant's allowlist; ``False`` when already there."""
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 320:
        raise ReviewInputError("a valid e-mail address is required")
    with rt.session() as s:
        found = s.scalar(
            select(TrustedCustomer).where(
                TrustedCustomer.account_id == account_id, TrustedCustomer.email == email
            )
        )
        if found is not None:
            return False
        s.add(TrustedCustomer(account_id=account_id, email=email, note=note))
        record(s, account_id, f"customer:{email}", "merchant", "customer.trusted", note)
    return True


def untrust(rt: Runtime, account_id: int, email: str) -> bool:
    """Remove a customer from the allowlist; ``False`` when not there."""
    email = (email or "").strip().lower()
    with rt.session() as s:
        found = s.scalar(
            select(TrustedCustomer).where(
                TrustedCustomer.account_id == account_id, TrustedCustomer.email == email
            )
        )
        if found is None:
            return False
        s.delete(found)
        record(s, account_id, f"customer:{email}", "merchant", "customer.untrusted")
    return True


ADDRESS_FIELDS = (
    "name",
    "company",
    "line1",
    "line2",
    "city",
    "province_code",
    "postal_code",
    "country_code",
    "phone",
)
ADDRESS_LIMITS = {"province_code": 16, "postal_code": 20, "phone": 40}
MAX_ADDRESS_PART = 200


def check_address(fields: dict[str, str | None]) -> Address:
    """The shipping address a person typed, or ``ReviewInputError`` saying what is wrong."""
    unknown = sorted(set(fields) - set(ADDRESS_FIELDS))
    if unknown:
        raise ReviewInputError(f"unknown address fields: {', '.join(unknown)}")
    clean: dict[str, str | None] = {}
    for name in ADDRESS_FIELDS:
        value = " ".join(str(fields.get(name) or "").split()) or None
        limit = ADDRESS_LIMITS.get(name, MAX_ADDRESS_PART)
        if value is not None and len(value) > limit:
            raise ReviewInputError(f"{name.replace('_', ' ')} is longer than {limit} characters")
        clean[name] = value
    for name in ("line1", "city", "country_code"):
        if clean[name] is None:
            raise ReviewInputError(f"{name.replace('_', ' ').replace('line1', 'address line 1')} is required")
    country = str(clean["country_code"]).upper()
    if len(country) != 2 or not country.isalpha():
        raise ReviewInputError("country code must be two letters (ISO 3166, e.g. US)")
    clean["country_code"] = country
    return Address(**clean)


def _record_address_edit(
    s: Session,
    account_id: int,
    subject: str,
    actor: str,
    changed: list[str],
    check: Any,
    skipped: str | None,
    verdict: Any,
) -> None:
    """The timeline of an address edit: what changed, the carrier's check, the new verdict."""
    record(
        s,
        account_id,
        subject,
        actor,
        "order.address_edited",
        "shipping address corrected",
        {"changed": changed},
    )
    if skipped:
        record(s, account_id, subject, actor, "order.address_check_skipped", skipped)
    elif check is not None:
        verdict_text = "deliverable" if check.deliverable else "not deliverable"
        data = {"deliverable": check.deliverable, "messages": list(check.messages)}
        record(
            s, account_id, subject, actor, "order.address_checked", f"the carrier says: {verdict_text}", data
        )
    facts = [f.to_dict() for f in verdict.facts]
    data = {"score": verdict.score, "decision": verdict.decision, "facts": facts}
    record(s, account_id, subject, actor, "order.verified", verdict.reason, data)


def edit_address(
    rt: Runtime, account_id: int, order_id: int, fields: dict[str, str | None], actor: str
) -> dict[str, Any]:
    """A person corrects the shipping address of a held order; it is verified again.

    The order stays on hold (the person decides next); the new address goes through the
    same checks as at intake (``sync.pipeline.address_check`` and the risk rules), and the
    new verdict replaces the stored one. The timeline says who changed which parts."""
    from core.risk import RiskRules, assess

    address = check_address(fields)
    actor = (actor or "").strip()[:100]
    if not actor:
        raise ReviewInputError("actor is required")
    with rt.session() as s:
        row = _lock(s, order_id)
        if row is None or row.account_id != account_id:
            raise OrderNotFound("not found")
        if row.stage != Stage.ON_HOLD or row.review is not None:
            raise ReviewError(f"order {order_id} is {row.stage}: only a held order's address can be edited")
        before = dict(row.data.get("shipping_address") or {})
        order = Order.from_dict({**row.data, "shipping_address": address.to_dict()})
        risk = settings_for(rt, account_id, s).risk  # the merchant's own weights, as at intake
        inp = gather_input(s, row, order, risk)
    check, skipped = address_check(rt, order)  # outside the transaction: EasyPost may be slow
    verdict = assess(replace(inp, address_check=check), RiskRules.from_settings(risk))
    with rt.session() as s:
        row = _lock(s, order_id)
        if row is None or row.stage != Stage.ON_HOLD or row.review is not None:
            raise ReviewError(f"order {order_id} was decided while its address was checked")
        changed = [k for k in ADDRESS_FIELDS if (before.get(k) or None) != getattr(address, k)]
        row.data = {**row.data, "shipping_address": address.to_dict()}
        row.risk = {**verdict.to_dict(), "at": utcnow().isoformat()}
        row.updated_at = utcnow()
        _record_address_edit(s, account_id, f"order:{row.id}", actor, changed, check, skipped, verdict)
        return {
            **decision_summary(row),
            "changed": changed,
            "deliverable": None if check is None else check.deliverable,
        }

"""Voiding: unused labels of a cancelled order refunded at EasyPost, once each
(``refund:<shipment id>``), and an operator's void that holds a live order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from core.errors import Permanent
from core.lifecycle import SHIPPABLE, Stage
from db.effects import EffectRecord, Progress
from db.models import Order as OrderRow
from db.models import Shipment, utcnow
from sync.shipping.common import HOLD_PREFIX, MAX_PROBLEM, easypost, move, note, was_cancelled

if TYPE_CHECKING:
    from connectors.easypost.client import EasyPost
    from sync.runtime import Runtime


def void_labels(rt: Runtime, order_id: int, reason: str) -> int:
    """Refund every purchased label of the order (once each); returns how many were voided now.

    A refund EasyPost refuses is recorded on the shipment and the timeline (nothing to retry);
    a failure that may pass (5xx, timeout) is raised for the caller's job to retry.
    """
    with rt.session() as s:
        found = [
            (sh.id, sh.easypost_id, sh.account_id)
            for sh in s.scalars(
                select(Shipment).where(Shipment.order_id == order_id, Shipment.state == "purchased")
            )
            if sh.easypost_id
        ]
    if not found:
        return 0
    client = easypost(rt)
    voided = 0
    for shipment_id, easypost_id, account_id in found:
        assert easypost_id is not None
        try:
            status = _refund(rt, client, shipment_id, easypost_id, account_id)
        except Permanent as exc:
            _void_failed(rt, shipment_id, str(exc))
            continue
        voided += _mark_voided(rt, shipment_id, reason, status)
    return voided


def _refund(rt: Runtime, client: EasyPost, shipment_id: int, easypost_id: str, account_id: int) -> str:
    def act(progress: Progress) -> dict[str, Any]:
        return {"refund_status": client.refund(easypost_id)}

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        status = client.retrieve_shipment(easypost_id).refund_status
        return {"refund_status": status} if status else None

    done = rt.ledger.run(
        f"refund:{shipment_id}", "refund", {"shipment": easypost_id}, act, recover, account_id=account_id
    )
    return str(done.get("refund_status") or "submitted")


def _mark_voided(rt: Runtime, shipment_id: int, reason: str, status: str) -> int:
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id, with_for_update=True)
        if sh is None or sh.state != "purchased":
            return 0
        sh.state, sh.updated_at = "voided", utcnow()
        row = s.get(OrderRow, sh.order_id)
        assert row is not None
        note(
            s,
            row,
            "shipment.voided",
            f"parcel {sh.package}: label {sh.tracking_code} refund {status}: {reason}"[:MAX_PROBLEM],
            {"shipment_id": sh.id, "refund_status": status},
        )
        return 1


def _void_failed(rt: Runtime, shipment_id: int, why: str) -> None:
    with rt.session() as s:
        sh = s.get(Shipment, shipment_id)
        if sh is None:
            return
        sh.problem = f"refund refused: {why}"[:MAX_PROBLEM]
        row = s.get(OrderRow, sh.order_id)
        assert row is not None
        note(s, row, "shipment.void_failed", sh.problem, {"shipment_id": sh.id})


def void_order(rt: Runtime, order_id: int, reason: str, actor: str) -> int:
    """Void the order's unused labels on an operator's word; a live order waits on hold until
    ``resume`` buys new ones. Returns how many labels were voided."""
    voided = void_labels(rt, order_id, reason)
    if not voided:
        return 0
    with rt.session() as s:
        row = s.get(OrderRow, order_id, with_for_update=True)
        if row is not None and not was_cancelled(row) and row.stage in SHIPPABLE:
            row.hold_reason = f"{HOLD_PREFIX}labels voided by {actor}: {reason}"[:MAX_PROBLEM]
            move(s, row, Stage.ON_HOLD, row.hold_reason)
    return voided

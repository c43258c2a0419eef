"""Verdicts told to the storefront, and rejected orders cancelled there.

Each runs as its own job (queue "orders") through the effects ledger, so a storefront
outage retries the write-back without touching the verdict already stored, and a retry
never writes twice:

- ``write_back_verdict`` (key ``risk:<order>:<n>``; n = 1 the rules' verdict, 2 the
  reviewer's): the storefront's ``record_verdict`` with the decision, the facts and the
  note, and where the verdict leaves the order (held, approved after review); the
  connector decides how its platform records that (a risk assessment, a note and a
  status). After a lost answer ``find_verdict`` finishes the write it finds instead of
  adding another.
- ``cancel_on_storefront`` (key ``cancel:<order>``): the storefront's ``cancel``; after a
  lost answer ``is_cancelled`` is asked first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import bindparam, select

from connectors.storefront.writes import Sentiment, Verdict, VerdictOutcome, Written
from core.lifecycle import Stage
from db.effects import EffectRecord, Progress
from db.models import Order as OrderRow
from db.models import Store
from db.timeline import record
from sync.jobs import job
from sync.storefronts import storefront

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.verdicts")

MAX_FACTS = 20  # the most facts a storefront is told per verdict
MAX_FACT_TEXT = 250


def verdict(row: OrderRow, n: int) -> dict[str, Any] | None:
    """Verdict ``n`` of the order as told to the storefront: decision, facts, note text."""
    if n == 1 and row.risk is not None:
        risk = row.risk
        facts = [(Sentiment.negative, str(f["detail"])[:MAX_FACT_TEXT]) for f in risk.get("facts", [])][
            :MAX_FACTS
        ]
        if not facts:
            facts = [(Sentiment.positive, f"No risk rule fired (score {risk['score']})")]
        lines = [f"- {f['rule']} (+{f['weight']}): {f['detail']}" for f in risk.get("facts", [])]
        text = f"Waybill risk check: score {risk['score']}, {risk['decision']}. {risk['reason']}"
        return {"decision": risk["decision"], "facts": facts, "note": "\n".join([text, *lines])}
    if n == 2 and row.review is not None:
        review = row.review
        decided = "Approved" if review["decision"] == "approve" else "Rejected"
        sentiment = Sentiment.positive if review["decision"] == "approve" else Sentiment.negative
        text = f"{decided} by {review['reviewer']} after review: {review['reason']}"
        return {"decision": review["decision"], "facts": [(sentiment, text[:MAX_FACT_TEXT])], "note": text}
    return None


def outcome_of(decision: str, n: int, row: OrderRow) -> VerdictOutcome:
    """Where verdict ``n`` leaves the order."""
    if n == 1:
        return VerdictOutcome.held if row.stage == Stage.ON_HOLD else VerdictOutcome.checked
    if decision == "approve":
        return VerdictOutcome.approved_after_review
    return VerdictOutcome.rejected_after_review


# The order with its store, in one query (built once).
_ORDER_AND_STORE = (
    select(OrderRow, Store)
    .join(Store, Store.id == OrderRow.store_id)
    .where(OrderRow.id == bindparam("order_id"))
)


def _load(rt: Runtime, order_id: int) -> tuple[OrderRow, Store] | None:
    with rt.session() as s:
        found = s.execute(_ORDER_AND_STORE, {"order_id": order_id}).first()
        if found is None:
            return None
        s.expunge_all()
        row, store = found
        return row, store


@job("write_back_verdict", queue="orders")
def write_back_verdict(rt: Runtime, order_id: int, n: int) -> str:
    """Tell the storefront verdict ``n`` of the order, once."""
    loaded = _load(rt, order_id)
    if loaded is None:
        return "missing"
    row, store = loaded
    told = verdict(row, n)
    if told is None:
        return "no verdict"
    key = f"risk:{order_id}:{n}"
    shop = storefront(rt, store)
    said = Verdict(
        key=key,
        decision=told["decision"],
        outcome=outcome_of(told["decision"], n, row),
        facts=tuple(told["facts"]),
        note=told["note"],
    )

    def act(progress: Progress) -> dict[str, Any]:
        return shop.record_verdict(row.platform_order_id, said, progress.record_outside_id).to_dict()

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        written = shop.find_verdict(row.platform_order_id, said, found.outside_id)
        return None if written is None else written.to_dict()

    request: dict[str, Any] = {
        "order": row.platform_order_id,
        "decision": said.decision,
        "outcome": str(said.outcome),
        "facts": [[str(sentiment), text] for sentiment, text in said.facts],
        "note": said.note,
    }
    rt.ledger.run(
        key,
        "risk_write_back",
        request,
        act,
        recover=recover,
        account_id=row.account_id,
        then=lambda s, result: record(
            s, row.account_id, f"order:{order_id}", "pipeline", "order.verdict_written", key, result
        ),  # in the outcome's own transaction
    )
    return "written"


@job("cancel_on_storefront", queue="orders")
def cancel_on_storefront(rt: Runtime, order_id: int) -> str:
    """Cancel a rejected order on its storefront, once."""
    loaded = _load(rt, order_id)
    if loaded is None:
        return "missing"
    row, store = loaded
    if row.stage != Stage.REJECTED:
        return row.stage
    if row.cancelled_at is not None:
        return "already cancelled"
    shop = storefront(rt, store)

    def act(progress: Progress) -> dict[str, Any]:
        return shop.cancel(row.platform_order_id, "fraud").to_dict()

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        # A storefront may refuse to cancel an order cancelled already: after a lost answer, look first.
        done = shop.is_cancelled(row.platform_order_id)
        return Written(None, {"cancelled": True, "recovered": True}).to_dict() if done else None

    request = {"order": row.platform_order_id, "platform": str(store.platform)}
    rt.ledger.run(
        f"cancel:{order_id}",
        "order_cancel",
        request,
        act,
        recover=recover,
        account_id=row.account_id,
        then=lambda s, result: record(
            s, row.account_id, f"order:{order_id}", "pipeline", "order.cancel_requested", "rejected"
        ),
    )
    return "cancelled"

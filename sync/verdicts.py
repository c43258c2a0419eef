"""Verdicts told to the storefront, and rejected orders cancelled there.

Each runs as its own job (queue "orders") through the effects ledger, so a storefront
outage retries the write-back without touching the verdict already stored, and a retry
never writes twice:

- ``write_back_verdict`` (key ``risk:<order>:<n>``; n = 1 the rules' verdict, 2 the
  reviewer's): Shopify ``orderRiskAssessmentCreate`` (HIGH reject, MEDIUM hold, LOW
  approve; each fact a NEGATIVE description); WooCommerce an order note with the score
  and facts, and status ``on-hold`` while held (``processing`` once a reviewer approves).
  The note carries a marker, so a retry after a lost answer finds it instead of adding
  another.
- ``cancel_on_storefront`` (key ``cancel:<order>``): Shopify ``orderCancel``,
  WooCommerce status ``cancelled``; both are harmless to repeat once done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from db.effects import EffectRecord
from db.models import Order as OrderRow
from db.models import Platform, Store
from db.timeline import record
from sync.jobs import job
from sync.stores import shopify_client, woo_client

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.verdicts")

LEVELS = {"reject": "HIGH", "hold": "MEDIUM", "approve": "LOW"}
MAX_FACTS = 20  # Shopify's limit per risk assessment
MAX_FACT_TEXT = 250


def verdict(row: OrderRow, n: int) -> dict[str, Any] | None:
    """Verdict ``n`` of the order as told to the storefront: decision, level, facts, note text."""
    if n == 1 and row.risk is not None:
        risk = row.risk
        facts = [("NEGATIVE", str(f["detail"])[:MAX_FACT_TEXT]) for f in risk.get("facts", [])][:MAX_FACTS]
        if not facts:
            facts = [("POSITIVE", f"No risk rule fired (score {risk['score']})")]
        lines = [f"- {f['rule']} (+{f['weight']}): {f['detail']}" for f in risk.get("facts", [])]
        text = f"Waybill risk check: score {risk['score']}, {risk['decision']}. {risk['reason']}"
        return {"decision": risk["decision"], "facts": facts, "note": "\n".join([text, *lines])}
    if n == 2 and row.review is not None:
        review = row.review
        decided = "Approved" if review["decision"] == "approve" else "Rejected"
        sentiment = "POSITIVE" if review["decision"] == "approve" else "NEGATIVE"
        text = f"{decided} by {review['reviewer']} after review: {review['reason']}"
        return {"decision": review["decision"], "facts": [(sentiment, text[:MAX_FACT_TEXT])], "note": text}
    return None


def woo_status(decision: str, n: int, row: OrderRow) -> str | None:
    """The WooCommerce status that goes with the verdict (None: leave it)."""
    if n == 1 and row.stage == "on_hold":
        return "on-hold"
    if n == 2 and decision == "approve":
        return "processing"
    return None


def _load(rt: Runtime, order_id: int) -> tuple[OrderRow, Store] | None:
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        if row is None:
            return None
        store = s.get(Store, row.store_id)
        if store is None:
            return None
        s.expunge_all()
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
    if store.platform is Platform.shopify:
        result = _shopify_risk(rt, store, row, key, told)
    else:
        result = _woo_note(rt, store, row, key, told, woo_status(told["decision"], n, row))
    with rt.session() as s:
        record(s, row.account_id, f"order:{order_id}", "pipeline", "order.verdict_written", key, result)
    return "written"


def _shopify_risk(rt: Runtime, store: Store, row: OrderRow, key: str, told: dict[str, Any]) -> dict[str, Any]:
    from connectors.shopify.fulfillment import record_risk

    client = shopify_client(rt, store)
    level = LEVELS[told["decision"]]
    facts = [tuple(f) for f in told["facts"]]

    def act(progress: Any) -> dict[str, Any]:
        record_risk(client, row.platform_order_id, level, facts)
        return {"platform": "shopify", "level": level, "facts": len(facts)}

    # A second assessment after a lost answer is harmless: it repeats the same level.
    request = {"order": row.platform_order_id, "level": level, "facts": told["facts"]}
    return rt.ledger.run(key, "risk_write_back", request, act, recover=None, account_id=row.account_id)


def _woo_note(
    rt: Runtime, store: Store, row: OrderRow, key: str, told: dict[str, Any], status: str | None
) -> dict[str, Any]:
    from connectors.woocommerce.fulfillment import add_note, set_status

    client = woo_client(rt, store)
    marker = f"[waybill {key}]"
    text = f"{told['note']}\n{marker}"

    def finish(note_id: int) -> dict[str, Any]:
        if status is not None:
            set_status(client, row.platform_order_id, status)
        return {"platform": "woocommerce", "note_id": note_id, "status": status}

    def act(progress: Any) -> dict[str, Any]:
        note_id = add_note(client, row.platform_order_id, text)
        progress.record_outside_id(str(note_id))
        return finish(note_id)

    def recover(found: EffectRecord) -> dict[str, Any] | None:
        if found.outside_id is not None:
            return finish(int(found.outside_id))
        for note in client.get(f"orders/{row.platform_order_id}/notes"):
            if marker in str(note.get("note", "")):
                return finish(int(note["id"]))
        return None

    request = {"order": row.platform_order_id, "note": text, "status": status}
    return rt.ledger.run(key, "risk_write_back", request, act, recover=recover, account_id=row.account_id)


@job("cancel_on_storefront", queue="orders")
def cancel_on_storefront(rt: Runtime, order_id: int) -> str:
    """Cancel a rejected order on its storefront, once."""
    loaded = _load(rt, order_id)
    if loaded is None:
        return "missing"
    row, store = loaded
    if row.stage != "rejected":
        return row.stage
    if row.cancelled_at is not None:
        return "already cancelled"
    request = {"order": row.platform_order_id, "platform": str(store.platform)}
    recover: Callable[[EffectRecord], dict[str, Any] | None] | None
    if store.platform is Platform.shopify:
        from connectors.shopify.fulfillment import cancel

        client = shopify_client(rt, store)
        notify = rt.settings.shipping.notify_customer

        def act(progress: Any) -> dict[str, Any]:
            cancel(client, row.platform_order_id, "FRAUD", notify)
            return {"cancelled": True}

        def look(found: EffectRecord) -> dict[str, Any] | None:
            # orderCancel refuses an order already cancelled: after a lost answer, look first.
            gid = f"gid://shopify/Order/{row.platform_order_id}"
            node = client.execute("order", {"id": gid}).get("order") or {}
            return {"cancelled": True, "recovered": True} if node.get("cancelledAt") else None

        recover = look

    else:
        from connectors.woocommerce.fulfillment import set_status

        woo = woo_client(rt, store)

        def act(progress: Any) -> dict[str, Any]:
            set_status(woo, row.platform_order_id, "cancelled")
            return {"cancelled": True}

        recover = None  # setting the status again is harmless

    rt.ledger.run(
        f"cancel:{order_id}", "order_cancel", request, act, recover=recover, account_id=row.account_id
    )
    with rt.session() as s:
        record(s, row.account_id, f"order:{order_id}", "pipeline", "order.cancel_requested", "rejected")
    return "cancelled"

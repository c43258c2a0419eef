"""The writes verbs of the shopify storefront (see connectors/storefront/writes.py)."""

from __future__ import annotations

from collections.abc import Callable

from connectors.shopify import after_sale, fulfillment, returns
from connectors.shopify.client import ShopifyClient, client_for
from connectors.storefront.access import StoreAccess
from connectors.storefront.writes import (
    OrderStatusRefused,
    ParcelShipped,
    RefundRequest,
    ReturnRequest,
    TrackingUpdate,
    Verdict,
    Written,
)

RISK_LEVEL = {"reject": "HIGH", "hold": "MEDIUM", "approve": "LOW"}


class ShopifyWritesVerbs:
    access: StoreAccess
    # A fulfilment closes the order on Shopify: nothing to complete apart.
    needs_completion = False
    # Shopify's order statuses are its own: a merchant cannot add one.
    custom_statuses = False
    # Returns are Shopify objects (requested, approved, declined, processed, closed there).
    native_returns = True

    def _writes_client(self) -> ShopifyClient:
        return client_for(self.access)

    def record_verdict(
        self, order_id: str, verdict: Verdict, noted: Callable[[str], None] | None = None
    ) -> Written:
        level = RISK_LEVEL[verdict.decision]
        facts = [(str(sentiment).upper(), text) for sentiment, text in verdict.facts]
        fulfillment.record_risk(self._writes_client(), order_id, level, facts)
        return Written(None, {"level": level, "facts": len(facts)})

    def find_verdict(self, order_id: str, verdict: Verdict, ref: str | None) -> Written | None:
        # A second assessment after a lost answer is harmless: it repeats the same level.
        return None

    def cancel(self, order_id: str, reason: str) -> Written:
        fulfillment.cancel(self._writes_client(), order_id, reason, self.access.notify_customer)
        return Written(None, {"cancelled": True})

    def is_cancelled(self, order_id: str) -> bool:
        node = (
            self._writes_client().execute("order", {"id": fulfillment.order_gid(order_id)}).get("order") or {}
        )
        return bool(node.get("cancelledAt"))

    def fulfil(self, order_id: str, parcel: ParcelShipped) -> Written:
        ref = fulfillment.fulfill(
            self._writes_client(),
            order_id,
            None if parcel.lines is None else list(parcel.lines),
            parcel.carrier,
            parcel.tracking_number,
            parcel.tracking_url,
            self.access.notify_customer,
        )
        return Written(ref)

    def find_fulfilment(self, order_id: str, tracking_number: str) -> str | None:
        return fulfillment.find_fulfillment(
            self._writes_client(), fulfillment.order_gid(order_id), tracking_number
        )

    def complete(self, order_id: str) -> Written:
        return Written(None, {"completed": True})

    def post_tracking_event(self, order_id: str, update: TrackingUpdate) -> Written:
        return after_sale.post_event(self._writes_client(), update)

    def find_tracking_event(self, order_id: str, update: TrackingUpdate) -> Written | None:
        return after_sale.find_event(self._writes_client(), update)

    def set_order_status(self, order_id: str, status: str) -> Written:
        raise OrderStatusRefused(f"shopify has no custom order statuses: cannot set {status!r}")

    def open_return(self, order_id: str, request: ReturnRequest) -> Written:
        return after_sale.open_return(self._writes_client(), order_id, request)

    def find_return(self, order_id: str, key: str) -> Written | None:
        return after_sale.find_return(self._writes_client(), order_id, key)

    def approve_return(self, order_id: str, return_ref: str) -> Written:
        return returns.approve(self._writes_client(), return_ref, self.access.notify_customer)

    def decline_return(self, order_id: str, return_ref: str, reason: str, note: str = "") -> Written:
        return returns.decline(self._writes_client(), return_ref, reason, note, self.access.notify_customer)

    def close_return(self, order_id: str, return_ref: str) -> Written:
        return returns.close(self._writes_client(), return_ref)

    def refund(self, order_id: str, request: RefundRequest) -> Written:
        if request.return_ref is not None:
            return returns.process_refund(self._writes_client(), order_id, request)
        return after_sale.refund(self._writes_client(), order_id, request, request.notify)

    def find_refund(self, order_id: str, key: str, return_ref: str | None = None) -> Written | None:
        if return_ref is not None:
            return returns.find_refund(self._writes_client(), return_ref, key)
        return after_sale.find_refund(self._writes_client(), order_id, key)

    def note_return(self, order_id: str, key: str, text: str, notify: bool = False) -> Written:
        # The return itself tells the merchant and the customer where it stands.
        return Written(None, {"skipped": "native returns"})

    def find_return_note(self, order_id: str, key: str) -> Written | None:
        return Written(None, {"skipped": "native returns"})

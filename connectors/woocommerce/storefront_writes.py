"""The writes verbs of the woocommerce storefront (see connectors/storefront/writes.py)."""

from __future__ import annotations

from collections.abc import Callable

from connectors.errors import Rejected
from connectors.storefront.access import StoreAccess
from connectors.storefront.writes import (
    OrderStatusRefused,
    ParcelShipped,
    RefundRequest,
    ReturnRequest,
    TrackingUpdate,
    Verdict,
    VerdictOutcome,
    Written,
    marker,
)
from connectors.woocommerce import after_sale, fulfillment, returns
from connectors.woocommerce.client import WooClient, client_for

REFUNDED = "refunded"
# The order status that goes with a verdict (absent: the status is left as it is).
VERDICT_STATUS = {VerdictOutcome.held: "on-hold", VerdictOutcome.approved_after_review: "processing"}


def status_for(outcome: VerdictOutcome) -> str | None:
    """The WooCommerce status a verdict with this outcome sets (None: leave it)."""
    return VERDICT_STATUS.get(outcome)


class WooWritesVerbs:
    access: StoreAccess
    # WooCommerce has no fulfilment: the order is completed once every parcel is in.
    needs_completion = True
    # A store may register statuses of its own (e.g. "delivered"); the REST API takes their slugs.
    custom_statuses = True
    # WooCommerce has no return object: a return is kept in order notes.
    native_returns = False

    def _writes_client(self) -> WooClient:
        return client_for(self.access)

    def record_verdict(
        self, order_id: str, verdict: Verdict, noted: Callable[[str], None] | None = None
    ) -> Written:
        """An order note with the verdict and its marker, then the status that goes with it."""
        client = self._writes_client()
        note_id = fulfillment.add_note(client, order_id, f"{verdict.note}\n{marker(verdict.key)}")
        if noted is not None:
            noted(str(note_id))
        return self._verdict_status(client, order_id, verdict, note_id)

    def find_verdict(self, order_id: str, verdict: Verdict, ref: str | None) -> Written | None:
        client = self._writes_client()
        note_id = (
            int(ref) if ref is not None else fulfillment.note_with(client, order_id, marker(verdict.key))
        )
        return None if note_id is None else self._verdict_status(client, order_id, verdict, note_id)

    def _verdict_status(self, client: WooClient, order_id: str, verdict: Verdict, note_id: int) -> Written:
        status = status_for(verdict.outcome)
        if status is not None:
            fulfillment.set_status(client, order_id, status)
        return Written(str(note_id), {"note_id": note_id, "status": status})

    def cancel(self, order_id: str, reason: str) -> Written:
        # Setting the status again is harmless: a retry needs no lookup.
        fulfillment.set_status(self._writes_client(), order_id, "cancelled")
        return Written(None, {"cancelled": True})

    def is_cancelled(self, order_id: str) -> bool:
        order = self._writes_client().get(f"orders/{order_id}")
        return isinstance(order, dict) and order.get("status") == "cancelled"

    def fulfil(self, order_id: str, parcel: ParcelShipped) -> Written:
        ref = fulfillment.complete_with_tracking(
            self._writes_client(),
            order_id,
            parcel.carrier,
            parcel.tracking_number,
            parcel.tracking_url,
            self.access.notify_customer,
            complete=parcel.last,
        )
        return Written(ref, {"completed": parcel.last})

    def find_fulfilment(self, order_id: str, tracking_number: str) -> str | None:
        note = fulfillment.note_with(self._writes_client(), order_id, tracking_number)
        return None if note is None else str(note)

    def complete(self, order_id: str) -> Written:
        fulfillment.set_status(self._writes_client(), order_id, "completed")
        return Written(None, {"status": "completed"})

    def post_tracking_event(self, order_id: str, update: TrackingUpdate) -> Written:
        return after_sale.post_event(self._writes_client(), order_id, update)

    def find_tracking_event(self, order_id: str, update: TrackingUpdate) -> Written | None:
        return after_sale.find_event(self._writes_client(), order_id, update)

    def set_order_status(self, order_id: str, status: str) -> Written:
        """PUT the order's status; WooCommerce answers 400 for a status the store lacks.

        ``refunded`` is refused while money is left on the order: WooCommerce would record a
        refund of the rest itself (``wc_order_fully_refunded``), one Waybill never made."""
        client = self._writes_client()
        if status == REFUNDED:
            left = returns.left_to_refund(client.get(f"orders/{order_id}"))
            if left > 0:
                raise OrderStatusRefused(
                    f"woocommerce order {order_id} has {left} not refunded: status {status!r} would make "
                    "WooCommerce record a refund of it (wc_order_fully_refunded); not set"
                )
        try:
            fulfillment.set_status(client, order_id, status)
        except Rejected as exc:
            raise OrderStatusRefused(
                f"woocommerce refused order status {status!r} (does the store have it?): {exc}"
            ) from exc
        return Written(None, {"status": status})

    def open_return(self, order_id: str, request: ReturnRequest) -> Written:
        return after_sale.open_return(self._writes_client(), order_id, request)

    def find_return(self, order_id: str, key: str) -> Written | None:
        return after_sale.find_return(self._writes_client(), order_id, key)

    def approve_return(self, order_id: str, return_ref: str) -> Written:
        return returns.approve(self._writes_client(), order_id, return_ref, self.access.notify_customer)

    def decline_return(self, order_id: str, return_ref: str, reason: str, note: str = "") -> Written:
        return returns.decline(self._writes_client(), order_id, return_ref, reason, note)

    def close_return(self, order_id: str, return_ref: str) -> Written:
        return returns.close(self._writes_client(), order_id, return_ref)

    def refund(self, order_id: str, request: RefundRequest) -> Written:
        # No return object to refund through: ``return_ref`` is not needed.
        return after_sale.refund(self._writes_client(), order_id, request)

    def find_refund(self, order_id: str, key: str, return_ref: str | None = None) -> Written | None:
        return after_sale.find_refund(self._writes_client(), order_id, key)

    def note_return(self, order_id: str, key: str, text: str, notify: bool = False) -> Written:
        return returns.write_note(self._writes_client(), order_id, key, text, notify)

    def find_return_note(self, order_id: str, key: str) -> Written | None:
        return returns.find_note(self._writes_client(), order_id, key)

"""The write verbs of the test shop: a made-up REST shop at ``https://<domain>/api/``.

Its API: ``orders/<id>`` (GET; PUT ``{"state"}``), ``orders/<id>/notes`` (GET, POST
``{"text", "customer"}``), ``orders/<id>/verdicts`` (POST ``{"decision", "text"}``),
``orders/<id>/parcels`` (GET, POST ``{"tracking", "carrier", "url", "lines"}``),
``parcels/<id>/events`` (GET, POST), ``orders/<id>/returns``, ``orders/<id>/returns/<id>/moves``
(``{"key", "move", "why"}``), ``orders/<id>/return-notes`` and ``orders/<id>/refunds``
(GET, POST, each with a ``key`` the shop keeps). Errors are HTTP statuses only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from connectors.errors import Rejected, error_for_status
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
from core.errors import Retryable


class TestShopWrites:
    __test__ = False  # not a pytest test class
    access: StoreAccess
    needs_completion = True  # the test shop keeps an order "open" until told it is done
    custom_statuses = True  # any state the shop lists under ``states``
    native_returns = False  # its returns are records without states: moves are kept apart

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = requests.request(
                method, f"https://{self.access.domain}/api/{path}", json=body, timeout=5
            )
        except requests.RequestException as exc:
            raise Retryable(f"testshop {path}: {type(exc).__name__}") from exc
        error = error_for_status(response.status_code, f"testshop {path}", response.headers)
        if error is not None:
            raise error
        return response.json()

    def _find(self, path: str, key: str) -> dict[str, Any] | None:
        return next((item for item in self._call("GET", path) if item.get("key") == key), None)

    def record_verdict(
        self, order_id: str, verdict: Verdict, noted: Callable[[str], None] | None = None
    ) -> Written:
        body = {"decision": verdict.decision, "text": verdict.note, "key": verdict.key}
        made = self._call("POST", f"orders/{order_id}/verdicts", body)
        return Written(str(made["id"]), {"decision": verdict.decision})

    def find_verdict(self, order_id: str, verdict: Verdict, ref: str | None) -> Written | None:
        found = self._find(f"orders/{order_id}/verdicts", verdict.key)
        return None if found is None else Written(str(found["id"]), {"decision": verdict.decision})

    def cancel(self, order_id: str, reason: str) -> Written:
        self._call("PUT", f"orders/{order_id}", {"state": "cancelled", "reason": reason})
        return Written(None, {"cancelled": True})

    def is_cancelled(self, order_id: str) -> bool:
        return bool(self._call("GET", f"orders/{order_id}")["state"] == "cancelled")

    def fulfil(self, order_id: str, parcel: ParcelShipped) -> Written:
        ref = self.find_fulfilment(order_id, parcel.tracking_number)
        if ref is None:
            lines = None if parcel.lines is None else [list(line) for line in parcel.lines]
            body = {"tracking": parcel.tracking_number, "carrier": parcel.carrier, "url": parcel.tracking_url}
            ref = str(self._call("POST", f"orders/{order_id}/parcels", {**body, "lines": lines})["id"])
        return Written(ref, {"completed": False})

    def find_fulfilment(self, order_id: str, tracking_number: str) -> str | None:
        parcels = self._call("GET", f"orders/{order_id}/parcels")
        return next((str(p["id"]) for p in parcels if p["tracking"] == tracking_number), None)

    def complete(self, order_id: str) -> Written:
        self._call("PUT", f"orders/{order_id}", {"state": "done"})
        return Written(None, {"status": "done"})

    def set_order_status(self, order_id: str, status: str) -> Written:
        try:
            self._call("PUT", f"orders/{order_id}", {"state": status})
        except Rejected as exc:
            raise OrderStatusRefused(f"testshop has no order state {status!r}: {exc}") from exc
        return Written(None, {"status": status})

    def post_tracking_event(self, order_id: str, update: TrackingUpdate) -> Written:
        body = {"status": str(update.status), "at": update.happened_at.isoformat(), "key": _event_key(update)}
        made = self._call("POST", f"parcels/{update.fulfilment_ref}/events", body)
        return Written(str(made["id"]), {"status": str(update.status)})

    def find_tracking_event(self, order_id: str, update: TrackingUpdate) -> Written | None:
        found = self._find(f"parcels/{update.fulfilment_ref}/events", _event_key(update))
        return None if found is None else Written(str(found["id"]), {"status": str(update.status)})

    def open_return(self, order_id: str, request: ReturnRequest) -> Written:
        if not request.lines:
            raise Rejected("testshop return: no lines")
        lines = [
            {"line": line.line_id, "quantity": line.quantity, "why": str(line.reason)}
            for line in request.lines
        ]
        made = self._call("POST", f"orders/{order_id}/returns", {"key": request.key, "lines": lines})
        return Written(str(made["id"]))

    def find_return(self, order_id: str, key: str) -> Written | None:
        found = self._find(f"orders/{order_id}/returns", key)
        return None if found is None else Written(str(found["id"]))

    def _move(self, order_id: str, return_ref: str, move: str, why: str = "") -> Written:
        path, key = f"orders/{order_id}/returns/{return_ref}/moves", f"{move}:{return_ref}"
        found = self._find(path, key) or self._call("POST", path, {"key": key, "move": move, "why": why})
        return Written(str(found["id"]), {"move": move})

    def approve_return(self, order_id: str, return_ref: str) -> Written:
        return self._move(order_id, return_ref, "approved")

    def decline_return(self, order_id: str, return_ref: str, reason: str, note: str = "") -> Written:
        return self._move(order_id, return_ref, "declined", f"{reason}: {note}" if note else reason)

    def close_return(self, order_id: str, return_ref: str) -> Written:
        return self._move(order_id, return_ref, "closed")

    def note_return(self, order_id: str, key: str, text: str, notify: bool = False) -> Written:
        path = f"orders/{order_id}/return-notes"
        found = self._find(path, key) or self._call("POST", path, {"key": key, "text": text, "tell": notify})
        return Written(str(found["id"]))

    def find_return_note(self, order_id: str, key: str) -> Written | None:
        found = self._find(f"orders/{order_id}/return-notes", key)
        return None if found is None else Written(str(found["id"]))

    def refund(self, order_id: str, request: RefundRequest) -> Written:
        total = request.total()
        lines = [{"line": line.line_id, "quantity": line.quantity} for line in request.lines]
        body = {"key": request.key, "amount": str(total.amount), "currency": total.currency, "lines": lines}
        made = self._call("POST", f"orders/{order_id}/refunds", body)
        return Written(str(made["id"]), {"amount": str(total.amount), "currency": total.currency})

    def find_refund(self, order_id: str, key: str, return_ref: str | None = None) -> Written | None:
        found = self._find(f"orders/{order_id}/refunds", key)
        return None if found is None else Written(str(found["id"]), {"amount": found["amount"]})


def _event_key(update: TrackingUpdate) -> str:
    return f"{update.status}@{update.happened_at.isoformat()}"

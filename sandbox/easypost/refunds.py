"""Refunds (label voids): requested per shipment or by tracking codes, settled later on the clock."""

from __future__ import annotations

from typing import Any

from .common import ApiError, Json, iso, param_required
from .shipments import Shipping

# A label can be voided only while the carrier has not scanned it.
REFUNDABLE_TRACKER_STATUSES = frozenset({"unknown", "pre_transit"})


def request_refund(shipping: Shipping, now: float, shipment_id: str) -> Json:
    """Void a label: ``refund_status`` becomes "submitted"; :func:`settle` decides later."""
    shipment = shipping.get(shipment_id)
    if shipment["postage_label"] is None:
        raise ApiError(422, "SHIPMENT.REFUND.UNAVAILABLE", "This shipment has not been purchased.")
    if shipment["refund_status"] is not None:
        raise ApiError(422, "SHIPMENT.REFUND.UNAVAILABLE", "A refund has already been requested.")
    stamp = iso(now)
    record = {
        "id": shipping.ids.new("rfnd"),
        "object": "Refund",
        "created_at": stamp,
        "updated_at": stamp,
        "tracking_code": shipment["tracking_code"],
        "confirmation_number": None,
        "status": "submitted",
        "carrier": shipment["selected_rate"]["carrier"],
        "shipment_id": shipment_id,
        "mode": shipment["mode"],
        "requested_at": now,
    }
    shipping.refunds[record["id"]] = record
    shipment["refund_status"] = "submitted"
    shipment["updated_at"] = stamp
    return shipment


def refund_codes(shipping: Shipping, now: float, params: Json) -> list[Json]:
    """``POST /refunds``: one Refund per tracking code; unknown codes are "not_applicable"."""
    codes = params.get("tracking_codes") or []
    if isinstance(codes, str):
        codes = [c.strip() for c in codes.split(",") if c.strip()]
    if not codes:
        raise param_required("refund.tracking_codes")
    return [_refund_code(shipping, now, str(code), params.get("carrier")) for code in codes]


def _refund_code(shipping: Shipping, now: float, code: str, carrier: Any) -> Json:
    shipment_id = shipping.by_tracking_code.get(code)
    if shipment_id is None:
        stamp = iso(now)
        return {
            "id": shipping.ids.new("rfnd"),
            "object": "Refund",
            "created_at": stamp,
            "updated_at": stamp,
            "tracking_code": code,
            "confirmation_number": None,
            "status": "not_applicable",
            "carrier": carrier,
            "shipment_id": None,
        }
    existing = _refund_of(shipping, shipment_id)
    if existing is None:
        request_refund(shipping, now, shipment_id)
        existing = _refund_of(shipping, shipment_id)
    assert existing is not None
    return public_refund(existing)


def _refund_of(shipping: Shipping, shipment_id: str) -> Json | None:
    return next((r for r in shipping.refunds.values() if r["shipment_id"] == shipment_id), None)


def settle(shipping: Shipping, now: float, delay_s: float) -> list[Json]:
    """Decide submitted refunds older than ``delay_s``; returns the ones that succeeded."""
    settled = []
    for record in shipping.refunds.values():
        if record["status"] != "submitted" or now - record["requested_at"] < delay_s:
            continue
        shipment = shipping.shipments[record["shipment_id"]]
        unused = shipment["tracker"]["status"] in REFUNDABLE_TRACKER_STATUSES
        record["status"] = "refunded" if unused else "rejected"
        record["updated_at"] = shipment["updated_at"] = iso(now)
        shipment["refund_status"] = record["status"]
        if unused:
            for fee in shipment["fees"]:
                fee["refunded"] = fee["type"] == "PostageFee" or fee["refunded"]
            settled.append(record)
    return settled


def public_refund(record: Json) -> Json:
    """The Refund as the API shows it (without the simulator's bookkeeping)."""
    return {k: v for k, v in record.items() if k not in ("mode", "requested_at")}

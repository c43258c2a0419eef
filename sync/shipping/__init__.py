"""Shipping: parcels, rates, exactly-once labels, trackers, fulfilment write-back, pick and pack.

ready_to_ship -> packed -> label_purchased -> partially_fulfilled | fulfilled; a problem
(nothing fits, no address, no eligible rate, every rate refused) puts the order on_hold
with ``hold_reason`` "shipping: <why>" and ``waybill ship run ID`` resumes it.

One module per operation:

- ``plan``: may the order ship now, and its parcels (one ``Shipment`` row each);
- ``labels``: ``ship_order``: per parcel the EasyPost shipment, the rate, the label, the tracker;
- ``write_back``: ``write_back_fulfillment``: the storefront told, with tracking;
- ``void``: labels of a cancelled order refunded; an operator's void;
- ``recovery``: ``resume`` (an operator), ``resume_soon`` (the console: the job ships) and
  ``resume_stalled`` (the sweep);
- ``packing``: pick lists and pack scans;
- ``common``: stages, errors, the stage change, holds.

This package re-exports what the web layer, the other flows and the tests call.
"""

from __future__ import annotations

from core.errors import OrderNotFound
from core.lifecycle import SHIPPABLE
from sync.shipping.common import (
    AWAITING_SCAN,
    HOLD_PREFIX,
    ShippingError,
    ShippingInputError,
    scan_passed,
    ship_soon,
    write_back_soon,
)
from sync.shipping.labels import ship_order
from sync.shipping.packing import pick_list_for, record_pack_scan
from sync.shipping.recovery import resume, resume_soon, resume_stalled
from sync.shipping.void import void_labels, void_order
from sync.shipping.write_back import write_back

__all__ = [
    "AWAITING_SCAN",
    "HOLD_PREFIX",
    "SHIPPABLE",
    "OrderNotFound",
    "ShippingError",
    "ShippingInputError",
    "pick_list_for",
    "record_pack_scan",
    "resume",
    "resume_soon",
    "resume_stalled",
    "scan_passed",
    "ship_order",
    "ship_soon",
    "void_labels",
    "void_order",
    "write_back",
    "write_back_soon",
]

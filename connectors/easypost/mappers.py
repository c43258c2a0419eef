"""Pure mappers between EasyPost's JSON and Waybill's core shipping types.

No I/O here: the client (connectors/easypost/client.py) fetches plain dicts and these
functions build requests and read answers. EasyPost measures in inches and ounces;
Waybill in centimetres and grams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Protocol

from connectors.readers.errors import MappingError, shown
from connectors.readers.times import utc_time
from core.addresses import Address
from core.money import Money, parse_amount
from core.shipping import AddressCheck, Label, Parcel, Rate
from core.tracking import DeliveryState, Place, Scan, TrackerReport

CM_PER_INCH = Decimal("2.54")
GRAMS_PER_OUNCE = Decimal("28.349523125")
TENTH = Decimal("0.1")
ADDRESS_VERIFY_FAILURE = "ADDRESS.VERIFY.FAILURE"
# Exporters declare under this exemption when a parcel is worth under USD 2,500 per tariff line.
NO_EEI_EXEMPTION = "NOEEI 30.37(a)"

# Our Address fields -> EasyPost's address fields (and back).
ADDRESS_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("company", "company"),
    ("line1", "street1"),
    ("line2", "street2"),
    ("city", "city"),
    ("province_code", "state"),
    ("postal_code", "zip"),
    ("country_code", "country"),
    ("phone", "phone"),
)
OURS_BY_EASYPOST = {theirs: ours for ours, theirs in ADDRESS_FIELDS}


class CustomsLineLike(Protocol):
    """What the mappers read of ``core.parcels.CustomsLine`` (value and weight are the line's totals)."""

    @property
    def description(self) -> str: ...
    @property
    def sku(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def weight_g(self) -> int: ...
    @property
    def origin_country(self) -> str: ...


@dataclass(frozen=True)
class ShipmentState:
    """What EasyPost holds for one shipment: its rates, its label once bought, its refund status."""

    id: str
    rates: list[Rate]
    label: Label | None
    refund_status: str | None
    reference: str | None = None
    messages: tuple[str, ...] = ()  # carriers' rate errors ("Customs information is required ...")


# -- requests
def inches(cm: Decimal) -> str:
    """Centimetres as inches, rounded up to a tenth (a box never shrinks on the label)."""
    return str((Decimal(cm) / CM_PER_INCH).quantize(TENTH, rounding=ROUND_CEILING))


def ounces(grams: int) -> str:
    """Grams as ounces, rounded up to a tenth (carriers bill the heavier side)."""
    return str(max(TENTH, (Decimal(grams) / GRAMS_PER_OUNCE).quantize(TENTH, rounding=ROUND_CEILING)))


def address_params(address: Address) -> dict[str, str]:
    """EasyPost address fields from ours (missing parts left out)."""
    data = address.to_dict()
    return {theirs: str(data[ours]) for ours, theirs in ADDRESS_FIELDS if data.get(ours)}


def parcel_params(parcel: Parcel) -> dict[str, str]:
    return {
        "length": inches(parcel.length_cm),
        "width": inches(parcel.width_cm),
        "height": inches(parcel.height_cm),
        "weight": ounces(parcel.weight_g),
    }


def customs_params(lines: Sequence[CustomsLineLike], signer: str) -> dict[str, Any]:
    """A CustomsInfo with one CustomsItem per line; EasyPost's ``value`` is the line's total."""
    return {
        "contents_type": "merchandise",
        "customs_certify": True,
        "customs_signer": signer,
        "eel_pfc": NO_EEI_EXEMPTION,
        "non_delivery_option": "return",
        "restriction_type": "none",
        "customs_items": [
            {
                "description": line.description[:255],
                "code": line.sku,
                "quantity": line.quantity,
                "value": str(line.value),
                "weight": ounces(line.weight_g),
                "origin_country": line.origin_country,
            }
            for line in lines
        ],
    }


def shipment_params(
    to: Address,
    from_: Mapping[str, str],
    parcel: Parcel,
    customs: Sequence[CustomsLineLike] | None,
    reference: str,
    signer: str,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "to_address": address_params(to),
        "from_address": dict(from_),
        "parcel": parcel_params(parcel),
        "reference": reference,
    }
    if customs:
        params["customs_info"] = customs_params(customs, signer)
    return params


# -- answers
def _money(amount: Any, currency: Any) -> Money:
    return Money(parse_amount(str(amount)), str(currency or "USD"))


def _days(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        days = int(value)
    except (TypeError, ValueError):
        return None
    return days if days >= 0 else None


def to_rate(rate: Mapping[str, Any]) -> Rate:
    """A Rate from EasyPost's: the price from the ``rate`` string, never through a float."""
    return Rate(
        rate_id=str(rate["id"]),
        carrier=str(rate["carrier"]),
        service=str(rate["service"]),
        price=_money(rate["rate"], rate.get("currency")),
        delivery_days=_days(rate.get("delivery_days")),
    )


def to_label(shipment: Mapping[str, Any]) -> Label | None:
    """The bought label, or None while the shipment has no postage."""
    postage = shipment.get("postage_label") or None
    rate = shipment.get("selected_rate") or None
    if postage is None or rate is None or not shipment.get("tracking_code"):
        return None
    tracker = shipment.get("tracker") or {}
    return Label(
        shipment_id=str(shipment["id"]),
        tracking_code=str(shipment["tracking_code"]),
        carrier=str(rate["carrier"]),
        service=str(rate["service"]),
        label_url=str(postage.get("label_url") or ""),
        price=_money(rate["rate"], rate.get("currency")),
        tracker_id=tracker.get("id"),
        tracking_url=tracker.get("public_url"),
        extra={"rate_id": str(rate["id"])},
    )


MAX_MESSAGE = 120


def brief(text: object) -> str:
    """A carrier's message as Waybill keeps it (hold reasons, timelines): one line, 120 characters at most."""
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_MESSAGE else f"{line[: MAX_MESSAGE - 3]}..."


def to_state(shipment: Mapping[str, Any]) -> ShipmentState:
    return ShipmentState(
        id=str(shipment["id"]),
        rates=[to_rate(r) for r in shipment.get("rates") or []],
        label=to_label(shipment),
        refund_status=shipment.get("refund_status"),
        reference=shipment.get("reference"),
        messages=tuple(
            brief(f"{m.get('carrier') or 'carrier'}: {m.get('message')}")
            for m in shipment.get("messages") or []
            if isinstance(m, Mapping) and m.get("message")
        ),
    )


def verified_check(verified: Mapping[str, Any]) -> AddressCheck:
    """A successful create_and_verify: deliverable; the carrier's warnings kept as messages."""
    delivery = (verified.get("verifications") or {}).get("delivery") or {}
    if delivery and delivery.get("success") is False:
        return failed_check(delivery.get("errors") or [], None)
    warnings = tuple(brief(e.get("message")) for e in delivery.get("errors") or [] if e.get("message"))
    return AddressCheck(deliverable=True, messages=warnings)


def failed_check(errors: Sequence[Any], sent: Address | None) -> AddressCheck:
    """An ADDRESS.VERIFY.FAILURE: the carrier's messages, and the corrected address when it offered one."""
    messages: list[str] = []
    corrections: dict[str, str] = {}
    for error in errors:
        if not isinstance(error, Mapping):
            messages.append(brief(error))
            continue
        field = str(error.get("field") or "")
        messages.append(brief(error.get("message") or error.get("code") or "address not verified"))
        suggestion = error.get("suggestion")
        if suggestion and field in OURS_BY_EASYPOST:
            corrections[OURS_BY_EASYPOST[field]] = str(suggestion)
    corrected: dict[str, str] | None = None
    if corrections:
        base = {k: v for k, v in (sent.to_dict() if sent else {}).items() if v is not None}
        corrected = {**base, **corrections}
    return AddressCheck(deliverable=False, messages=tuple(messages), suggestion=corrected)


def tracker_ref(tracker: Mapping[str, Any]) -> tuple[str, str | None]:
    return str(tracker["id"]), tracker.get("public_url")


# -- trackers (core/tracking.py)
# The Event topics that carry a Tracker (the inbox maps them to one canonical kind).
TRACKER_TOPICS = frozenset({"tracker.created", "tracker.updated"})
MAX_DETAILS = 500  # tracking details read from one tracker


def _text(value: Any, limit: int) -> str:
    return "" if value is None else " ".join(str(value).split())[:limit]


def _state(value: Any, what: str) -> DeliveryState:
    try:
        return DeliveryState(str(value))
    except ValueError:
        raise MappingError(f"{what}: status {shown(value)} is not a tracker status") from None


def _place(location: Any) -> Place | None:
    if not isinstance(location, Mapping):
        return None
    return Place.from_dict(
        {
            "city": location.get("city"),
            "state": location.get("state"),
            "country": location.get("country"),
            "postal_code": location.get("zip"),
        }
    )


def to_scan(detail: Any, index: int) -> Scan:
    """One TrackingDetail as a Scan (``MappingError`` naming the detail when it is malformed)."""
    what = f"tracker tracking_details[{index}]"
    if not isinstance(detail, Mapping):
        raise MappingError(f"{what} is not an object")
    return Scan(
        happened_at=utc_time(detail.get("datetime"), f"{what}.datetime", naive_is_utc=True),
        status=_state(detail.get("status"), what),
        detail=_text(detail.get("status_detail"), 64),
        message=_text(detail.get("message") or detail.get("description"), 500),
        place=_place(detail.get("tracking_location")),
    )


def tracker_report(tracker: Any) -> TrackerReport:
    """A Tracker (as an Event's ``result`` or a retrieve answers) as a TrackerReport.

    ``MappingError`` (``Permanent``) with the reason when it is not a readable Tracker."""
    if not isinstance(tracker, Mapping) or tracker.get("object", "Tracker") != "Tracker":
        raise MappingError("tracker: the body is not a Tracker object")
    tracker_id, code, carrier = tracker.get("id"), tracker.get("tracking_code"), tracker.get("carrier")
    if not isinstance(tracker_id, str) or not tracker_id.startswith("trk_") or len(tracker_id) > 64:
        raise MappingError(f"tracker: id {shown(tracker_id)} is not a tracker id")
    if not isinstance(code, str) or not code.strip() or not isinstance(carrier, str) or not carrier.strip():
        raise MappingError("tracker: tracking_code and carrier must be non-empty strings")
    details = tracker.get("tracking_details") or []
    if not isinstance(details, list) or len(details) > MAX_DETAILS:
        raise MappingError(f"tracker: tracking_details must be a list of at most {MAX_DETAILS}")
    carrier_detail = tracker.get("carrier_detail")
    service = carrier_detail.get("service") if isinstance(carrier_detail, Mapping) else None
    est = tracker.get("est_delivery_date")
    updated = tracker.get("updated_at")
    return TrackerReport(
        tracker_id=tracker_id,
        tracking_code=code.strip(),
        carrier=carrier.strip(),
        service=_text(service, 64) or None,
        status=_state(tracker.get("status"), "tracker"),
        status_detail=_text(tracker.get("status_detail"), 64),
        est_delivery_at=utc_time(est, "tracker est_delivery_date", naive_is_utc=True) if est else None,
        scans=tuple(to_scan(d, i) for i, d in enumerate(details)),
        updated_at=utc_time(updated, "tracker updated_at", naive_is_utc=True) if updated else None,
        public_url=str(tracker["public_url"]) if tracker.get("public_url") else None,
    )


def event_tracker(event: Any) -> TrackerReport:
    """The tracker an Event (``tracker.created`` / ``tracker.updated``) carries as ``result``."""
    if not isinstance(event, Mapping) or not str(event.get("id", "")).startswith("evt_"):
        raise MappingError("tracker event: the body is not an Event")
    if event.get("description") not in TRACKER_TOPICS:
        raise MappingError(f"tracker event: {shown(event.get('description'))} is not a tracker event")
    return tracker_report(event.get("result"))

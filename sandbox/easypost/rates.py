"""Deterministic rating: price from weight (oz), zone and service; three carriers."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from decimal import Decimal

from .common import IdMaker, Json, iso, money

INTERNATIONAL_ZONE = 9


@dataclass(frozen=True)
class Service:
    """One carrier service: price = base + per_lb x pounds x zone factor; days by zone."""

    carrier: str
    name: str
    base: Decimal
    per_lb: Decimal
    days: int
    far_extra_days: int = 0  # added for zones 5 and above
    guaranteed: bool = False


def _svc(
    carrier: str, name: str, base: str, per_lb: str, days: int, extra: int = 0, g: bool = False
) -> Service:
    return Service(carrier, name, Decimal(base), Decimal(per_lb), days, extra, g)


DOMESTIC: tuple[Service, ...] = (
    _svc("USPS", "GroundAdvantage", "4.75", "0.85", 3, 2),
    _svc("USPS", "Priority", "7.10", "1.25", 2, 1),
    _svc("USPS", "Express", "26.35", "2.90", 1, 1, True),
    _svc("UPS", "Ground", "8.95", "1.05", 3, 2),
    _svc("UPS", "2ndDayAir", "18.40", "2.35", 2, 0, True),
    _svc("UPS", "NextDayAir", "32.60", "4.10", 1, 0, True),
    _svc("FedEx", "FEDEX_GROUND", "8.70", "1.00", 3, 2),
    _svc("FedEx", "FEDEX_2_DAY", "17.90", "2.25", 2, 0, True),
    _svc("FedEx", "STANDARD_OVERNIGHT", "31.80", "3.95", 1, 0, True),
)
INTERNATIONAL: tuple[Service, ...] = (
    _svc("USPS", "FirstClassPackageInternationalService", "14.50", "3.40", 10),
    _svc("USPS", "PriorityMailInternational", "38.90", "5.10", 7),
    _svc("USPS", "ExpressMailInternational", "55.20", "6.80", 4),
    _svc("UPS", "Expedited", "61.30", "7.20", 5),
    _svc("UPS", "Express", "78.45", "8.60", 3, 0, True),
    _svc("FedEx", "INTERNATIONAL_ECONOMY", "58.75", "6.90", 5),
    _svc("FedEx", "INTERNATIONAL_PRIORITY", "74.10", "8.30", 3, 0, True),
)
LIST_MARKUP = Decimal("1.10")
RETAIL_MARKUP = Decimal("1.30")


def carrier_account_id(carrier: str) -> str:
    """A stable ``ca_`` id per carrier, so tests can pin it."""
    digest = f"{zlib.crc32(carrier.encode()):08x}"
    return f"ca_{digest * 4}"


def zone(from_address: Json, to_address: Json) -> int:
    """USPS-like zone 1..8 from the 3-digit ZIP prefixes; 9 when either end is outside the US."""
    if from_address.get("country", "US") != "US" or to_address.get("country", "US") != "US":
        return INTERNATIONAL_ZONE
    prefixes = [str(a.get("zip") or "")[:3] for a in (from_address, to_address)]
    if not all(p.isdigit() and len(p) == 3 for p in prefixes):
        return 8
    gap = abs(int(prefixes[0]) - int(prefixes[1]))
    return 1 if gap == 0 else 2 + min(6, gap // 100)


def price(service: Service, weight_oz: float, zone_number: int) -> Decimal:
    """Negotiated rate in USD (2 decimals); pounds are rounded up, as carriers bill."""
    pounds = max(1, math.ceil(weight_oz / 16))
    factor = Decimal(1) + Decimal("0.15") * (min(zone_number, 8) - 1)
    return (service.base + service.per_lb * pounds * factor).quantize(Decimal("0.01"))


def delivery_days(service: Service, zone_number: int) -> int:
    return service.days + (service.far_extra_days if 5 <= zone_number < INTERNATIONAL_ZONE else 0)


def services_for(zone_number: int) -> tuple[Service, ...]:
    return INTERNATIONAL if zone_number == INTERNATIONAL_ZONE else DOMESTIC


def build_rates(
    ids: IdMaker, now: float, mode: str, shipment_id: str, weight_oz: float, zone_number: int
) -> list[Json]:
    """Rate objects for every service that serves the zone."""
    stamp = iso(now)
    rates = []
    for service in services_for(zone_number):
        amount = price(service, weight_oz, zone_number)
        days = delivery_days(service, zone_number)
        rates.append(
            {
                "id": ids.new("rate"),
                "object": "Rate",
                "created_at": stamp,
                "updated_at": stamp,
                "mode": mode,
                "service": service.name,
                "carrier": service.carrier,
                "rate": money(amount),
                "currency": "USD",
                "retail_rate": money(amount * RETAIL_MARKUP),
                "retail_currency": "USD",
                "list_rate": money(amount * LIST_MARKUP),
                "list_currency": "USD",
                "billing_type": "easypost",
                "delivery_days": days,
                "delivery_date": None,
                "delivery_date_guaranteed": service.guaranteed,
                "est_delivery_days": days,
                "shipment_id": shipment_id,
                "carrier_account_id": carrier_account_id(service.carrier),
            }
        )
    return rates

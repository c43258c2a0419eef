"""Sample addresses and parcels (EasyPost's own fixtures), for demos and tests."""

from __future__ import annotations

from typing import Any

SF: dict[str, Any] = {
    "name": "Jack Sparrow",
    "street1": "388 Townsend St",
    "street2": "Apt 20",
    "city": "San Francisco",
    "state": "CA",
    "zip": "94107",
    "country": "US",
    "email": "test@example.com",
    "phone": "5555555555",
}
REDONDO: dict[str, Any] = {
    "name": "Elizabeth Swan",
    "street1": "179 N Harbor Dr",
    "city": "Redondo Beach",
    "state": "CA",
    "zip": "90277",
    "country": "US",
    "email": "test@example.com",
    "phone": "5555555555",
}
NEW_YORK: dict[str, Any] = {
    "name": "Hector Barbossa",
    "street1": "350 5th Ave",
    "city": "New York",
    "state": "NY",
    "zip": "10001",
    "country": "US",
}
LONDON: dict[str, Any] = {
    "name": "Will Turner",
    "street1": "10 Downing St",
    "city": "London",
    "zip": "SW1A 2AA",
    "country": "GB",
}
PARCEL: dict[str, Any] = {"length": 10, "width": 8, "height": 4, "weight": 15.4}
CUSTOMS_INFO: dict[str, Any] = {
    "eel_pfc": "NOEEI 30.37(a)",
    "customs_certify": True,
    "customs_signer": "Steve Brule",
    "contents_type": "merchandise",
    "customs_items": [
        {
            "description": "Sweet shirts",
            "quantity": 2,
            "weight": 11,
            "value": 23.25,
            "hs_tariff_number": "654321",
            "origin_country": "US",
        }
    ],
}


def pick_rate(shipment: Any, carrier: str, service: str) -> Any:
    """The shipment's rate for ``carrier``/``service`` (works on dicts and client objects)."""
    rates = shipment["rates"]
    return next(r for r in rates if r["carrier"] == carrier and r["service"] == service)

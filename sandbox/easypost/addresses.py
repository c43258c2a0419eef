"""Addresses and the simulator's deterministic verification rules (see the package docstring)."""

from __future__ import annotations

import re
import zlib
from typing import Any

from .common import ApiError, IdMaker, Json, iso_offset

ADDRESS_FIELDS = (
    "name",
    "company",
    "street1",
    "street2",
    "city",
    "state",
    "zip",
    "country",
    "phone",
    "email",
    "carrier_facility",
    "residential",
    "federal_tax_id",
    "state_tax_id",
)

US_STATES = frozenset(
    re.findall(
        r"[A-Z]{2}",
        "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
        "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP",
    )
)

# ZIPs the simulator knows precisely: a city given with one of these ZIPs must match it,
# otherwise verification fails with the known city as the suggestion.
KNOWN_ZIPS: dict[str, tuple[str, str, float, float, str]] = {
    "94107": ("SAN FRANCISCO", "CA", 37.77551, -122.39697, "America/Los_Angeles"),
    "94104": ("SAN FRANCISCO", "CA", 37.79342, -122.40288, "America/Los_Angeles"),
    "90277": ("REDONDO BEACH", "CA", 33.8436, -118.39177, "America/Los_Angeles"),
    "10001": ("NEW YORK", "NY", 40.75065, -73.99718, "America/New_York"),
    "60601": ("CHICAGO", "IL", 41.88531, -87.62189, "America/Chicago"),
    "77063": ("HOUSTON", "TX", 29.73472, -95.52146, "America/Chicago"),
    "29401": ("CHARLESTON", "SC", 32.77962, -79.93728, "America/New_York"),
    "98101": ("SEATTLE", "WA", 47.61067, -122.33438, "America/Los_Angeles"),
}

NOT_FOUND = {
    "code": "E.ADDRESS.NOT_FOUND",
    "field": "address",
    "message": "Address not found",
    "suggestion": None,
}
HOUSE_NUMBER = {
    "code": "E.HOUSE_NUMBER.MISSING",
    "field": "street1",
    "message": "House number is missing",
    "suggestion": None,
}
_HOUSE_NUMBER_RE = re.compile(r"^\s*\d+[A-Za-z]?\s+\S")
_ZIP_RE = re.compile(r"^\d{5}(-\d{4})?$")


def build_address(ids: IdMaker, now: float, mode: str, fields: Json) -> Json:
    """A new, unverified Address object from request fields."""
    stamp = iso_offset(now)
    address: Json = {"id": ids.new("adr"), "object": "Address", "created_at": stamp, "updated_at": stamp}
    for name in ADDRESS_FIELDS:
        address[name] = fields.get(name)
    address["country"] = (fields.get("country") or "US").upper()
    address["mode"] = mode
    address["verifications"] = {}
    return address


def verification_errors(address: Json) -> list[Json]:
    """Why an address fails delivery verification; empty when it passes."""
    if address["country"] != "US":
        return []
    street = str(address.get("street1") or "")
    zip_code = str(address.get("zip") or "")
    zip5 = zip_code[:5]
    if not _HOUSE_NUMBER_RE.match(street):
        return [dict(NOT_FOUND), dict(HOUSE_NUMBER)]
    state = str(address.get("state") or "").upper()
    if (
        "UNDELIVERABLE" in street.upper()
        or not _ZIP_RE.match(zip_code)
        or zip5.startswith("000")
        or state not in US_STATES
    ):
        return [dict(NOT_FOUND)]
    known = KNOWN_ZIPS.get(zip5)
    city = str(address.get("city") or "").upper()
    if known is not None and city and city != known[0]:
        return [
            {
                "code": "E.ADDRESS.INVALID",
                "field": "city",
                "message": "City does not match ZIP code",
                "suggestion": known[0],
            }
        ]
    return []


def _geo(zip5: str) -> Json:
    known = KNOWN_ZIPS.get(zip5)
    if known is not None:
        return {"latitude": known[2], "longitude": known[3], "time_zone": known[4]}
    seed = zlib.crc32(zip5.encode())
    lat = 25.0 + (seed % 2300) / 100
    lon = -70.0 - (seed // 2300 % 5200) / 100
    return {"latitude": round(lat, 5), "longitude": round(lon, 5), "time_zone": "America/Chicago"}


def _normalised(address: Json) -> Json:
    """The verified form: upper case, street2 folded into street1, ZIP+4, residential flag."""
    street = " ".join(str(part) for part in (address.get("street1"), address.get("street2")) if part)
    zip5 = str(address.get("zip") or "")[:5]
    plus4 = f"{zlib.crc32(street.upper().encode()) % 10000:04d}"
    upper = {
        k: (address[k].upper() if isinstance(address.get(k), str) else address.get(k))
        for k in ("name", "company", "city", "state")
    }
    return {
        **upper,
        "street1": street.upper(),
        "street2": "",
        "zip": f"{zip5}-{plus4}" if address["country"] == "US" else address.get("zip"),
        "residential": not address.get("company"),
    }


def verify(address: Json, now: float) -> tuple[Json, list[Json]]:
    """Verify ``address``: a copy carrying ``verifications`` (same id), and the errors."""
    errors = verification_errors(address)
    verified = {**address, "updated_at": iso_offset(now)}
    if errors:
        verified["verifications"] = {
            "zip4": {"success": False, "errors": errors, "details": None},
            "delivery": {"success": False, "errors": errors, "details": {}},
        }
        return verified, errors
    verified.update(_normalised(address))
    verified["verifications"] = {
        "zip4": {"success": True, "errors": [], "details": None},
        "delivery": {"success": True, "errors": [], "details": _geo(str(address.get("zip") or "")[:5])},
    }
    return verified, []


def verify_failure(errors: list[Json]) -> ApiError:
    return ApiError(422, "ADDRESS.VERIFY.FAILURE", "Unable to verify address.", errors)


def wants(flag: Any) -> bool:
    """``verify``/``verify_strict`` arrive as ``true``, ``"true"`` or a list like ``["delivery"]``."""
    if isinstance(flag, list):
        return bool(flag)
    return flag is True or str(flag).lower() == "true"

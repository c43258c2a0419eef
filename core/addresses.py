"""Postal addresses as the platforms give them; every part may be missing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Address:
    """A postal address (billing or shipping). Empty parts are ``None``, never ``""``."""

    name: str | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    province_code: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    phone: str | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in asdict(self).values())

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Address:
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    def key(self) -> str | None:
        """This address however it was typed: country, postal code and first line,
        upper-cased, commas and runs of spaces as one space; None without a first line."""
        return address_key(self.country_code, self.postal_code, self.line1)


def address_key(country_code: Any, postal_code: Any, line1: Any) -> str | None:
    """:meth:`Address.key` of the three parts as a platform's JSON holds them."""
    if not line1:
        return None
    parts = (country_code, postal_code, line1)
    return "|".join(" ".join(str(p or "").upper().replace(",", " ").split()) for p in parts)

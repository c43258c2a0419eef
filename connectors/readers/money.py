"""Money in platform payloads: exact Decimals from strings (or integers), never floats."""

from __future__ import annotations

from decimal import Decimal

from connectors.readers.errors import MappingError, shown
from core.money import Money, parse_amount


def amount(value: object, what: str) -> Decimal:
    """An exact Decimal from a money string (or integer)."""
    try:
        return parse_amount(value)
    except ValueError as exc:
        raise MappingError(f"{what}: amount {shown(value)} is not a decimal string") from exc


def money(value: object, currency: str, what: str) -> Money:
    return Money(amount(value, what), currency)

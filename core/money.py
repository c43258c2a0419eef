"""Money: an exact Decimal amount with its ISO 4217 currency. Never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# Plain decimal notation only: exponents, NaN and Infinity are not amounts a platform sends.
_AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")


def parse_amount(value: object) -> Decimal:
    """The exact Decimal of a money amount given as a string, an int or a Decimal.

    Floats are refused: a float has already lost the cents it was meant to carry.
    Raises ``ValueError`` for anything that is not a plain finite decimal number.
    """
    if isinstance(value, bool | float):
        raise ValueError(f"amount {value!r} is not a decimal string")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"amount {value!r} is not finite")
        return value
    if isinstance(value, str) and _AMOUNT.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
            raise ValueError(f"amount {value!r} is not a decimal") from exc
    raise ValueError(f"amount {value!r} is not a decimal string")


def format_amount(amount: Decimal) -> str:
    """The amount in plain notation (``"0.00"``, never ``"0E-2"``), keeping its scale."""
    return format(amount, "f")


@dataclass(frozen=True)
class Money:
    """An amount in one currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ValueError(f"Money amount must be a finite Decimal, got {self.amount!r}")
        if not self.currency:
            raise ValueError("Money needs a currency")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal("0.00"), currency)

    def to_dict(self) -> dict[str, str]:
        return {"amount": format_amount(self.amount), "currency": self.currency}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Money:
        return cls(parse_amount(data["amount"]), str(data["currency"]))

"""A buyer's method without a code or title matches no entry of the method map, whatever it holds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.money import Money
from core.orders import ShippingMethod
from core.rates import service_level_for

ODD_MAP = {"xxxx": "overnight", "none": "overnight", "": "overnight", "ground": "economy"}


@pytest.mark.parametrize(
    ("code", "title", "level"),
    [
        (None, "Ground", "economy"),  # no code: the title decides
        (None, None, "standard"),
        ("", "", "standard"),
        ("  ", "Ground", "economy"),
    ],
)
def test_a_missing_code_or_title_matches_nothing(code: str | None, title: str | None, level: str) -> None:
    method = ShippingMethod(code=code, title=title, price=Money(Decimal("0"), "USD"))  # type: ignore[arg-type]
    assert service_level_for(method, ODD_MAP, "standard") == level

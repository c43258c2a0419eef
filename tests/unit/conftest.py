"""Fixtures for the pure unit tests: platform payloads under ``tests/fixtures/<platform>/``.

Each event variant is one file (``<event>__<variant>.json``); its exact expected
canonical order, written by hand, sits beside it as ``<event>__<variant>.expected.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_names(platform: str) -> set[str]:
    """Every payload fixture of a platform (expected files excluded)."""
    return {p.name.removesuffix(".json") for p in (FIXTURES / platform).glob("*.json")} - {
        p.name.removesuffix(".json") for p in (FIXTURES / platform).glob("*.expected.json")
    }


def read(platform: str, name: str) -> Any:
    # Python's json keeps integers exact: ids above 2**53 arrive as the digits Shopify sent.
    return json.loads((FIXTURES / platform / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def payload() -> Callable[[str, str], Any]:
    """``payload(platform, name)``: a fixture's JSON, parsed the way the receivers parse bodies."""
    return read


@pytest.fixture
def expected() -> Callable[[str, str], Any]:
    """``expected(platform, name)``: the hand-written canonical order for a fixture."""
    return lambda platform, name: read(platform, f"{name}.expected")


@pytest.fixture
def fixtures_of() -> Callable[[str], set[str]]:
    """``fixtures_of(platform)``: the names of all payload fixtures, to check each one has a test."""
    return fixture_names

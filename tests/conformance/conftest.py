"""Conformance tests hold the project against real platform data.

The data lives outside the repository, in ``../shared/reference`` (or where
``WAYBILL_REFERENCE_DIR`` points). When it is absent every test here skips with
that reason; CI always has it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def reference_path() -> Path:
    return Path(os.environ.get("WAYBILL_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    path = reference_path()
    if not path.is_dir():
        pytest.skip(f"platform reference data not found at {path} (set WAYBILL_REFERENCE_DIR)")
    return path

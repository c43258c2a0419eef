"""Constants and helpers shared by the Shopify simulator tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = ROOT / "connectors" / "shopify" / "graphql"
# Documents only the tests send (production has no use for them): tests/fixtures/shopify_graphql.
TEST_DOCUMENTS = ROOT / "tests" / "fixtures" / "shopify_graphql"
SHOP = "demo.myshopify.com"
TOKEN = "shpat_test_token"
SECRET = "test-app-secret"
API_KEY = "test-api-key"
ENDPOINT = "/admin/api/2026-10/graphql.json"

GraphQL = Callable[..., tuple[int, dict[str, Any]]]


def document(name: str) -> str:
    """A production document (with its shared fragments), else one of the tests' own."""
    from connectors.shopify.client import with_fragments

    path = DOCUMENTS / f"{name}.graphql"
    return with_fragments((path if path.exists() else TEST_DOCUMENTS / f"{name}.graphql").read_text())

"""The GraphQL fixtures have exactly the shape the order documents in ``connectors/shopify/graphql`` ask for.

If another field is added to (or dropped from) ``OrderFields``, this fails until the
fixture, and with it the mapper's test, follow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import FieldNode, FragmentDefinitionNode, SelectionSetNode, parse

from connectors.shopify.client import load_document

GRAPHQL = Path(__file__).resolve().parents[2] / "connectors" / "shopify" / "graphql"
DOCUMENTS = ["order.graphql", "orders_updated_since.graphql"]


def selection_shape(selection_set: SelectionSetNode | None) -> dict[str, Any] | None:
    if selection_set is None:
        return None
    shape: dict[str, Any] = {}
    for selection in selection_set.selections:
        assert isinstance(selection, FieldNode), "order fields are plain fields"
        shape[selection.name.value] = selection_shape(selection.selection_set)
    return shape


def order_fields(document: str) -> dict[str, Any] | None:
    ast = parse(load_document(Path(document).stem))
    fragments = [d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)]
    (fragment,) = [f for f in fragments if f.name.value == "OrderFields"]
    return selection_shape(fragment.selection_set)


def value_shape(value: Any) -> dict[str, Any] | None:
    if isinstance(value, list):
        return value_shape(value[0]) if value and isinstance(value[0], dict) else None
    if isinstance(value, dict):
        return {key: value_shape(item) for key, item in value.items()}
    return None


@pytest.mark.parametrize("document", DOCUMENTS)
def test_basic_node_fixture_has_the_documents_shape(document: str, payload: Any) -> None:
    assert value_shape(payload("shopify", "order_node__basic")) == order_fields(document)

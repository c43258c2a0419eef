"""Query cost and the leaky bucket, per Shopify's calculated-query-cost model.

Requested cost is computed from the document alone: scalars and enums 0, objects 1,
connections 2 + ``first`` x the cost of one item, lists with a ``first`` argument
``first`` x the cost of one item, other lists as one item, and every mutation root
field 10. The actual cost walks the same selections over the data returned, with
the number of items actually returned in place of ``first``.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast_untyped,
)

from sandbox.harness import Clock

MUTATION_COST = 10
MAX_QUERY_COST = 1000


@dataclass(frozen=True)
class Plan:
    """A shop plan's bucket: size and restore rate in points per second."""

    bucket_size: int
    restore_rate: int


# Restore rates from shopify.dev; bucket sizes are 20 s of restore, as the
# throttleStatus of live responses shows (Plus: maximumAvailable 20000 at 1000/s).
PLANS: dict[str, Plan] = {
    "standard": Plan(2_000, 100),
    "advanced": Plan(4_000, 200),
    "plus": Plan(20_000, 1_000),
    "enterprise": Plan(40_000, 2_000),
}


def _fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """Fields of a selection set with fragments flattened (the served types have no interfaces)."""
    out: list[FieldNode] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out += _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            out += _fields(fragments[selection.name.value].selection_set, fragments)
    return out


def _first(node: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in node.arguments or ():
        if arg.name.value in ("first", "last"):
            value = value_from_ast_untyped(arg.value, variables)
            return int(value) if isinstance(value, int) else None
    return None


def _unwrap(gql_type: GraphQLOutputType) -> tuple[bool, Any]:
    is_list = False
    while isinstance(gql_type, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(gql_type, GraphQLList)
        gql_type = gql_type.of_type
    return is_list, gql_type


class CostModel:
    """Requested and actual cost of operations on one schema."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> None:
        self.fragments = fragments
        self.variables = variables

    def requested(self, operation: OperationDefinitionNode, root: GraphQLObjectType) -> int:
        if operation.operation.value == "mutation":
            return MUTATION_COST * len(_fields(operation.selection_set, self.fragments))
        return self._selection(operation.selection_set, root, None)

    def actual(self, operation: OperationDefinitionNode, root: GraphQLObjectType, data: Any) -> int:
        if operation.operation.value == "mutation":
            return MUTATION_COST * len(_fields(operation.selection_set, self.fragments))
        return self._selection(operation.selection_set, root, data if isinstance(data, dict) else {})

    def _selection(self, selection_set: SelectionSetNode | None, parent: Any, data: Any) -> int:
        total = 0
        for node in _fields(selection_set, self.fragments):
            field = parent.fields.get(node.name.value) if hasattr(parent, "fields") else None
            if field is None:
                continue
            key = node.alias.value if node.alias else node.name.value
            value = None if data is None else data.get(key)
            total += self._field(node, field.type, value, data is None)
        return total

    def _field(self, node: FieldNode, gql_type: GraphQLOutputType, value: Any, static: bool) -> int:
        is_list, named = _unwrap(gql_type)
        if not isinstance(named, GraphQLObjectType):
            return 0
        if named.name.endswith("Connection"):
            return 2 + self._connection(node, named, value, static)
        first = _first(node, self.variables)
        if is_list:
            if static:
                return (first or 1) * (1 + self._selection(node.selection_set, named, None))
            items = value or []
            if first is None:
                items = items[:1]
            return sum(1 + self._selection(node.selection_set, named, item) for item in items)
        if not static and value is None:
            return 0
        return 1 + self._selection(node.selection_set, named, None if static else value)

    def _connection(self, node: FieldNode, conn: GraphQLObjectType, value: Any, static: bool) -> int:
        """Cost of the items of a connection (edges/nodes); pageInfo is part of the base 2."""
        first = _first(node, self.variables) or 0
        item_type = get_named_type(conn.fields["nodes"].type)
        per_item = 0
        count = first
        for sub in _fields(node.selection_set, self.fragments):
            if sub.name.value == "nodes":
                items = None if static else (value or {}).get(sub.alias.value if sub.alias else "nodes")
                per_item = max(per_item, self._items(sub, item_type, items, static))
                count = first if static else len(items or [])
            elif sub.name.value == "edges":
                edges = None if static else (value or {}).get(sub.alias.value if sub.alias else "edges")
                for edge_field in _fields(sub.selection_set, self.fragments):
                    if edge_field.name.value == "node":
                        nodes = None if static else [e.get("node") for e in edges or []]
                        per_item = max(per_item, self._items(edge_field, item_type, nodes, static))
                count = first if static else len(edges or [])
        return count * per_item if static else per_item

    def _items(self, node: FieldNode, item_type: Any, items: list[Any] | None, static: bool) -> int:
        if static:
            return 1 + self._selection(node.selection_set, item_type, None)
        return sum(1 + self._selection(node.selection_set, item_type, item) for item in items or [])


class LeakyBucket:
    """Points available to one (app, shop); refills continuously on the simulator clock."""

    def __init__(self, plan: Plan, clock: Clock) -> None:
        self.plan = plan
        self._clock = clock
        self._available = float(plan.bucket_size)
        self._updated = clock.now()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock.now()
        elapsed = max(0.0, now - self._updated)
        self._available = min(
            float(self.plan.bucket_size), self._available + elapsed * self.plan.restore_rate
        )
        self._updated = now

    def take(self, cost: int) -> bool:
        """Reserve ``cost`` points if that many are available."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: int) -> None:
        with self._lock:
            self._available = min(float(self.plan.bucket_size), self._available + points)

    def seconds_until(self, cost: int) -> float:
        with self._lock:
            self._refill()
            return max(0.0, (cost - self._available) / self.plan.restore_rate)

    def status(self) -> dict[str, Any]:
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": float(self.plan.bucket_size),
                "currentlyAvailable": math.floor(self._available),
                "restoreRate": float(self.plan.restore_rate),
            }

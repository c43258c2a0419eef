"""Parse and validate GraphQL documents against the trimmed schema, Shopify-style.

Validation results are cached by query text, so a client that sends the same
document over and over pays for parsing and validation once.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    get_location,
    parse,
    validate,
)

from sandbox.shopify.allowlist import SDL_PATH

MAX_CACHED_DOCUMENTS = 512


@cache
def trimmed_schema() -> GraphQLSchema:
    """The schema the simulator serves (built once per process)."""
    return build_schema(SDL_PATH.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Document:
    """A parsed, valid document: its AST and fragments by name."""

    ast: DocumentNode
    fragments: dict[str, FragmentDefinitionNode]

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        operations = [d for d in self.ast.definitions if isinstance(d, OperationDefinitionNode)]
        if name:
            return next((op for op in operations if op.name and op.name.value == name), None)
        return operations[0] if len(operations) == 1 else None


# graphql-core's messages, mapped to the codes and wording of Shopify's GraphQL server.
_UNDEFINED_FIELD = re.compile(r"Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'")
_MISSING_ARGUMENT = re.compile(r"Argument '\w+\.(?P<field>\w+)\((?P<arg>\w+):\)' of type .* is required")
_UNKNOWN_ARGUMENT = re.compile(r"Unknown argument '(?P<arg>\w+)' on field '(?P<type>\w+)\.(?P<field>\w+)'")


def _shopify_error(error: GraphQLError, paths: dict[int, list[str]]) -> dict[str, Any]:
    message, extensions = error.message, {"code": "validationError"}
    if match := _UNDEFINED_FIELD.search(message):
        message = f"Field '{match['field']}' doesn't exist on type '{match['type']}'"
        extensions = {"code": "undefinedField", "typeName": match["type"], "fieldName": match["field"]}
    elif match := _MISSING_ARGUMENT.search(message):
        message = f"Field '{match['field']}' is missing required arguments: {match['arg']}"
        extensions = {
            "code": "missingRequiredArguments",
            "className": "Field",
            "name": match["field"],
            "arguments": match["arg"],
        }
    elif match := _UNKNOWN_ARGUMENT.search(message):
        message = f"Field '{match['field']}' doesn't accept argument '{match['arg']}'"
        extensions = {
            "code": "argumentNotAccepted",
            "name": match["field"],
            "typeName": "Field",
            "argumentName": match["arg"],
        }
    body: dict[str, Any] = {"message": message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    node = error.nodes[0] if error.nodes else None
    if node is not None and id(node) in paths:
        body["path"] = paths[id(node)]
    body["extensions"] = extensions
    return body


def _node_paths(ast: DocumentNode) -> dict[int, list[str]]:
    """Shopify's error ``path`` for every field node: operation label, then field names."""
    paths: dict[int, list[str]] = {}

    def walk(selections: SelectionSetNode | None, prefix: list[str]) -> None:
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                here = [*prefix, selection.name.value]
                paths[id(selection)] = here
                for arg in selection.arguments or ():
                    paths[id(arg)] = [*here, arg.name.value]
                walk(selection.selection_set, here)
            elif isinstance(selection, InlineFragmentNode):
                label = f"... on {selection.type_condition.name.value}" if selection.type_condition else "..."
                walk(selection.selection_set, [*prefix, label])

    for definition in ast.definitions:
        if isinstance(definition, OperationDefinitionNode):
            label = definition.operation.value
            if definition.name:
                label = f"{label} {definition.name.value}"
        elif isinstance(definition, FragmentDefinitionNode):
            label = f"fragment {definition.name.value}"
        else:
            continue
        paths[id(definition)] = [label]
        walk(definition.selection_set, [label])
    return paths


class DocumentCache:
    """Parse + validate with a bounded cache keyed by the query text."""

    def __init__(self, schema: GraphQLSchema | None = None) -> None:
        self.schema = schema or trimmed_schema()
        self._cache: dict[str, Document | list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def load(self, query: str) -> Document | list[dict[str, Any]]:
        """The document, or the list of Shopify-shaped errors that reject it."""
        with self._lock:
            hit = self._cache.get(query)
        if hit is not None:
            return hit
        result = self._load(query)
        with self._lock:
            if len(self._cache) >= MAX_CACHED_DOCUMENTS:
                self._cache.clear()
            self._cache[query] = result
        return result

    def _load(self, query: str) -> Document | list[dict[str, Any]]:
        try:
            ast = parse(query)
        except GraphQLError as exc:
            locations = [{"line": loc.line, "column": loc.column} for loc in exc.locations or []]
            return [{"message": exc.message, "locations": locations, "extensions": {"code": "parseError"}}]
        errors = validate(self.schema, ast)
        if errors:
            paths = _node_paths(ast)
            return [_shopify_error(error, paths) for error in errors]
        fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
        return Document(ast, fragments)


def locations_of(node: Node) -> list[dict[str, int]]:
    if node.loc is None:
        return []
    loc = get_location(node.loc.source, node.loc.start)
    return [{"line": loc.line, "column": loc.column}]

"""What mutation resolvers get as ``info.context``, and the helpers they share."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, value_from_ast_untyped

from sandbox.shopify.ids import IdSource
from sandbox.shopify.store import ShopData

MAX_INPUT_ARRAY = 250
IDEMPOTENCY_REQUIRED = "The @idempotent directive is required for this mutation but was not provided."
IDEMPOTENCY_UNSUPPORTED = "The @idempotent directive is not supported for this mutation."

Resolver = Callable[..., dict[str, Any]]
Info = GraphQLResolveInfo[Any]


@dataclass
class Context:
    """One request's shop, id source, time, and the way to raise webhook events."""

    shop: ShopData
    ids: IdSource
    now: float
    # emit(shop, topic, payload): queue a webhook event for the shop's subscribers.
    emit: Callable[[ShopData, str, dict[str, Any]], None]


def ctx(info: Info) -> Context:
    context: Context = info.context
    return context


def user_error(field: Sequence[object], message: str, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"field": [str(part) for part in field], "message": message}
    if code is not None:
        error["code"] = code
    return error


def failed(payload_key: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {payload_key: None, "userErrors": errors}


def _oversized(value: Any, path: list[str]) -> tuple[list[str], int] | None:
    if isinstance(value, list):
        if len(value) > MAX_INPUT_ARRAY:
            return path, len(value)
        items: list[tuple[str, Any]] = [(str(i), v) for i, v in enumerate(value)]
    elif isinstance(value, dict):
        items = list(value.items())
    else:
        return None
    for key, item in items:
        found = _oversized(item, [*path, key])
        if found:
            return found
    return None


def limit_inputs(resolver: Resolver) -> Resolver:
    """Reject input arrays over Shopify's 250-item limit before the mutation acts."""

    def checked(info: Info, **args: Any) -> dict[str, Any]:
        found = _oversized(args, [])
        if found:
            path, size = found
            raise GraphQLError(
                f"The input array size of {size} is greater than the maximum allowed of {MAX_INPUT_ARRAY}.",
                extensions={"code": "MAX_INPUT_SIZE_EXCEEDED", "argumentPath": path},
            )
        return resolver(info, **args)

    return checked


def idempotency_key(info: Info) -> str | None:
    for directive in info.field_nodes[0].directives or ():
        if directive.name.value == "idempotent":
            for arg in directive.arguments or ():
                if arg.name.value == "key":
                    variables: dict[str, Any] = getattr(info.variable_values, "coerced", {})
                    value = value_from_ast_untyped(arg.value, variables)
                    return str(value) if value is not None else None
    return None


def idempotent(name: str, payload_key: str, resolver: Resolver) -> Resolver:
    """Require ``@idempotent(key:)``; a repeated key answers the first result and does not act again."""

    def guarded(info: Info, **args: Any) -> dict[str, Any]:
        key = idempotency_key(info)
        if not key:
            raise GraphQLError(IDEMPOTENCY_REQUIRED, extensions={"code": "BAD_REQUEST"})
        shop = ctx(info).shop
        fingerprint = json.dumps(args, sort_keys=True, default=str)
        stored = shop.idempotency.get(key)
        if stored is not None:
            if stored[:2] != (name, fingerprint):
                message = "The same idempotency key cannot be used with different operation parameters."
                return failed(payload_key, [user_error([], message, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")])
            replay: dict[str, Any] = stored[2]
            return replay
        payload = resolver(info, **args)
        shop.idempotency[key] = (name, fingerprint, payload)
        return payload

    return guarded


def not_idempotent(resolver: Resolver) -> Resolver:
    """Refuse ``@idempotent`` on a mutation whose description documents no idempotency (the
    directive is "only supported on mutations that explicitly document idempotency support")."""

    def guarded(info: Info, **args: Any) -> dict[str, Any]:
        if any(d.name.value == "idempotent" for d in info.field_nodes[0].directives or ()):
            raise GraphQLError(IDEMPOTENCY_UNSUPPORTED, extensions={"code": "BAD_REQUEST"})
        return resolver(info, **args)

    return guarded

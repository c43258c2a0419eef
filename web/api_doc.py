"""The API's OpenAPI document, generated from the typed views of /api/v1 (spectree).

Each API view is decorated with :func:`operation`: its request models (``web.api_models``)
are parsed before the view runs (a refusal is a 400 ``{"error": "..."}`` naming the field,
raised as ``web.edge.InputError``), and its answers, with every error status the edge and the
view can give, go into the document. The document lists only decorated views; a test fails
when a route under /api/v1 is missing from it.

spectree runs inside the existing blueprint: the URL rules (``<int:...>``, ``<bigid:...>``),
``web.edge``'s checks (413, 415, bad text) and ``web.api.authenticated`` stay as they are.
Response models are not re-validated at run time (the answers are built by the domain
functions; the API tests and the schemathesis run hold them to the document).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, current_app
from pydantic import BaseModel, ValidationError
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData
from spectree.plugins.base import Context
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.utils import is_list_item

from web.api_models import Checked, Error
from web.edge import MAX_BIG_ID, MAX_ID, InputError

F = TypeVar("F", bound=Callable[..., Any])

BEARER: dict[str, list[str]] = {"bearer": []}  # the operation needs a token
ERRORS = {
    400: "bad input: the message names the parameter or field",
    401: "missing, invalid or revoked bearer token",
    404: "not found (another merchant's id is not found either)",
    413: "the body is larger than the limit",
    415: "the body is not JSON (send Content-Type: application/json)",
}
# What a URL rule's converter admits (web/edge.py): a larger id is simply not found.
_PATH_SCHEMAS = {
    "int": {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_ID},
    "bigid": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIG_ID},
    "default": {"type": "string", "minLength": 1},
}


def _parse(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message = model.refusal(exc) if issubclass(model, Checked) else str(exc)
        raise InputError(message) from None


class _Plugin(FlaskPlugin):
    """spectree's Flask plugin with Waybill's edge: refusals are ``{"error": "..."}`` 400s with
    the view's own words, a query keeps Flask's reading (first value unless the field is a
    list), and path parameters say what the bounded converters admit."""

    def request_validation(
        self, request: Any, query: Any, json: Any, form: Any, headers: Any, cookies: Any
    ) -> None:
        parsed_query = parsed_json = parsed_headers = None
        if query is not None:
            args = request.args
            parsed_query = _parse(
                query, {k: args.getlist(k) if is_list_item(k, query) else args.get(k) for k in args}
            )
        if headers is not None:
            parsed_headers = _parse(headers, dict(request.headers.items()))
        if json is not None and request.method not in ("GET", "DELETE"):
            body = request.get_json(silent=True)
            if body is None and getattr(json, "empty_is_object", False):
                body = {}
            parsed_json = _parse(json, body)
        request.context = Context(parsed_query, parsed_json, None, parsed_headers, None)

    def validate_response(self, resp: Any, resp_model: Any, skip_validation: bool, force: bool) -> Any:
        return super().validate_response(resp, resp_model, True, force)

    def parse_path(
        self, route: Any, path_parameter_descriptions: Mapping[str, str] | None
    ) -> tuple[str, list[dict[str, Any]]]:
        path, parameters = super().parse_path(route, path_parameter_descriptions)
        kinds = {arg: conv.__class__.__name__ for arg, conv in route._converters.items()}
        for param in parameters:
            kind = kinds.get(param["name"], "")
            if kind == "BigIdConverter":
                param["schema"] = dict(_PATH_SCHEMAS["bigid"])
            elif kind == "BoundedIntConverter":
                param["schema"] = dict(_PATH_SCHEMAS["int"])
            else:
                param["schema"] = dict(_PATH_SCHEMAS["default"])
            if not param.get("description"):
                param.pop("description", None)
        return path, parameters


spec = SpecTree(
    "flask",
    backend=_Plugin,
    mode="strict",
    title="Waybill API",
    version="1",
    description=(
        "Order operations for Shopify and WooCommerce merchants. Authenticate with "
        "`Authorization: Bearer <token>` (a merchant's token: `waybill accounts token NAME`). "
        'Every error answers `{"error": "..."}`.'
    ),
    security_schemes=[
        SecurityScheme(
            name="bearer",
            data=SecuritySchemeData(
                type=SecureType.HTTP,
                scheme="bearer",
                description="a merchant's API token (waybill accounts token NAME)",
            ),
        )
    ],
    validation_error_status=400,
    validation_error_model=Error,
    naming_strategy=lambda model: model.__name__,  # the models' names are unique in web/api_models.py
    nested_naming_strategy=lambda _parent, child: child,
    annotations=True,
)


def operation(
    ok: type[BaseModel] | None,
    *,
    status: int = 200,
    also: Mapping[int, tuple[type[BaseModel] | None, str]] | None = None,
    refusals: Mapping[int, str] | None = None,
    public: bool = False,
    query: type[BaseModel] | None = None,
    json: type[BaseModel] | None = None,
    headers: type[BaseModel] | None = None,
    ok_words: str = "ok",
    tag: str = "",
) -> Callable[[F], F]:
    """Document a view and parse its request: ``ok`` answers ``status``; ``also`` other
    successful answers; ``refusals`` the view's own error statuses (409, 422...) with what
    they mean. 400, 401 (unless ``public``), 404 (for ids in the path or when listed), 413 and
    415 (with a body) are added for every operation, as the edge answers them."""
    codes: dict[str, Any] = {f"HTTP_{status}": (ok, ok_words)}
    for code, (model, words) in (also or {}).items():
        codes[f"HTTP_{code}"] = (model, words)
    errors = {400: ERRORS[400]}
    if not public:
        errors[401] = ERRORS[401]
    errors[404] = ERRORS[404]
    if json is not None:
        errors[413], errors[415] = ERRORS[413], ERRORS[415]
    errors.update(refusals or {})
    for code, words in errors.items():
        codes[f"HTTP_{code}"] = (Error, words)
    return spec.validate(  # type: ignore[no-any-return]
        query=query,
        json=json,
        headers=headers,
        resp=Response(**codes),
        security=None if public else BEARER,
        tags=(tag,) if tag else (),
    )


_lock = threading.Lock()


def document(app: Flask | None = None) -> dict[str, Any]:
    """The OpenAPI document of this app's /api/v1 (built once per app)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get("waybill.openapi")
    if cached is None:
        with _lock, app.app_context():
            models = copy.deepcopy(spec.models)  # generating moves the nested models out of them
            try:
                cached = _tidy(spec._generate_spec())
            finally:
                spec.models = models
            if not cached.get("tags"):
                cached.pop("tags", None)
            if not cached.get("security"):
                cached.pop("security", None)
            app.extensions["waybill.openapi"] = cached
    return dict(cached)


def _tidy(doc: dict[str, Any]) -> dict[str, Any]:
    """Leave out what says nothing: empty descriptions, pydantic's titles and null defaults of
    parameters (a parameter's name says it)."""
    for item in doc["paths"].values():
        for op in item.values():
            if not op.get("description"):
                op.pop("description", None)
            for param in op.get("parameters", []):
                param["schema"].pop("title", None)
                if param["schema"].get("default", 0) is None:
                    del param["schema"]["default"]
                if not param.get("description"):
                    param.pop("description", None)
    _drop_null_defaults(doc["components"]["schemas"])
    return doc


def _drop_null_defaults(tree: Any) -> None:
    """``"default": null`` on an optional field only says it may be absent (not required says
    that); on a field typed without null it would contradict the type."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "default" in node and node["default"] is None:
                del node["default"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def forget(app: Flask) -> None:
    """Build the document again on the next request (after a route was added at run time)."""
    app.extensions.pop("waybill.openapi", None)


__all__ = ["document", "forget", "operation", "spec"]

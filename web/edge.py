"""The HTTP edge every route shares: bounded ids in URLs, JSON errors under /api/v1, input
checks before a view runs, and request metrics under bounded labels.

``init_app`` is called once by ``create_app``, before the blueprints are registered (the
bounded ``int`` converter must be in place when their rules are compiled).

What a client sends never reaches the database unchecked:

* ``<int:...>`` in a route matches 0 .. 2**31-1 only (most ids are INTEGER columns in
  PostgreSQL), ``<bigid:...>`` 0 .. 2**63-1 (BIGINT ids: orders); a larger number is
  simply not found (404), never an overflow.
* Under /api/v1, strings in the path, the query and a JSON body may not hold NUL or an
  unpaired surrogate (PostgreSQL and UTF-8 refuse both); numbers in a body must be finite
  and fit 64 bits; a body is JSON (``application/json``), at most ``MAX_DEPTH`` levels deep.
  Each refusal is a 400 naming the parameter or field.
* Every error under /api/v1 (400, 401, 404, 405, 413, 415, 500, 503) is ``{"error": "..."}``.

A request that fails because the database (or Redis) cannot serve it now is a 503 with
``Retry-After`` on every route, logged as one line without a traceback: JSON under
/api/v1, a short page elsewhere. It is never a 500: nothing is wrong with the request.
"""

from __future__ import annotations

import math
import time
from typing import Any

import psycopg
import redis.exceptions
import structlog
from flask import Flask, Response, g, jsonify, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter, Map

from sync.outage import DATABASE, database_error, down_service
from telemetry import count_request
from webhooks.router import RETRY_AFTER_S, request_id

API_PREFIX = "/api/v1"
MAX_ID = 2**31 - 1  # the largest INTEGER id PostgreSQL holds (stores, exports, shipments...)
MAX_BIG_ID = 2**63 - 1  # the largest BIGINT id (orders, timeline entries, movements)
MAX_DEPTH = 32  # nesting of a JSON body
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What a backing service raises when it is down or cannot serve the request now.
_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,  # OperationalError, InterfaceError, a dead connection of any kind
    sa_exc.TimeoutError,  # no pooled connection came free in time
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

log = structlog.get_logger("waybill.web")


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` limited to what an INTEGER id can be: anything larger does not match (404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class BigIdConverter(IntegerConverter):
    """``<bigid:...>`` for BIGINT ids (orders): at most 2**63-1, anything larger is not found."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_BIG_ID)
        super().__init__(map, *args, **kwargs)


class InputError(BadRequest):
    """A 400 whose message says which parameter or field is wrong and how."""

    def __init__(self, message: str) -> None:
        super().__init__(description=message)


def parse_id(text: str, largest: int = MAX_ID) -> int | None:
    """An id written as decimal digits, or ``None`` when it is not one (or beyond ``largest``)."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= largest else None


def is_api() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["bigid"] = BigIdConverter
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
    for error in _UNAVAILABLE:
        app.register_error_handler(error, _unavailable)
    app.before_request(_start)
    app.before_request(_check_api_input)
    app.after_request(_finish)


# --- errors ------------------------------------------------------------------------------


def error_response(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def _message(exc: HTTPException) -> str:
    # A description passed by our code says what is wrong; werkzeug's stock sentences do not.
    default = type(exc).description
    if exc.description and exc.description != default:
        return str(exc.description)
    return (exc.name or "error").lower()


def _http_error(exc: HTTPException) -> Any:
    if exc.code is None or not is_api():
        return exc  # pages outside the API keep Flask's answers
    response = error_response(exc.code, _message(exc))
    for name, value in exc.get_headers():  # keep Allow on a 405
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _server_error(exc: InternalServerError) -> Any:
    if not is_api():
        return exc
    return error_response(500, "internal error")


def _unavailable(exc: Exception) -> Any:
    service = down_service(exc)
    if service is None:
        if not database_error(exc):
            raise exc  # a database error that is a bug (a constraint, bad SQL): Flask's 500
        service = DATABASE
    endpoint = request.endpoint or "unmatched"
    log.error("http.unavailable", service=service, error=type(exc).__name__, endpoint=endpoint)
    message = f"temporarily unavailable: the {service} cannot be reached; try again shortly"
    if is_api():
        response = error_response(503, message)
    else:
        response = Response(f"503 Service Unavailable: {message}.\n", 503, mimetype="text/plain")
    response.headers["Retry-After"] = RETRY_AFTER_S
    return response


# --- input checks ------------------------------------------------------------------------


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


def _check_api_input() -> None:
    if not is_api():
        return
    problem = _bad_text(request.path)
    if problem:
        raise InputError(f"the path {problem}")
    for name, values in request.args.lists():
        for value in (name, *values):
            problem = _bad_text(value)
            if problem:
                raise InputError(f"query parameter {_shown(name)} {problem}")
    if request.method in _BODY_METHODS:
        _check_body()


def _check_body() -> None:
    raw = request.get_data(cache=True)  # past MAX_CONTENT_LENGTH this raises 413
    if not raw.strip():
        return  # no body: the view says what it needs
    if not request.is_json:
        raise _unsupported()
    try:
        body = request.get_json()
    except RecursionError:
        raise InputError(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except BadRequest:
        raise InputError("the body is not valid JSON (expected a JSON object)") from None
    _check_value(body)


def _unsupported() -> HTTPException:
    from werkzeug.exceptions import UnsupportedMediaType

    return UnsupportedMediaType(description="send the body as JSON (Content-Type: application/json)")


def _check_value(body: Any) -> None:
    """Walk a parsed body without recursion; the first bad value raises, naming its field."""
    stack: list[tuple[str, Any, int]] = [("", body, 0)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"the body is nested deeper than {MAX_DEPTH} levels")
        field = where or "the body"
        if isinstance(value, str):
            problem = _bad_text(value)
            if problem:
                raise InputError(f"field {_shown(field)} {problem}")
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_BIG_ID:
                raise InputError(f"field {_shown(field)} is out of range (at most 2**63-1)")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InputError(f"field {_shown(field)} must be a finite number")
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = _bad_text(key)
                if problem:
                    raise InputError(f"a field name in {_shown(field)} {problem}")
                stack.append((f"{where}.{key}" if where else key, item, depth + 1))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item, depth + 1) for i, item in enumerate(value))


def _shown(name: str) -> str:
    """A client-supplied name, safe to echo: printable and short."""
    clean = "".join(c if c.isprintable() and not _bad_text(c) else "?" for c in name)
    return repr(clean[:64] + ("..." if len(clean) > 64 else ""))


# --- request ids and metrics -------------------------------------------------------------


def _start() -> None:
    g.started = time.perf_counter()
    g.request_id = request_id(request.headers.get("X-Request-Id", ""))
    structlog.contextvars.bind_contextvars(request_id=g.request_id)


def _finish(response: Response) -> Response:
    count_request(request.method, request.endpoint, response.status_code)
    response.headers["X-Request-Id"] = g.get("request_id", "")
    structlog.contextvars.unbind_contextvars("request_id")
    return response

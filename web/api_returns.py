"""Returns in the JSON API: list by state, read one, ask for one for a customer (the
merchant's door), and the merchant's steps: override a refusal, receive and inspect the
parcel, approve or reject a held return, close one.

Routes join the API blueprint of web/api.py; each is listed in web/openapi.py. Everything
is looked up in the caller's account only: another merchant's return or order is not
found, exactly like an unknown id. The work is ``sync.returns``' (requests, inspection,
desk); its refusals (NotFound, Conflict, InvalidInput) are answered by web/errors.py.
The actor kept on the order's timeline is the body's ``actor``, else the account's name.
A ``POST /returns`` lands once per ``Idempotency-Key`` (201 the first time, 200 after).
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import g, jsonify, request
from sqlalchemy import select

from core.errors import InvalidInput
from db.models import Return
from sync.returns import desk
from sync.returns.inspection import receive as receive_return
from sync.returns.requests import close as close_return
from sync.returns.requests import override as override_return
from sync.returns.requests import request_return
from web.api import authenticated, bp, runtime
from web.edge import MAX_BIG_ID

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ACTOR_INPUT = 64  # characters of the body's actor
MAX_KEY_INPUT = 100  # characters of an Idempotency-Key
DEFAULT_LIMIT = 100


def _body(shape: str) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidInput(f"expected a JSON object: {shape}")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    return value or ""


def _actor(body: dict[str, Any]) -> str:
    actor = body.get("actor")
    if actor is not None and (not isinstance(actor, str) or len(actor) > MAX_ACTOR_INPUT):
        raise InvalidInput(f"actor must be text of at most {MAX_ACTOR_INPUT} characters")
    return actor.strip() if isinstance(actor, str) and actor.strip() else str(g.account_name)


def _query_limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise InvalidInput("limit must be a whole number")
    return min(max(int(text), 1), desk.MAX_LIST)


def _query_held() -> bool | None:
    raw = request.args.get("held")
    if raw in (None, ""):
        return None
    if raw not in ("true", "false"):
        raise InvalidInput("held must be true or false")
    return raw == "true"


@bp.get("/returns")
@authenticated
def returns_list() -> Any:
    """The account's returns, newest first: ?state= one state, ?held=true those waiting for a person."""
    rows = desk.list_returns(
        runtime(),
        g.account_id,
        state=request.args.get("state") or None,
        held=_query_held(),
        limit=_query_limit(),
    )
    return jsonify(returns=rows)


@bp.get("/returns/<int:return_id>")
@authenticated
def returns_show(return_id: int) -> Any:
    return jsonify(desk.show(runtime(), g.account_id, return_id))


def _order_id(body: dict[str, Any]) -> int:
    value = body.get("order_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_BIG_ID:
        raise InvalidInput("order_id must be the id of one of your orders")
    return value


def _request_key() -> tuple[str, bool]:
    """(the request's key, whether the client gave it)."""
    raw = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(raw) > MAX_KEY_INPUT:
        raise InvalidInput(f"{IDEMPOTENCY_HEADER} is at most {MAX_KEY_INPUT} characters")
    return (f"api:{raw}", True) if raw else (f"api:{secrets.token_urlsafe(18)}", False)


@bp.post("/returns")
@authenticated
def returns_create() -> Any:
    """Ask for a return on a customer's behalf: decided by the policy at once (approved or
    refused with its rules); 201, or 200 when this Idempotency-Key already asked."""
    body = _body("{order_id, items: [{line_id, quantity, reason, note, exchange_sku}], resolution, actor}")
    order_id, actor = _order_id(body), _actor(body)
    items = body.get("items")
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise InvalidInput("items must be a list of {line_id, quantity, reason} objects")
    resolution = body.get("resolution", "refund")
    if not isinstance(resolution, str):
        raise InvalidInput("resolution must be refund or exchange")
    key, given = _request_key()
    rt = runtime()
    with rt.session() as s:
        existed = given and s.scalar(
            select(Return.id).where(Return.account_id == g.account_id, Return.key == key)
        )
    made = request_return(
        rt,
        account_id=g.account_id,
        order_id=order_id,
        asks=items,
        source="merchant",
        key=key,
        actor=actor,
        resolution=resolution,
    )
    return jsonify(desk.show(rt, g.account_id, made.id)), 200 if existed else 201


@bp.post("/returns/<int:return_id>/override")
@authenticated
def returns_override(return_id: int) -> Any:
    """A refused return approved by the merchant, with a note (required); 409 when not refused."""
    body = _body("{note, actor}")
    override_return(runtime(), g.account_id, return_id, _actor(body), _text(body, "note"))
    return jsonify(desk.show(runtime(), g.account_id, return_id))


@bp.post("/returns/<int:return_id>/receive")
@authenticated
def returns_receive(return_id: int) -> Any:
    """The parcel received and inspected: a condition for each item id, the weight if weighed."""
    body = _body("{conditions: {item id: condition}, weight_oz, actor}")
    conditions = body.get("conditions")
    if not isinstance(conditions, dict) or not all(isinstance(v, str) for v in conditions.values()):
        raise InvalidInput("conditions must map each item id to resellable, damaged, wrong_item or missing")
    weight = body.get("weight_oz")
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int | float | str)):
        raise InvalidInput("weight_oz must be a number of ounces")
    receive_return(runtime(), g.account_id, return_id, conditions, weight, _actor(body))
    return jsonify(desk.show(runtime(), g.account_id, return_id))


@bp.post("/returns/<int:return_id>/approve")
@authenticated
def returns_approve(return_id: int) -> Any:
    """A held return released: its refund or exchange goes ahead on its evidence."""
    body = _body("{reason, actor}")
    desk.approve(runtime(), g.account_id, return_id, _actor(body), _text(body, "reason"))
    return jsonify(desk.show(runtime(), g.account_id, return_id))


@bp.post("/returns/<int:return_id>/reject")
@authenticated
def returns_reject(return_id: int) -> Any:
    """A held return refused: no refund, the return closed."""
    body = _body("{reason, actor}")
    desk.reject(runtime(), g.account_id, return_id, _actor(body), _text(body, "reason"))
    return jsonify(desk.show(runtime(), g.account_id, return_id))


@bp.post("/returns/<int:return_id>/close")
@authenticated
def returns_close(return_id: int) -> Any:
    """Close a return that is not finished (the customer cancelled, or the merchant gives up)."""
    body = _body("{reason, actor}")
    close_return(runtime(), g.account_id, return_id, _actor(body), _text(body, "reason"))
    return jsonify(desk.show(runtime(), g.account_id, return_id))

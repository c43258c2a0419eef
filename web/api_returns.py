"""Returns in the JSON API: list by state, read one, ask for one for a customer (the
merchant's door), and the merchant's steps: override a refusal, receive and inspect the
parcel, approve or reject a held return, close one.

Routes join the API blueprint of web/api.py; each is typed by web/api_models.py, which makes
the OpenAPI document (web/api_doc.py). Everything
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
from core.returns import Condition
from db.models import Return
from sync.returns import desk
from sync.returns.inspection import receive as receive_return
from sync.returns.requests import close as close_return
from sync.returns.requests import override as override_return
from sync.returns.requests import request_return
from web import api_models as m
from web.api import authenticated, bp, runtime
from web.api_doc import operation

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_INPUT = 100  # characters of an Idempotency-Key
DEFAULT_LIMIT = 100


def _actor(actor: str | None) -> str:
    """Who acted: the body's actor, else the account's name."""
    return actor.strip() if actor and actor.strip() else str(g.account_name)


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
@operation(m.ReturnList, query=m.ReturnsQuery, tag="returns")
def returns_list() -> Any:
    """The account's returns, newest first.

    ?state= one state, ?held=true those waiting for a person."""
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
@operation(m.ReturnDetail, tag="returns")
def returns_show(return_id: int) -> Any:
    """One return: items, decision, evidence, label, refund and its timeline."""
    return jsonify(desk.show(runtime(), g.account_id, return_id))


def _request_key() -> tuple[str, bool]:
    """(the request's key, whether the client gave it)."""
    raw = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(raw) > MAX_KEY_INPUT:
        raise InvalidInput(f"{IDEMPOTENCY_HEADER} is at most {MAX_KEY_INPUT} characters")
    return (f"api:{raw}", True) if raw else (f"api:{secrets.token_urlsafe(18)}", False)


_DONE = "done (or already done the same way): the return"


@bp.post("/returns")
@authenticated
@operation(
    m.ReturnDetail,
    status=201,
    ok_words="applied",
    also={200: (m.ReturnDetail, "already applied under this Idempotency-Key")},
    json=m.ReturnRequest,
    headers=m.IdempotencyHeader,
    tag="returns",
)
def returns_create(json: m.ReturnRequest) -> Any:
    """Ask for a return on a customer's behalf (decided by the policy at once).

    Approved or refused with its rules; 201, or 200 when this Idempotency-Key already asked."""
    key, given = _request_key()
    rt = runtime()
    with rt.session() as s:
        existed = given and s.scalar(
            select(Return.id).where(Return.account_id == g.account_id, Return.key == key)
        )
    made = request_return(
        rt,
        account_id=g.account_id,
        order_id=json.order_id,
        asks=json.items,
        source="merchant",
        key=key,
        actor=_actor(json.actor),
        resolution=json.resolution,
    )
    return jsonify(desk.show(rt, g.account_id, made.id)), 200 if existed else 201


@bp.post("/returns/<int:return_id>/override")
@authenticated
@operation(
    m.ReturnDetail,
    json=m.ReturnNote,
    ok_words=_DONE,
    refusals={409: "the return is not refused: nothing changed"},
    tag="returns",
)
def returns_override(return_id: int, json: m.ReturnNote) -> Any:
    """Approve a refused return anyway, with a note (required); 409 when not refused."""
    override_return(runtime(), g.account_id, return_id, _actor(json.actor), json.note or "")
    return jsonify(desk.show(runtime(), g.account_id, return_id))


@bp.post("/returns/<int:return_id>/receive")
@authenticated
@operation(
    m.ReturnDetail,
    json=m.ReturnReceive,
    ok_words=_DONE,
    refusals={409: "nothing to receive in its state, or already inspected otherwise"},
    tag="returns",
)
def returns_receive(return_id: int, json: m.ReturnReceive) -> Any:
    """Receive and inspect the parcel: a condition for each item; resellable units go back to stock.

    A condition for each item id, the weight if weighed."""
    conditions: dict[int | str, Condition | str] = {k: v for k, v in json.conditions.items()}
    receive_return(runtime(), g.account_id, return_id, conditions, json.weight_oz, _actor(json.actor))
    return jsonify(desk.show(runtime(), g.account_id, return_id))


@bp.post("/returns/<int:return_id>/approve")
@authenticated
@operation(
    m.ReturnDetail,
    json=m.ReturnReason,
    ok_words=_DONE,
    refusals={409: "not held, or already decided otherwise"},
    tag="returns",
)
def returns_approve(return_id: int, json: m.ReturnReason) -> Any:
    """Release a return held for review (its refund or exchange follows its evidence)."""
    desk.approve(runtime(), g.account_id, return_id, _actor(json.actor), json.reason or "")
    return jsonify(desk.show(runtime(), g.account_id, return_id))


@bp.post("/returns/<int:return_id>/reject")
@authenticated
@operation(
    m.ReturnDetail,
    json=m.ReturnReason,
    ok_words=_DONE,
    refusals={409: "not held, or already decided otherwise"},
    tag="returns",
)
def returns_reject(return_id: int, json: m.ReturnReason) -> Any:
    """Refuse a return held for review: no refund, the return is closed."""
    desk.reject(runtime(), g.account_id, return_id, _actor(json.actor), json.reason or "")
    return jsonify(desk.show(runtime(), g.account_id, return_id))


@bp.post("/returns/<int:return_id>/close")
@authenticated
@operation(
    m.ReturnDetail,
    json=m.ReturnReason,
    ok_words=_DONE,
    refusals={409: "the return is finished (refunded or exchanged)"},
    tag="returns",
)
def returns_close(return_id: int, json: m.ReturnReason) -> Any:
    """Close a return that is not finished (the customer cancelled, or the merchant gives up)."""
    close_return(runtime(), g.account_id, return_id, _actor(json.actor), json.reason or "")
    return jsonify(desk.show(runtime(), g.account_id, return_id))

"""The JSON API under /api/v1: bearer tokens, one merchant's data per token.

Only the ``Authorization: Bearer`` header authenticates here, never the console's session
cookie; that is why these routes are exempt from CSRF tokens (``web.security``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, g, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.accounts import account_for_token, revoke_token
from db.models import ApiToken, DataExport, Store
from db.timeline import entries
from web import api_models as m
from web import errors
from web import runtime as runtime  # the api_* modules take it from here with bp
from web.api_doc import document, operation
from web.edge import error_response

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register(bp, error_response)  # domain errors raised by the API's views
F = TypeVar("F", bound=Callable[..., Any])


def _error(status: int, message: str) -> Response:
    return error_response(status, message)


def authenticated(fn: F) -> F:
    """Resolve the bearer token to ``g.account_id`` or answer 401."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "missing bearer token")
        with runtime().session() as s:
            account = account_for_token(s, token.strip())
            if account is None:
                return _error(401, "invalid or revoked token")
            g.account_id = account.id
            g.account_name = account.name
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def store_json(store: Store) -> dict[str, Any]:
    return {
        "id": store.id,
        "platform": str(store.platform),
        "domain": store.domain,
        "state": str(store.state),
        "scopes": store.scopes,
        "installed_at": store.installed_at.isoformat() if store.installed_at else None,
    }


def owned_store(s: Session, store_id: int) -> Store:
    """The store if it belongs to the caller; another merchant's id is simply not found."""
    store = s.get(Store, store_id)
    if store is None or store.account_id != g.account_id:
        abort(404)
    return store


@bp.get("/openapi.json")
@operation(m.Document, public=True, ok_words="this document", tag="documentation")
def openapi() -> Response:
    """This document (OpenAPI 3.1), generated from the API's typed models."""
    return jsonify(document())


@bp.get("/docs")
@operation(None, public=True, ok_words="an HTML page", tag="documentation")
def docs() -> Response:
    """The interactive documentation of this API (Swagger UI, served from this server)."""
    return Response(render_template("api_docs.html"), mimetype="text/html")


@bp.get("/account")
@authenticated
@operation(m.Account, tag="account")
def account() -> Response:
    """The merchant account the token belongs to."""
    return jsonify(id=g.account_id, name=g.account_name)


@bp.get("/stores")
@authenticated
@operation(m.StoreList, tag="account")
def stores() -> Response:
    """The merchant's connected stores."""
    with runtime().session() as s:
        rows = s.scalars(select(Store).where(Store.account_id == g.account_id).order_by(Store.id))
        return jsonify(stores=[store_json(r) for r in rows])


@bp.get("/stores/<int:store_id>")
@authenticated
@operation(m.Store, tag="account")
def store(store_id: int) -> Response:
    """One store."""
    with runtime().session() as s:
        return jsonify(store_json(owned_store(s, store_id)))


@bp.get("/stores/<int:store_id>/timeline")
@authenticated
@operation(m.Timeline, tag="account")
def store_timeline(store_id: int) -> Response:
    """What happened to a store, and why."""
    with runtime().session() as s:
        owned_store(s, store_id)
        rows = entries(s, g.account_id, f"store:{store_id}")
        return jsonify(
            entries=[
                {
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "reason": e.reason,
                    "data": e.data,
                }
                for e in rows
            ]
        )


@bp.get("/data-exports")
@authenticated
@operation(m.DataExportList, tag="account")
def data_exports() -> Response:
    """Privacy data requests prepared for the merchant (newest first)."""
    with runtime().session() as s:
        rows = s.scalars(
            select(DataExport).where(DataExport.account_id == g.account_id).order_by(DataExport.id.desc())
        )
        return jsonify(
            exports=[
                {
                    "id": r.id,
                    "store_id": r.store_id,
                    "request_id": r.request_id,
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows
            ]
        )


@bp.get("/data-exports/<int:export_id>")
@authenticated
@operation(m.DataExport, tag="account")
def data_export(export_id: int) -> Response:
    """One export: everything Waybill holds about that customer."""
    with runtime().session() as s:
        row = s.get(DataExport, export_id)
        if row is None or row.account_id != g.account_id:
            abort(404)
        return jsonify(id=row.id, store_id=row.store_id, request_id=row.request_id, data=row.data)


def token_json(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "prefix": row.prefix,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


@bp.get("/tokens")
@authenticated
@operation(m.ApiTokenList, tag="account")
def tokens() -> Response:
    """The account's API tokens (prefixes only, never the tokens)."""
    with runtime().session() as s:
        rows = s.scalars(select(ApiToken).where(ApiToken.account_id == g.account_id).order_by(ApiToken.id))
        return jsonify(tokens=[token_json(r) for r in rows])


@bp.post("/tokens/<int:token_id>/revoke")
@authenticated
@operation(m.ApiToken, ok_words="revoked (or already revoked): the token", tag="account")
def revoke(token_id: int) -> Response:
    """Revoke a token: it stops working at once and its console sessions end.

    Any of the account's tokens, the caller's own too."""
    with runtime().session() as s:
        row = s.get(ApiToken, token_id)
        if row is None or row.account_id != g.account_id:
            abort(404)
        revoke_token(s, row)
        s.flush()
        return jsonify(token_json(row))


@bp.errorhandler(404)
def not_found(_exc: Exception) -> Response:
    return _error(404, "not found")

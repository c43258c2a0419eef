"""The JSON API under /api/v1: bearer tokens, one merchant's data per token.

A request authenticates with the ``Authorization: Bearer`` header (a token acts as the
account's owner) or, from a browser signed in to the console, with the session cookie: then
the user's role must reach the route's least role (:func:`least_role`) and a state change
must carry the CSRF token in ``X-CSRFToken`` (checked in :func:`authenticated`, which is why
the blueprint is exempt from Flask-WTF's form check) and pass the Origin check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, g, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.accounts import account_for_token, revoke_token
from db.models import ApiToken, DataExport, Role, Store
from db.timeline import entries
from db.users import may
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


# The least role a console user signed in with the session cookie needs, per endpoint group
# (the first path segment after /api/v1; a bearer token acts as the account's owner).
OWNER_GROUPS = frozenset({"tokens", "settings", "data-exports", "trusted-customers", "users"})
PACKER_RULES = frozenset({"/api/v1/account", "/api/v1/pick-list", "/api/v1/orders/<bigid:order_id>/pack"})


def least_role(rule: str) -> Role:
    """The least role for the API route ``rule``: owner for tokens, settings and personal-data
    exports; packer for what picking and packing need; staff for the rest."""
    if rule in PACKER_RULES:
        return Role.packer
    group = rule.removeprefix(bp.url_prefix or "").strip("/").split("/")[0]
    return Role.owner if group in OWNER_GROUPS else Role.staff


def _session_caller() -> Response | None:
    """A browser signed in to the console: its live session, the role the route needs, and for
    a state change the Origin check and the CSRF token (``X-CSRFToken``); else an error."""
    from flask_wtf.csrf import ValidationError, validate_csrf

    from web.security import SAFE_METHODS, cross_site, load_console_session

    if not load_console_session():
        return _error(401, "missing bearer token")
    if request.method not in SAFE_METHODS:
        if cross_site():
            return _error(403, "this request came from another site")
        try:
            validate_csrf(request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token"))
        except ValidationError:
            return _error(400, "a signed-in browser must send the CSRF token (X-CSRFToken)")
    if not may(g.role, least_role(request.url_rule.rule if request.url_rule else "")):
        return _error(403, "your role may not do this")
    return None


def authenticated(fn: F) -> F:
    """Resolve the bearer token to ``g.account_id`` (acting as the owner), or else the console's
    live session cookie (with its user's role, and the CSRF token on a state change); or 401."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if header:
            if scheme.lower() != "bearer" or not token.strip():
                return _error(401, "missing bearer token")
            with runtime().session() as s:
                account = account_for_token(s, token.strip())
                if account is None:
                    return _error(401, "invalid or revoked token")
                g.account_id = account.id
                g.account_name = account.name
                g.role = Role.owner
        else:
            refused = _session_caller()
            if refused is not None:
                return refused
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

"""Sign-in and sign-out (the dashboard at ``/`` is web/console/dashboard.py).

A merchant user signs in with e-mail and password; an API token still signs in as the
account's owner (scripts and the first sign-in before any user exists). Signing in starts a
server-side session (``console_sessions``); the cookie keeps only its random key, and
``web.security`` checks it on every request. The login form carries a CSRF token (no
login CSRF). Sign-in and forgot-password POSTs share a rate limit per client address
(``console.sign_in_rate_limit``). While no user exists, the login page says how to
create the first owner (``./waybill users create-owner``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, redirect, request, session, url_for
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy import exists, select

from db.accounts import end_session, start_session, token_for
from db.models import User
from db.users import authenticate, start_user_session
from web import runtime
from web.console import bp, render
from web.returns_portal import limiter

F = TypeVar("F", bound=Callable[..., Any])
SIGN_IN_SCOPE = "console-sign-in"


def _sign_in_rate() -> str:
    return str(runtime().settings.console.sign_in_rate_limit)


def sign_in_limit(fn: F) -> F:
    """At most ``console.sign_in_rate_limit`` sign-in and password-reset POSTs per client
    address (one budget for both; the app's Flask-Limiter, Redis-backed in production)."""
    return limiter.shared_limit(_sign_in_rate, scope=SIGN_IN_SCOPE, methods=["POST"])(fn)  # type: ignore[return-value]


@bp.errorhandler(403)
def forbidden(_exc: Exception) -> Any:
    """A signed-in user whose role may not open the page (the navigation shows what it may)."""
    return render(
        "link_gone.html",
        403,
        heading="Not for your role",
        message="Your role may not open this page. Ask an owner of the account if you need it.",
        home=True,
    )


@bp.errorhandler(RateLimitExceeded)
def too_many(exc: RateLimitExceeded) -> Any:
    body, status = render(
        "link_gone.html",
        429,
        heading="Too many attempts",
        message="Too many attempts from here. Wait a minute, then try again.",
    )
    response = Response(body, status, mimetype="text/html")
    for name, value in exc.get_headers():
        if name.lower() == "retry-after":
            response.headers["Retry-After"] = value
    return response


def safe_next(value: str | None) -> str:
    """A path on this site to go back to after signing in (anything else goes home).

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    ``/<tab>/evil.example`` would become ``//evil.example``: no control characters, spaces
    or backslashes, and no ``//`` at the start.
    """
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith("//") or any(c <= " " or c == "\\" for c in value):
        return ""
    return value


def begin(key: str, account_id: int) -> None:
    """The browser's new session (whatever it had before is ended first: no session fixation)."""
    session.clear()
    session["sid"] = key
    session["account_id"] = account_id


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limit
def login() -> Any:
    error = None
    back = safe_next(request.values.get("next"))
    if request.method == "POST":  # CSRFProtect has checked the form's token (login CSRF)
        with runtime().session() as s:
            end_session(s, str(session.get("sid", "")))
            if request.form.get("token"):
                token = token_for(s, request.form["token"].strip())
                if token is not None:
                    begin(start_session(s, token), token.account_id)
                    return redirect(back or url_for("console.home"))
                error = "That token is not valid."
            else:
                user = authenticate(s, request.form.get("email", ""), request.form.get("password", ""))
                if user is not None:
                    begin(start_user_session(s, user), user.account_id)
                    return redirect(back or url_for("console.home"))
                error = "That e-mail and password do not match an account."
    with runtime().session() as s:  # a first run: the page tells how to create the first owner
        no_users = not s.scalar(select(exists().where(User.id.is_not(None))))
    return render("login.html", status=401 if error else 200, error=error, next=back, no_users=no_users)


@bp.post("/logout")
def logout() -> Response:
    with runtime().session() as s:
        end_session(s, str(session.get("sid", "")))
    session.clear()
    return redirect(url_for("console.login"))  # type: ignore[return-value]

"""Sign-in and sign-out (the dashboard at ``/`` is web/console/dashboard.py).

A merchant user signs in with e-mail and password; an API token still signs in as the
account's owner (scripts and the first sign-in before any user exists). Signing in starts a
server-side session (``console_sessions``); the cookie keeps only its random key, and
``web.security`` checks it on every request. The login form carries a CSRF token (no
login CSRF).
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, session, url_for

from db.accounts import end_session, start_session, token_for
from db.users import authenticate, start_user_session
from web import runtime
from web.console import bp, render


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
    return render("login.html", status=401 if error else 200, error=error, next=back)


@bp.post("/logout")
def logout() -> Response:
    with runtime().session() as s:
        end_session(s, str(session.get("sid", "")))
    session.clear()
    return redirect(url_for("console.login"))  # type: ignore[return-value]

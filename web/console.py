"""The merchant console: sign in with an API token, see your stores and your inbox.

Signing in starts a server-side session (``db.accounts.start_session``); the cookie keeps
only its random key. ``web.security`` checks that session on every request.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select

from db.accounts import end_session, start_session, token_for
from db.models import Account, InboxEvent, Store
from web import runtime

bp = Blueprint("console", __name__)

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Waybill</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}</style>
</head><body><h1>Waybill</h1>{% block body %}{% endblock %}</body></html>"""

LOGIN = PAGE.replace(
    "{% block body %}{% endblock %}",
    """
<p>Sign in with your API token (<code>./waybill accounts token NAME</code>).</p>
{% if error %}<p style="color:#b00">{{ error }}</p>{% endif %}
<form method="post" action="{{ url_for('console.login') }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input type="hidden" name="next" value="{{ next }}">
<input name="token" type="password" size="50" autofocus>
<button>Sign in</button></form>""",
)

HOME = PAGE.replace(
    "{% block body %}{% endblock %}",
    """
<form method="post" action="{{ url_for('console.logout') }}">{{ account }} &middot;
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><button>Sign out</button></form>
<h2>Stores</h2>
{% if stores %}<table><tr><th>Platform</th><th>Store</th><th>State</th></tr>{% for s in stores %}
<tr><td>{{ s.platform }}</td><td>{{ s.domain }}</td><td>{{ s.state }}</td></tr>{% endfor %}
</table>{% else %}<p>No store connected yet. Try the sandbox demo: <code>make demo</code>.</p>{% endif %}
<h3>Connect a store</h3>
<form method="post" action="{{ url_for('install.shopify_connect') }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input name="shop" placeholder="name.myshopify.com" size="40"> <button>Connect Shopify shop</button></form>
<form method="get" action="{{ url_for('install.woo_start') }}">
<input name="store_url" placeholder="https://shop.example.com" size="40">
<button>Connect WooCommerce store</button>
</form>
<h2>Inbox</h2><p>{% for state, n in inbox %}{{ state }}: {{ n }} &nbsp; {% else %}empty{% endfor %}</p>""",
)


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


def login_url(back: str) -> str:
    return url_for("console.login", next=back)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    back = safe_next(request.values.get("next"))
    if request.method == "POST":  # CSRFProtect has checked the form's token (login CSRF)
        with runtime().session() as s:
            token = token_for(s, request.form.get("token", "").strip())
            if token is not None:
                end_session(s, str(session.get("sid", "")))
                session.clear()
                session["sid"] = start_session(s, token)
                session["account_id"] = token.account_id
                return redirect(back or url_for("console.home"))
        error = "That token is not valid."
    return render_template_string(LOGIN, error=error, next=back), (401 if error else 200)


@bp.post("/logout")
def logout() -> Response:
    with runtime().session() as s:
        end_session(s, str(session.get("sid", "")))
    session.clear()
    return redirect(url_for("console.login"))  # type: ignore[return-value]


@bp.get("/")
def home() -> Any:
    account_id = session.get("account_id")  # web.security cleared it unless the session is live
    if account_id is None:
        return redirect(url_for("console.login"))
    with runtime().session() as s:
        account = s.get(Account, account_id)
        if account is None:
            session.clear()
            return redirect(url_for("console.login"))
        stores = list(s.scalars(select(Store).where(Store.account_id == account_id).order_by(Store.id)))
        inbox = list(
            s.execute(
                select(InboxEvent.state, func.count(InboxEvent.id))
                .where(InboxEvent.account_id == account_id)
                .group_by(InboxEvent.state)
            )
        )
        return render_template_string(HOME, account=account.name, stores=stores, inbox=inbox)

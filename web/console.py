"""The merchant console: sign in with an API token, see your stores and your inbox."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select

from db.accounts import account_for_token
from db.models import Account, InboxEvent, Store
from sync.runtime import Runtime

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
<form method="post"><input name="token" type="password" size="50" autofocus>
<button>Sign in</button></form>""",
)

HOME = PAGE.replace(
    "{% block body %}{% endblock %}",
    """
<p>{{ account }} &middot; <a href="{{ url_for('console.logout') }}">sign out</a></p>
<h2>Stores</h2>
{% if stores %}<table><tr><th>Platform</th><th>Store</th><th>State</th></tr>{% for s in stores %}
<tr><td>{{ s.platform }}</td><td>{{ s.domain }}</td><td>{{ s.state }}</td></tr>{% endfor %}
</table>{% else %}<p>No store connected yet. Try the sandbox demo: <code>make demo</code>.</p>{% endif %}
<h2>Inbox</h2><p>{% for state, n in inbox %}{{ state }}: {{ n }} &nbsp; {% else %}empty{% endfor %}</p>""",
)


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["waybill"]
    return rt


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        with runtime().session() as s:
            account = account_for_token(s, request.form.get("token", "").strip())
            if account is not None:
                session.clear()
                session["account_id"] = account.id
                return redirect(url_for("console.home"))
        error = "That token is not valid."
    return render_template_string(LOGIN, error=error), (401 if error else 200)


@bp.get("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("console.login"))  # type: ignore[return-value]


@bp.get("/")
def home() -> Any:
    account_id = session.get("account_id")
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

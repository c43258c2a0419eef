"""The merchant console: server-rendered pages (Jinja templates under
``web/templates/console``, htmx for partial updates, no build step) where a merchant runs
the day. One blueprint, one module per area:

- ``auth``: sign-in (e-mail and password, or an API token), sign-out;
- ``dashboard``: the dashboard at ``/``;
- ``users``: users and roles, invitations, password resets, API tokens, the Shopify
  embedded sign-in (App Bridge session tokens);
- ``orders``: the orders grid, the order page, the review queue;
- ``packing``: pick list, scan-to-pack, batch label printing;
- ``stock``, ``exceptions``, ``returns``, ``stores``, ``jobs``, ``settings``.

Every page states the least role that may open it with :func:`page` (a packer may only
pick, pack and print). ``web.security`` has checked the session before a view runs and
set ``g.account_id``, ``g.role``, ``g.user_id`` and ``g.actor`` (the timeline's name for
who acted). Every state change is a POST with the CSRF token (forms carry it; htmx sends
it from the page's meta tag).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from db.models import Role
from db.users import may

bp = Blueprint(
    "console",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/app/static",
)
F = TypeVar("F", bound=Callable[..., Any])

# The navigation: (endpoint, label, least role). An entry shows when its page exists and
# the signed-in role may open it.
NAV: list[tuple[str, str, Role]] = [
    ("console.home", "Dashboard", Role.packer),
    ("console.orders", "Orders", Role.staff),
    ("console.review", "Review", Role.staff),
    ("console.pick", "Pick & pack", Role.packer),
    ("console.labels", "Labels", Role.packer),
    ("console.stock", "Stock", Role.staff),
    ("console.exceptions", "Exceptions", Role.staff),
    ("console.returns", "Returns", Role.staff),
    ("console.stores", "Stores", Role.staff),
    ("console.jobs", "Failed jobs", Role.staff),
    ("console.settings", "Settings", Role.owner),
    ("console.users", "Users", Role.owner),
]


def login_url(back: str) -> str:
    return url_for("console.login", next=back) if back not in ("", "/") else url_for("console.login")


PAGE, FRAGMENT, FILE = "page", "fragment", "file"


def page(role: Role | str = Role.staff, kind: str = PAGE) -> Callable[[F], F]:
    """A console view for signed-in users of at least ``role``: others are sent to sign in
    (no session) or refused with 403 (a lesser role).

    ``kind`` says what it answers: a whole ``page``, a ``fragment`` htmx swaps into one, or a
    ``file`` (a PDF); the accessibility sweep and the console benchmark read it."""

    def decorate(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if getattr(g, "account_id", None) is None:
                if request.method == "GET":
                    return redirect(login_url(request.full_path.rstrip("?")))
                abort(401)
            if not may(g.role, role):
                abort(403)
            return fn(*args, **kwargs)

        wrapper.least_role = Role(role)  # type: ignore[attr-defined]
        wrapper.kind = kind  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def nav() -> list[tuple[str, str, bool]]:
    """The navigation for the signed-in role: (url, label, current)."""
    role = getattr(g, "role", None)
    if role is None:
        return []
    views = current_app.view_functions
    return [
        (url_for(endpoint), label, request.endpoint == endpoint)
        for endpoint, label, least in NAV
        if endpoint in views and may(role, least)
    ]


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """A console template (``console/<template>``) with the layout's context."""
    partial = request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") is not None
    return render_template(f"console/{template}", nav=nav(), partial=partial, **context), status


@bp.app_context_processor
def _layout() -> dict[str, Any]:
    return {"console_nav": nav, "signed_in_as": getattr(g, "actor", None), "role": getattr(g, "role", None)}


def _register_areas() -> None:
    from web.console import (  # noqa: F401  (routes register on bp)
        auth,
        dashboard,
        exceptions,
        jobs,
        orders,
        packing,
        returns,
        settings,
        stock,
        stores,
        users,
    )


_register_areas()

"""Browser-facing protections, set up by :func:`init_security` from ``create_app``.

- CSRF: every state-changing request carries a token (Flask-WTF's CSRFProtect), the
  console login included. Exempt from Flask-WTF's form check is only what a browser
  cookie does not authenticate, or what checks the token itself: the webhook receivers
  (mounted ahead of Flask, so they never get here), the JSON API under /api/v1 (a bearer
  token; a request authenticated by the session cookie instead must carry ``X-CSRFToken``
  and pass the Origin check, both enforced in ``web.api.authenticated``), the Shopify
  session-token entry (``POST /app/session-token``, authenticated by the Shopify-signed
  token in its header) and WooCommerce's server-to-server key callback (bound to its
  install by a signed token).
- Origin: a POST whose ``Origin`` (or, without one, ``Referer``) names another site is
  refused before anything runs.
- Console sessions: a signed-in cookie is honoured only while its server-side record
  (``console_sessions``) is live: not signed out, its API token not revoked, within the
  idle and absolute lifetimes (``console`` in config.yaml). Otherwise the cookie is
  cleared and the browser is simply signed out.
- Headers: a Content-Security-Policy that forbids framing (``frame-ancestors 'none'``)
  except on the Shopify embedded app entry for a request Shopify signed for a shop, and on
  every response of a console session signed in by a Shopify session token
  (``embedded_shop``): those are framed only by that shop's admin
  (``https://<shop> https://admin.shopify.com``), ``X-Content-Type-Options: nosniff``, and HSTS
  when the public URL is https.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog
from flask import Flask, Response, g, render_template_string, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from connectors.shopify import oauth
from db.accounts import live_session
from db.models import Account, ApiToken, Role, User
from web import runtime

csrf = CSRFProtect()
log = structlog.get_logger("waybill.security")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Endpoints no browser cookie authenticates (see the module docstring).
CSRF_EXEMPT_BLUEPRINTS = frozenset({"api"})
CSRF_EXEMPT_ENDPOINTS = frozenset({"install.woo_callback"})
# The app URL Shopify opens inside the shop admin (signed with the shop's query HMAC).
EMBEDDED_ENTRY_ENDPOINTS = frozenset({"install.shopify_start"})
SHOPIFY_ADMIN = "https://admin.shopify.com"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'"
)
HSTS = "max-age=31536000"

REFUSED = """<!doctype html><html><head><meta charset="utf-8"><title>Waybill</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto">
<h1>Refused</h1><p>{{ message }}</p><p><a href="/">Back to Waybill</a></p></body></html>"""


def init_security(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a token lives as long as its session
    app.before_request(_check_origin)  # first: a cross-site POST is refused before anything else
    csrf.init_app(app)
    from web import api, install

    csrf.exempt(api.bp)
    csrf.exempt(install.woo_callback)
    app.before_request(_check_console_session)
    app.after_request(_headers)
    app.session_interface = EmbeddableSessionInterface()
    app.register_error_handler(CSRFError, _csrf_refused)


def _exempt() -> bool:
    return request.blueprint in CSRF_EXEMPT_BLUEPRINTS or request.endpoint in CSRF_EXEMPT_ENDPOINTS


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _ours() -> set[str | None]:
    return {_origin(runtime().settings.public_url), _origin(request.host_url)} - {None}


def _check_origin() -> Any:
    """Refuse a cross-site POST by its Origin (or Referer) before any handler runs."""
    if request.method in SAFE_METHODS or _exempt():
        return None
    if request.url_rule is None:
        return None  # no route: nothing to protect; the answer is the routing's 404 or 405
    if cross_site():
        return _refused("This request came from another site.", 403)
    return None


def cross_site() -> bool:
    """Whether the request's Origin (or, without one, Referer) names another site."""
    given = request.headers.get("Origin")
    if given is None and request.headers.get("Referer"):
        given = request.headers["Referer"]
    if given is None:
        return False  # not a browser (browsers send Origin on every POST); the CSRF token still applies
    if _origin(given) not in _ours():
        log.warning("security.cross_site_post", path=request.path, origin=_origin(given) or "unparsable")
        return True
    return False


def _check_console_session() -> None:
    """A signed-in cookie counts only while its server-side session is live."""
    if "account_id" not in session or request.blueprint in CSRF_EXEMPT_BLUEPRINTS:
        return  # the JSON API reads the cookie only in web.api.authenticated (load_console_session)
    load_console_session()


def load_console_session() -> bool:
    """Set ``g.account_id``, ``g.role``, ``g.user_id``, ``g.actor`` and ``g.embedded_shop`` from
    the browser's live console session; a dead one clears the cookie. Whether it is live."""
    if "account_id" not in session:
        return False
    rt = runtime()
    idle = timedelta(minutes=rt.settings.console.session_idle_minutes)
    lifetime = timedelta(hours=rt.settings.console.session_max_hours)
    with rt.session() as s:
        row = live_session(s, str(session.get("sid", "")), idle, lifetime)
        valid = row is not None and row.account_id == session.get("account_id")
        if valid and row is not None:
            account = s.get(Account, row.account_id)
            user = s.get(User, row.user_id) if row.user_id is not None else None
            token = s.get(ApiToken, row.token_id) if row.token_id is not None else None
            g.account_name = account.name if account is not None else ""
            g.user_id = user.id if user is not None else None
            g.role = user.role if user is not None else Role.owner  # an API token acts as the owner
            g.actor = (
                f"user:{user.email or user.name or user.id}"
                if user is not None
                else f"token:{token.prefix if token is not None else row.token_id}"
            )
            g.embedded_shop = row.embedded_shop
    if not valid:
        session.clear()
        return False
    g.account_id = session["account_id"]
    return True


def _csrf_refused(exc: CSRFError) -> tuple[str, int]:
    log.warning("security.csrf_refused", path=request.path, reason=exc.description)
    return _refused(
        f"The form was refused ({exc.description.rstrip('.')}). Reload the page and try again.", 400
    )


def _refused(message: str, status: int) -> tuple[str, int]:
    return render_template_string(REFUSED, message=message), status


class EmbeddableSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, with one difference for a session signed in inside Shopify
    admin's frame (``session["embedded"]``): over https its cookie is ``SameSite=None;
    Secure; Partitioned``, so the browser sends it to Waybill inside admin.shopify.com (a
    ``Lax`` cookie is not sent to a cross-site frame) and keeps it in that top site's
    partition (CHIPS). Every other session keeps ``SameSite=Lax``. Over plain http (local
    development) ``SameSite=None`` is not possible: the embedded cookie stays ``Lax``.
    """

    @staticmethod
    def _embedded(app: Flask) -> bool:
        return bool(session.get("embedded")) and bool(app.config.get("SESSION_COOKIE_SECURE"))

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "None" if self._embedded(app) else super().get_cookie_samesite(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return self._embedded(app) or super().get_cookie_partitioned(app)


def embedded_shop() -> str | None:
    """The shop of a request Shopify signed for the embedded app entry, if it is one."""
    if request.endpoint not in EMBEDDED_ENTRY_ENDPOINTS or request.method != "GET":
        return None
    secret = runtime().settings.shopify.api_secret
    params = {k: v for k, v in request.args.items()}
    shop = params.get("shop", "").lower()
    if secret is None or not params.get("hmac") or not oauth.valid_shop_domain(shop):
        return None
    if not oauth.verify_callback(params, secret.get_secret_value()):
        return None
    return shop if oauth.fresh_timestamp(params.get("timestamp"), time.time()) else None


def _headers(response: Response) -> Response:
    # Shopify's signed app entry, or a console session signed in from the shop's admin.
    shop = embedded_shop() or getattr(g, "embedded_shop", None)
    ancestors = f"https://{shop} {SHOPIFY_ADMIN}" if shop else "'none'"
    if "Content-Security-Policy" not in response.headers:  # a page may set a stricter one of its own
        response.headers["Content-Security-Policy"] = f"{CSP}; frame-ancestors {ancestors}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if runtime().settings.public_url.startswith("https://"):
        response.headers["Strict-Transport-Security"] = HSTS
    return response

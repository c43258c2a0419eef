"""The public tracking page: ``GET /t/<token>``, one shipment, no sign-in.

The token is the shipment's id signed with the secret key (``sync.tracking.links``). A
token Waybill did not sign, an altered one, or one whose shipment is gone is a 404 whose
page says nothing about which. The page shows the merchant's name and logo
(``tracking.merchants[<account name>]``: ``name``, ``logo_url``; default the account's
name and no logo), the order number and the items in the parcel (titles and quantities),
the delivery state in plain words, the estimate, the carrier's scans newest first (UTC)
and a notice while an exception is open. Never the customer's name, e-mail or address:
the destination city at most.

Server-rendered and escaped (Jinja autoescape), one stylesheet served from here, no
script and nothing from another site but the merchant's logo (the page's own
Content-Security-Policy allows exactly that origin). Answers are ``no-store``,
``noindex`` and sent without a referrer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, render_template, url_for

from core.errors import NotFound
from db.models import Account, Shipment
from sync.tracking.links import shipment_for
from sync.tracking.timeline import view_of
from web import runtime

if TYPE_CHECKING:
    from sync.runtime import Runtime

bp = Blueprint(
    "tracking_page",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/t/static",
)

RETURNS_ENDPOINT = "returns.start"  # the returns portal's entry, when there is one
HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'{logo}; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str | None


def brand_for(rt: Runtime, account_name: str) -> Brand:
    """The merchant as the page shows it; a logo that is not an absolute https URL is left out."""
    merchant = rt.settings.tracking.merchants.get(account_name)
    name = (merchant.name if merchant is not None and merchant.name else None) or account_name
    logo = merchant.logo_url if merchant is not None else None
    return Brand(name, logo if logo and _logo_origin(logo) else None)


def _logo_origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.hostname or parts.username is not None:
        return None
    if any(c in url for c in " \"'\\;,<>") or not url.isprintable():
        return None  # nothing that could end the policy's source list or the attribute
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"https://{host}" + (f":{port}" if port is not None else "")


@bp.app_template_filter("utc_time")
def utc_time(when: datetime) -> str:
    return when.strftime("%-d %b %Y, %H:%M UTC")


@bp.app_template_filter("utc_date")
def utc_date(when: datetime) -> str:
    return when.strftime("%A %-d %B %Y")


def _returns_url(token: str) -> str | None:
    """The returns portal for this parcel, once the portal exists (None until then)."""
    if RETURNS_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(RETURNS_ENDPOINT, token=token)


def _answer(body: str, status: int, logo_url: str | None = None) -> Response:
    response = Response(body, status, mimetype="text/html")
    response.headers.update(HEADERS)
    origin = _logo_origin(logo_url) if logo_url else None
    response.headers["Content-Security-Policy"] = CSP.format(logo=f" {origin}" if origin else "")
    return response


def _assets() -> dict[str, str]:
    """The page's stylesheet and icon (the icon spares the browser a request for /favicon.ico)."""
    return {
        "stylesheet": url_for("tracking_page.static", filename="tracking.css"),
        "icon": url_for("tracking_page.static", filename="parcel.svg"),
    }


def not_found() -> Response:
    return _answer(render_template("tracking/not_found.html", **_assets()), 404)


@bp.get("/t/<token>")
def page(token: str) -> Response:
    rt = runtime()
    shipment_id = shipment_for(rt, token)
    if shipment_id is None:
        return not_found()
    with rt.session() as s:
        shipment = s.get(Shipment, shipment_id)
        account = s.get(Account, shipment.account_id) if shipment is not None else None
        if shipment is None or account is None:
            return not_found()
        try:
            view = view_of(s, shipment)
        except NotFound:  # its order went while we read
            return not_found()
        brand = brand_for(rt, account.name)
    html = render_template(
        "tracking/page.html",
        view=view,
        brand=brand,
        returns_url=_returns_url(token),
        **_assets(),
    )
    return _answer(html, 200, brand.logo_url)

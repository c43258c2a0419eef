"""The public returns portal: a customer finds their order and asks to send items back.

``GET /returns`` (endpoint ``returns.start``, linked from the tracking page with the
parcel's token, which prefills the order number) asks for the order number and the e-mail
address or postcode. ``POST /returns`` looks the order up (``web.returns_lookup``); it is
rate-limited per client address (``returns.portal_rate_limit``, Flask-Limiter: memory in
embedded mode, Redis in production) and a 429 is a page that says to wait. An unknown
order and a wrong e-mail or postcode get the very same answer (status and body). A match
redirects to the order's signed page (``/returns/o/<token>``, ``sync.returns.links``):
its items with what can still be returned, a reason, a note and a photo per item, refund
or exchange for another variant of the same product; submitting it asks for the return
(``sync.returns.requests.request_return``, source ``portal``, once per form) and shows
the return's page (``/returns/r/<token>``): its state in plain words, the rule that
refused it, and the return label's link once it is bought.

Pages are server-rendered and escaped, no script, one stylesheet served from here; forms
carry a CSRF token (``web.security``); answers are ``no-store``, ``noindex``, and send a
referrer to this site only (the tokens are in the address). Never the customer's name, e-mail
or address on a page.
"""

from __future__ import annotations

import secrets
from typing import Any

import structlog
from flask import Blueprint, Flask, Response, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy import select
from werkzeug.wrappers import Response as ResponseBase

from core.errors import Refusal
from db.models import Account, Order, Return, ReturnItem, Shipment
from sync.returns.links import order_for, order_token, return_for, return_token
from sync.returns.merchant import for_account
from sync.returns.requests import close, request_return
from sync.tracking.links import shipment_for
from web import runtime
from web.returns_form import forget_photos, form_lines, read_asks, reason_words, save_photos, with_photos
from web.returns_lookup import MAX_NUMBER, find_order
from web.tracking_page import brand_for

log = structlog.get_logger("waybill.returns_portal")

bp = Blueprint(
    "returns",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/returns/static",
)

HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    # Same-origin: the tokens in our addresses never reach another site, and our own form
    # posts still carry their Origin (under no-referrer a browser sends "Origin: null",
    # which web/security.py refuses as cross-site).
    "Referrer-Policy": "same-origin",
}
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
RATE_LIMIT_SCOPE = "returns-lookup"
# A return's state as the customer reads it (a held return reads as its state: review is the merchant's).
STATE_WORDS = {
    "requested": "We have your request and will answer it shortly.",
    "approved": "Approved. Your return label is on its way.",
    "refused": "We cannot accept this return.",
    "label_sent": "Approved: your return label is ready.",
    "in_transit": "Your parcel is on its way back to us.",
    "received": "We have received your parcel.",
    "inspected": "We have checked your items.",
    "refunded": "Refunded.",
    "exchanged": "Your exchange is on its way.",
    "closed": "This return is closed.",
}


# A customer may cancel until the parcel is on its way back (the carrier's first scan).
CANCELLABLE = frozenset({"requested", "approved", "label_sent"})


SEND_IT_BACK = "Approved. Please send the items back to the address below."
ADDRESS_KEYS = ("name", "company", "street1", "street2", "city", "state", "zip", "country")


def state_words(state: str, prepaid: bool = True) -> str:
    if state == "approved" and not prepaid:
        return SEND_IT_BACK  # the merchant buys no label (returns.label: none)
    return STATE_WORDS.get(state, "We are working on your return.")


def _send_to(address: dict[str, Any]) -> list[str]:
    """The merchant's return address as lines (no phone: the page is public)."""
    lines = [str(address[k]).strip() for k in ADDRESS_KEYS if address.get(k) and str(address[k]).strip()]
    return lines


def _client() -> str:
    return request.remote_addr or "unknown"


def _rate() -> str:
    return str(runtime().settings.returns.portal_rate_limit)


# One limiter for every app (Flask-Limiter's factory pattern); init_portal gives it the app's storage.
limiter = Limiter(key_func=_client, strategy="moving-window", key_prefix="waybill-returns")


def init_portal(app: Flask) -> None:
    """The rate limiter's storage: Redis when the app has one (production), else memory."""
    redis_url = app.extensions["waybill"].settings.redis_url
    app.config["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"
    app.config["RATELIMIT_HEADERS_ENABLED"] = True  # Retry-After on the 429
    app.register_blueprint(bp)
    limiter.init_app(app)


def _answer(body: str, status: int = 200) -> Response:
    response = Response(body, status, mimetype="text/html")
    response.headers.update(HEADERS)
    response.headers["Content-Security-Policy"] = CSP
    return response


def _assets() -> dict[str, str]:
    return {
        "stylesheet": url_for("returns.static", filename="returns.css"),
        "icon": url_for("tracking_page.static", filename="parcel.svg"),
    }


def _page(template: str, status: int = 200, **context: Any) -> Response:
    words = {"state_words": state_words, "reason_words": reason_words}
    return _answer(render_template(f"returns/{template}", **context, **words, **_assets()), status)


def not_found() -> Response:
    return _page("not_found.html", 404)


@bp.errorhandler(RateLimitExceeded)
def too_many(exc: RateLimitExceeded) -> Response:
    log.info("returns.portal_rate_limited", limit=str(exc.description))
    response = _page("too_many.html", 429)
    retry = exc.get_headers()
    for name, value in retry:
        if name.lower() == "retry-after":
            response.headers["Retry-After"] = value
    return response


def _prefill(token: str | None) -> str:
    """The order number of the parcel whose tracking page linked here (its token), if any."""
    shipment_id = shipment_for(runtime(), token) if token else None
    if shipment_id is None:
        return ""
    with runtime().session() as s:
        shipment = s.get(Shipment, shipment_id)
        order = s.get(Order, shipment.order_id) if shipment is not None else None
        return order.number if order is not None and order.redacted_at is None else ""


@bp.get("/returns")
def start() -> Response:
    token = request.args.get("token") or request.args.get("t")
    return _page("start.html", number=_prefill(token), max_number=MAX_NUMBER)


@bp.post("/returns")
@limiter.limit(_rate, methods=["POST"], scope=RATE_LIMIT_SCOPE)
def lookup() -> ResponseBase:
    number = request.form.get("number", "")
    contact = request.form.get("contact", "")
    with runtime().session() as s:
        found = find_order(s, number, contact)
    if found is None:
        return _page("no_match.html", 404)  # the same for an unknown order and a wrong contact
    return redirect(url_for("returns.order", token=order_token(runtime(), found.order_id)), 303)


def _order_context(order_id: int) -> dict[str, Any] | None:
    """What the order page shows; None when the order is gone or erased."""
    rt = runtime()
    with rt.session() as s:
        order = s.get(Order, order_id)
        account = s.get(Account, order.account_id) if order is not None else None
        if order is None or account is None or order.redacted_at is not None:
            return None
        merchant = for_account(rt, s, account.id)
        returns = s.scalars(select(Return).where(Return.order_id == order.id).order_by(Return.id)).all()
        return {
            "brand": brand_for(rt, account.name),
            "number": order.number,
            "lines": form_lines(s, order),
            "policy": merchant.policy,
            "prepaid": merchant.prepaid,
            "returns": [
                {"url": url_for("returns.status", token=return_token(rt, r.id)), "row": r} for r in returns
            ],
        }


@bp.get("/returns/o/<token>")
def order(token: str) -> Response:
    order_id = order_for(runtime(), token)
    context = _order_context(order_id) if order_id is not None else None
    if context is None:
        return not_found()
    return _page("order.html", key=secrets.token_urlsafe(16), problems=[], **context)


@bp.post("/returns/o/<token>")
def submit(token: str) -> ResponseBase:
    rt = runtime()
    order_id = order_for(rt, token)
    context = _order_context(order_id) if order_id is not None else None
    if order_id is None or context is None:
        return not_found()
    asks, resolution, key, problems = read_asks(
        request.form, request.files, context["lines"], context["policy"]
    )
    if problems:
        return _page("order.html", 400, key=key, problems=problems, **context)
    photos = save_photos(rt, request.files, context["lines"], asks)
    if isinstance(photos, str):
        return _page("order.html", 400, key=key, problems=[photos], **context)
    return_id = _request(order_id, with_photos(asks, photos), resolution, key)
    if isinstance(return_id, str):
        forget_photos(rt, photos)  # nothing was asked: keep nothing
        return _page("order.html", 400, key=key, problems=[return_id], **context)
    return redirect(url_for("returns.status", token=return_token(rt, return_id)), 303)


def _request(order_id: int, asks: list[dict[str, Any]], resolution: str, key: str) -> int | str:
    """Ask for the return (once per form key); its id, or why it cannot be asked."""
    rt = runtime()
    with rt.session() as s:
        account_id = s.scalar(select(Order.account_id).where(Order.id == order_id))
    try:
        made = request_return(
            rt,
            account_id=int(account_id or 0),
            order_id=order_id,
            asks=asks,
            source="portal",
            key=f"portal:{key}",
            actor="customer",
            resolution=resolution,
        )
    except Refusal as exc:
        return str(exc)
    return int(made.id)


def _status_context(return_id: int) -> dict[str, Any] | None:
    rt = runtime()
    with rt.session() as s:
        row = s.get(Return, return_id)
        order = s.get(Order, row.order_id) if row is not None else None
        account = s.get(Account, row.account_id) if row is not None else None
        if row is None or order is None or account is None or order.redacted_at is not None:
            return None
        items = s.scalars(select(ReturnItem).where(ReturnItem.return_id == row.id).order_by(ReturnItem.id))
        merchant = for_account(rt, s, account.id)
        return {
            "words": state_words(row.state, merchant.prepaid),
            "send_to": _send_to(merchant.address) if not merchant.prepaid and row.state == "approved" else [],
            "brand": brand_for(rt, account.name),
            "number": order.number,
            "ret": row,
            "items": list(items),
            "label_url": _link((row.label or {}).get("label_url")),
            "refusals": list((row.decision or {}).get("refusals") or []),
            "order_url": url_for("returns.order", token=order_token(rt, order.id)),
            "cancellable": _cancellable(row),
        }


def _cancellable(row: Return) -> bool:
    return row.state in CANCELLABLE and row.first_scan_at is None


def _link(url: Any) -> str | None:
    """The label's address when it is a web address (never a script or data URL)."""
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


@bp.get("/returns/r/<token>")
def status(token: str) -> Response:
    return_id = return_for(runtime(), token)
    context = _status_context(return_id) if return_id is not None else None
    if context is None:
        return not_found()
    return _page("status.html", cancel_url=url_for("returns.cancel", token=token), **context)


@bp.post("/returns/r/<token>/cancel")
def cancel(token: str) -> ResponseBase:
    """The customer cancels the return (until the parcel is on its way back)."""
    rt = runtime()
    return_id = return_for(rt, token)
    context = _status_context(return_id) if return_id is not None else None
    if return_id is None or context is None:
        return not_found()
    refused = {"problem": "This return can no longer be cancelled.", "cancel_url": request.path}
    if not context["cancellable"]:
        return _page("status.html", 409, **refused, **context)
    try:
        close(rt, context["ret"].account_id, return_id, "customer", "cancelled by the customer")
    except Refusal:
        return _page("status.html", 409, **refused, **context)
    return redirect(url_for("returns.status", token=token), 303)

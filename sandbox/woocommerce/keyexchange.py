"""``/wc-auth/v1/authorize``: the key exchange (``WC_Auth``), with the merchant's approval simulated.

The store creates a key, POSTs it as JSON to ``callback_url`` and, only if that
answers 200, sends the browser to ``return_url`` with ``success=1&user_id=...``.
Any other answer deletes the key and the merchant sees WooCommerce's error page
(HTTP 401); no redirect happens. A merchant who denies is sent to ``return_url``
with ``success=0``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

import requests
from werkzeug.wrappers import Request, Response

from sandbox.woocommerce.auth import PERMISSIONS
from sandbox.woocommerce.phpjson import dumps

if TYPE_CHECKING:
    from sandbox.woocommerce.simulator import WooCommerceSimulator

REQUIRED = ("app_name", "user_id", "return_url", "callback_url", "scope")


class AuthFailure(Exception):
    """A handshake error; WooCommerce shows it with ``wp_die`` and status 401."""


def _with_query(url: str, success: int, user_id: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}success={success}&user_id={quote(user_id, safe='')}"


def _formatted(url: str) -> str:
    return url if "://" in url else "https://" + url


def _validate(sim: WooCommerceSimulator, request: Request) -> dict[str, str]:
    data: dict[str, str] = {}
    for name in REQUIRED:
        if not request.values.get(name):
            raise AuthFailure(f"Missing parameter {name}")
        data[name] = request.values[name]
    if data["scope"] not in PERMISSIONS:
        raise AuthFailure(f"Invalid scope {data['scope']}")
    callback = _formatted(data["callback_url"])
    if not callback.lower().startswith("https://") and not sim.allow_http_callback:
        raise AuthFailure("The callback_url needs to be over SSL")
    return data


def _error_page(message: str) -> Response:
    html = (
        "<!DOCTYPE html><html><head><title>Access denied</title></head>"
        f"<body><p>Error: {escape(message)}.</p></body></html>"
    )
    return Response(html, status=401, content_type="text/html; charset=UTF-8")


def authorize(sim: WooCommerceSimulator, request: Request) -> Response:
    """Handle ``GET /wc-auth/v1/authorize`` as if the logged-in merchant clicked Approve (or Deny)."""
    sim.count("wc-auth.authorize")
    try:
        data = _validate(sim, request)
    except AuthFailure as exc:
        return _error_page(str(exc))
    return_url = _formatted(data["return_url"])
    if not sim.approve_key_requests:
        return Response(status=302, headers={"Location": _with_query(return_url, 0, data["user_id"])})
    with sim.lock:
        stamp = datetime.fromtimestamp(sim.clock.now(), UTC).strftime("%Y-%m-%d %H:%M:%S")
        key = sim.keys.create(data["scope"], description=f"{data['app_name'][:170]} - API ({stamp})")
    consumer_data = {
        "key_id": key.key_id,
        "user_id": data["user_id"],
        "consumer_key": key.consumer_key,
        "consumer_secret": key.consumer_secret,
        "key_permissions": key.permissions,
    }
    # Posted without holding the store lock: the app commonly calls the API back before answering.
    try:
        answer = requests.post(
            _formatted(data["callback_url"]),
            data=dumps(consumer_data),
            headers={"Content-Type": "application/json;charset=UTF-8"},
            timeout=sim.callback_timeout_s,
            allow_redirects=False,
        )
        ok, message = answer.status_code == 200, ""
    except requests.RequestException as exc:
        ok, message = False, str(exc)
    if not ok:
        with sim.lock:
            sim.keys.delete(key.key_id)
        return _error_page(
            message
            or "An error occurred in the request and at the time were unable to send the consumer data"
        )
    return Response(status=302, headers={"Location": _with_query(return_url, 1, data["user_id"])})

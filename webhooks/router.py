"""The receivers as a small WSGI app in front of Flask.

A webhook needs none of Flask's request machinery (context, session, URL map,
hooks); serving the three receivers here halves their CPU. Everything else passes
through to Flask untouched. Requests handled here are counted and tagged exactly as
app.py's hooks count and tag Flask's: ``waybill_http_requests_total`` under the
endpoint names the Flask routes had, an ``X-Request-Id`` answered and bound to logs.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import structlog

from sync.outage import database_error, down_service
from sync.refused import note_refused
from sync.runtime import Runtime
from telemetry import count_request
from webhooks.easypost import receive_easypost
from webhooks.intake import Answer, Delivery, unavailable
from webhooks.shopify import receive_shopify
from webhooks.woocommerce import receive_woocommerce

log = structlog.get_logger("waybill.webhooks")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Receiver = Callable[[Delivery], Answer]

PREFIX = "/webhooks/"
ROUTES: dict[str, tuple[str, Receiver]] = {
    "/webhooks/shopify": ("webhooks.receive_shopify", receive_shopify),
    "/webhooks/easypost": ("webhooks.receive_easypost", receive_easypost),
}
WOOCOMMERCE = re.compile(r"/webhooks/woocommerce/([0-9]+)")
STATUS = {200: "200 OK", 400: "400 BAD REQUEST", 401: "401 UNAUTHORIZED", 405: "405 METHOD NOT ALLOWED"}
STATUS |= {
    413: "413 REQUEST ENTITY TOO LARGE",
    500: "500 INTERNAL SERVER ERROR",
    503: "503 SERVICE UNAVAILABLE",
}
STOREFRONTS = ("shopify", "woocommerce")  # receivers of orders (EasyPost retries for a day)
RETRY_AFTER_S = "5"  # what a 503 asks the sender to wait (platforms keep their own schedules)


def request_id(header: str) -> str:
    """The caller's ``X-Request-Id`` when it is short and printable, else a fresh one."""
    return header if 0 < len(header) <= 64 and header.isprintable() else uuid.uuid4().hex


class WebhookRouter:
    """``POST /webhooks/...`` to the receivers; any other request to ``app``."""

    def __init__(self, app: WSGIApp, runtime: Callable[[], Runtime]) -> None:
        self.app, self.runtime = app, runtime

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        route = self._route(path)
        if route is None:
            return self.app(environ, start_response)
        endpoint, receive = route
        rid = request_id(str(environ.get("HTTP_X_REQUEST_ID", "")))
        structlog.contextvars.bind_contextvars(request_id=rid)
        method = str(environ.get("REQUEST_METHOD", "GET"))
        try:
            answer = self._answer(method, receive, environ, endpoint.rsplit("receive_", 1)[-1])
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        count_request(method, endpoint, answer.status)
        body = json.dumps(answer.payload, separators=(",", ":")).encode() + b"\n"
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if answer.status == 405:
            headers.append(("Allow", "POST"))
        if answer.status == 503:
            headers.append(("Retry-After", RETRY_AFTER_S))
        start_response(
            f"{answer.status} {HTTPStatus(answer.status).phrase}", [*headers, ("X-Request-Id", rid)]
        )
        return [body]

    @staticmethod
    def _route(path: str) -> tuple[str, Receiver] | None:
        route = ROUTES.get(path)
        if route is not None:
            return route
        woo = WOOCOMMERCE.fullmatch(path)
        if woo is None:
            return None
        store_id = int(woo.group(1))
        return "webhooks.receive_woocommerce", lambda delivery: receive_woocommerce(delivery, store_id)

    def _answer(self, method: str, receive: Receiver, environ: dict[str, Any], platform: str) -> Answer:
        answer = self._receive(method, receive, environ, platform)
        if answer.status == 503 and platform in STOREFRONTS:
            note_refused(self.runtime())  # orders refused now: every store reconciled (sync/refused.py)
        return answer

    def _receive(self, method: str, receive: Receiver, environ: dict[str, Any], platform: str) -> Answer:
        if method != "POST":
            return Answer(405, {"error": "method not allowed"})
        try:
            return receive(Delivery(environ, self.runtime()))
        except Exception as exc:
            if database_error(exc) or down_service(exc) is not None:
                # A backing service failed where the receiver did not expect it: still an
                # outage (503, one line), never a 500 with a traceback per request.
                return unavailable(platform, exc)
            log.exception("webhook.failed", path=environ.get("PATH_INFO"))
            return Answer(500, {"error": "internal error"})

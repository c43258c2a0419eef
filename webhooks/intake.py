"""What every receiver shares: the delivery as read from WSGI, bounded body reads, the
JSON check, inbox commits and the answers.

Receivers are plain functions ``(Delivery) -> Answer``; :mod:`webhooks.router` serves
them in front of Flask, so a webhook costs no Flask request context, session or
routing. Nothing here imports Flask.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import simdjson
import structlog
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from connectors.shopify.webhooks import HeaderSource
from db.models import InboxEvent, InboxState, Platform, utcnow
from sync.intake import handler_for
from sync.runtime import Runtime
from telemetry import WEBHOOKS
from webhooks.inbox import writer_for

log = structlog.get_logger("waybill.webhooks")


class Refused(Exception):
    """Answer with ``status`` and store nothing."""

    def __init__(self, status: int, message: str, outcome: str) -> None:
        super().__init__(message)
        self.status, self.message, self.outcome = status, message, outcome


@dataclass(frozen=True)
class Answer:
    """What a receiver answers: an HTTP status and a small JSON object."""

    status: int
    payload: Mapping[str, str]


@functools.lru_cache(maxsize=256)
def environ_key(name: str) -> str:
    """Where WSGI keeps header ``name``: ``X-Shopify-Topic`` -> ``HTTP_X_SHOPIFY_TOPIC``."""
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


class Headers:
    """A request's headers by case-insensitive name, read from the WSGI environ (as
    werkzeug's ``EnvironHeaders``, without building a key on every look-up)."""

    __slots__ = ("environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.environ.get(environ_key(name))
        return default if value is None else str(value)

    def names(self) -> list[str]:
        """The names of the headers sent (``X-Wc-Webhook-Topic`` for ``X-WC-Webhook-Topic``)."""
        return [name for name, _ in EnvironHeaders(self.environ).items()]


class Delivery:
    """One inbound webhook request, read straight from its WSGI environ."""

    __slots__ = ("_body", "environ", "headers", "rt")

    def __init__(self, environ: dict[str, Any], rt: Runtime) -> None:
        self.environ, self.rt = environ, rt
        self.headers = Headers(environ)
        self._body: bytes | None = None

    @property
    def content_type(self) -> str:
        return str(self.environ.get("CONTENT_TYPE", ""))

    def body(self) -> bytes:
        """The exact bytes received; 413 before reading past the configured limit."""
        if self._body is None:
            limit = self.rt.settings.webhooks.max_body_bytes
            length = _content_length(self.environ)
            if length is not None and length <= limit and not self.environ.get("wsgi.input_terminated"):
                # The common case, read in one call: the server's stream stops at the length.
                self._body = self.environ["wsgi.input"].read(length) if length else b""
                if len(self._body) != length:
                    raise Refused(400, "body shorter than its Content-Length", "incomplete_body")
                return self._body
            try:
                self._body = get_input_stream(self.environ, max_content_length=limit).read()
            except RequestEntityTooLarge as exc:
                raise Refused(413, f"body over {limit} bytes", "too_large") from exc
        return self._body


def _content_length(environ: dict[str, Any]) -> int | None:
    """``CONTENT_LENGTH`` when it is a plain non-negative number, else None."""
    value = environ.get("CONTENT_LENGTH")
    if not value or not str(value).isdigit():
        return None
    return int(value)


def parse_json(body: bytes) -> Any:
    """The document, exactly: Python keeps JSON integers exact, so 64-bit ids survive."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refused(400, "body is not JSON", "bad_json") from exc


_parsers = threading.local()


def check_json(body: bytes) -> None:
    """400 unless ``body`` is JSON, for receivers that store the body without reading it.

    simdjson validates a 16 KB order (grammar and UTF-8) in a sixth of orjson's time,
    since it builds no Python objects for the document's contents. What it refuses but
    json accepts (NaN, numbers out of a double's range or beyond 64 bits, lone
    surrogates, UTF-16 bodies) is asked of json, so both accept the same documents, but
    for nesting: simdjson takes up to 1,024 levels where json stops near 1,000 (as orjson
    did; only signed bodies get here). A parser is kept per thread: it is not
    thread-safe, and it reuses its buffers between documents.
    """
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = simdjson.Parser()
    try:
        parser.parse(body)
    except (ValueError, RuntimeError):  # simdjson's errors (UnicodeDecodeError, big integers, depth)
        parse_json(body)


_NOT_OBJECT = frozenset(b'["-0123456789tfn')


def not_an_object(body: bytes) -> bool:
    """Whether a valid JSON ``body`` is surely not an object: one look at its first byte.

    Bodies json reads in UTF-16 or UTF-32 are left to the job's full check."""
    start = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
    start = start.lstrip(b" \t\r\n")
    return bool(start) and start[0] in _NOT_OBJECT


def unavailable(platform: Platform | str, exc: BaseException) -> Answer:
    """503: the database could not store or look up the event; the platform sends it again.

    One log line per request, naming the error's type only: during an outage every
    request fails the same way, and a traceback each would bury the logs."""
    WEBHOOKS.labels(str(platform), "db_unavailable").inc()
    log.error("webhook.db_unavailable", platform=str(platform), error=type(exc).__name__)
    return Answer(503, {"error": "temporarily unavailable"})


def refused(platform: Platform, err: Refused) -> Answer:
    WEBHOOKS.labels(str(platform), err.outcome).inc()
    log.info("webhook.refused", platform=str(platform), outcome=err.outcome, status=err.status)
    return Answer(err.status, {"error": err.message})


def commit(
    rt: Runtime,
    platform: Platform,
    topic: str,
    dedupe_key: str,
    body: bytes,
    headers: Mapping[str, str],
    store_id: int | None = None,
    account_id: int | None = None,
    refusal: str | None = None,
) -> Answer:
    """Commit the event to the inbox (once per dedupe key), then hand it off to the workers.

    With ``refusal`` (a signed body the edge already knows is unusable) the event is kept
    as evidence in state ``failed`` with the reason, handed to no worker, and the platform
    is answered 200 ``refused``: a 4xx would only make it send the same body again (Shopify
    retries for 4 hours and may then delete the subscription; WooCommerce disables a
    webhook after repeated failures)."""
    handled = handler_for(platform, topic) is not None
    values = {
        "platform": platform,
        "topic": topic,
        "dedupe_key": dedupe_key[:255],
        "body": body,
        "headers": dict(headers),
        "store_id": store_id,
        "account_id": account_id,
        "attempts": 0,
        "state": InboxState.failed if refusal else InboxState.pending if handled else InboxState.ignored,
        "received_at": utcnow(),
    }
    try:
        event_id = writer_for(rt).write(values)  # committed, and handed off when pending
    except (SQLAlchemyError, rt.engine.dialect.loaded_dbapi.Error) as exc:
        return unavailable(platform, exc)
    if event_id is None:
        WEBHOOKS.labels(str(platform), "duplicate").inc()
        return Answer(200, {"status": "duplicate"})
    if refusal:
        return _refused_and_kept(rt, platform, topic, event_id, refusal)
    if not handled:
        WEBHOOKS.labels(str(platform), "ignored").inc()
        return Answer(200, {"status": "ignored"})
    WEBHOOKS.labels(str(platform), "accepted").inc()
    return Answer(200, {"status": "accepted"})


def _refused_and_kept(rt: Runtime, platform: Platform, topic: str, event_id: int, refusal: str) -> Answer:
    """The rare path: note the reason on the stored event (a second, small statement)."""
    WEBHOOKS.labels(str(platform), "refused_kept").inc()
    log.warning(
        "webhook.refused_kept", platform=str(platform), topic=topic, event_id=event_id, reason=refusal
    )
    try:
        with rt.session() as s:
            event = s.get(InboxEvent, event_id)
            if event is not None:
                event.last_error = f"refused: {refusal}"
                event.processed_at = utcnow()
    except SQLAlchemyError as exc:  # the event is stored and failed; only its reason is missing
        log.warning("webhook.refusal_not_noted", event_id=event_id, error=type(exc).__name__)
    return Answer(200, {"status": "refused"})


def selected(headers: HeaderSource, names: tuple[str, ...]) -> dict[str, str]:
    """The headers worth keeping (never a signature)."""
    return {name: value for name, value in ((n, headers.get(n)) for n in names) if value}

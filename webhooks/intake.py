"""What every receiver shares: bounded body reads, inbox commits, answers."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import structlog
from flask import Response, current_app, jsonify, request
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from connectors.shopify.webhooks import HeaderSource
from db.models import InboxEvent, InboxState, Platform, utcnow
from sync.intake import HANDLERS, hand_off_event
from sync.runtime import Runtime
from telemetry import WEBHOOKS

log = structlog.get_logger("waybill.webhooks")


class Refused(Exception):
    """Answer with ``status`` and store nothing."""

    def __init__(self, status: int, message: str, outcome: str) -> None:
        super().__init__(message)
        self.status, self.message, self.outcome = status, message, outcome


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["waybill"]
    return rt


def raw_body() -> bytes:
    """The exact bytes received; 413 before reading past the configured limit."""
    limit = runtime().settings.webhooks.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise Refused(413, f"body over {limit} bytes", "too_large")
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise Refused(413, f"body over {limit} bytes", "too_large") from exc


def parse_json(body: bytes) -> Any:
    try:
        # Python keeps JSON integers exact, so 64-bit ids survive; floats never carry ids.
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, "body is not JSON", "bad_json") from exc


def refused(platform: Platform, err: Refused) -> tuple[Response, int]:
    WEBHOOKS.labels(str(platform), err.outcome).inc()
    log.info("webhook.refused", platform=str(platform), outcome=err.outcome, status=err.status)
    return jsonify(error=err.message), err.status


def commit(
    platform: Platform,
    topic: str,
    dedupe_key: str,
    body: bytes,
    headers: Mapping[str, str],
    store_id: int | None = None,
    account_id: int | None = None,
) -> tuple[Response, int]:
    """Commit the event to the inbox (once per dedupe key), then enqueue it."""
    rt = runtime()
    handled = (platform, topic) in HANDLERS
    values = {
        "platform": platform,
        "topic": topic,
        "dedupe_key": dedupe_key[:255],
        "body": body,
        "headers": dict(headers),
        "store_id": store_id,
        "account_id": account_id,
        "attempts": 0,
        "state": InboxState.pending if handled else InboxState.ignored,
        "received_at": utcnow(),
    }
    try:
        event_id = _insert_event(rt, values)
    except SQLAlchemyError as exc:
        WEBHOOKS.labels(str(platform), "db_unavailable").inc()
        log.error("webhook.db_unavailable", platform=str(platform), error=type(exc).__name__)
        return jsonify(error="temporarily unavailable"), 503
    if event_id is None:
        WEBHOOKS.labels(str(platform), "duplicate").inc()
        return jsonify(status="duplicate"), 200
    if not handled:
        WEBHOOKS.labels(str(platform), "ignored").inc()
        return jsonify(status="ignored"), 200
    try:
        hand_off_event(rt, event_id)
    except Exception as exc:  # the inbox holds it; the sweeper enqueues it later
        log.warning("webhook.enqueue_failed", event_id=event_id, error=type(exc).__name__)
    WEBHOOKS.labels(str(platform), "accepted").inc()
    return jsonify(status="accepted"), 200


def _insert_event(rt: Runtime, values: dict[str, Any]) -> int | None:
    """Insert once; a pooled connection found dead (database restarted) is retried once."""
    for attempt in (1, 2):
        try:
            with rt.engine.begin() as conn:
                event_id: int | None = conn.execute(_insert_statement(conn.dialect.name), values).scalar()
                return event_id
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
    return None


@functools.cache
def _insert_statement(dialect: str) -> Any:
    """One statement, built once: insert unless the dedupe key is known (no exception on duplicates)."""
    table = InboxEvent.__table__
    assert isinstance(table, Table)
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        builder(table).on_conflict_do_nothing(index_elements=["platform", "dedupe_key"]).returning(table.c.id)
    )


def selected(headers: HeaderSource, names: tuple[str, ...]) -> dict[str, str]:
    """The headers worth keeping (never a signature)."""
    return {name: value for name in names if (value := headers.get(name))}

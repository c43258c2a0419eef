"""Health, readiness and metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select, text

from db.models import DeadLetter, InboxEvent, InboxState
from web import runtime

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up (no dependencies checked)."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when the database and the queue answer; 503 naming what is down."""
    rt = runtime()
    down: dict[str, str] = {}
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        down["database"] = type(exc).__name__
    try:
        rt.queue.ping()
    except Exception as exc:
        down["queue"] = type(exc).__name__
    if down:
        return jsonify(status="unavailable", down=down), 503
    return jsonify(status="ready"), 200


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text: process counters plus gauges read at scrape time."""
    rt = runtime()
    live = CollectorRegistry()
    depth = Gauge("waybill_queue_depth", "Jobs waiting per queue", ["queue"], registry=live)
    inbox = Gauge("waybill_inbox_events", "Inbox events by state", ["state"], registry=live)
    dead = Gauge("waybill_dead_letters", "Jobs waiting for an operator", registry=live)
    try:
        for name, count in rt.queue.depth().items():
            depth.labels(name).set(count)
    except Exception:  # noqa: S110 (queue down shows as missing series; /readyz reports it)
        pass
    try:
        with rt.session() as s:
            for state, count in s.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state)):
                inbox.labels(str(state)).set(count)
            for state in InboxState:
                inbox.labels(str(state)).inc(0)
            dead.set(s.scalar(select(func.count(DeadLetter.id)).where(DeadLetter.state == "dead")) or 0)
    except Exception:  # noqa: S110
        pass
    body = generate_latest(REGISTRY) + generate_latest(live)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)

"""JSON logs and Prometheus metrics, shared by the web app, workers and scheduler.

Logs carry a request or job id and never secrets or personal data: a processor
masks any field whose name says it holds one, whatever the caller passed.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import Counter, Histogram

from core.lifecycle import Stage

HTTP_REQUESTS = Counter("waybill_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
# Label values come from a fixed set, never from what a client sent: an unknown method is
# "other", a path no route matched is "unmatched" (see count_request).
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WEBHOOKS = Counter("waybill_webhooks_total", "Inbound webhooks by outcome", ["platform", "outcome"])
JOB_OUTCOMES = Counter("waybill_jobs_total", "Job attempts by outcome", ["job", "outcome"])
JOB_DURATION = Histogram(
    "waybill_job_duration_seconds",
    "Job attempt duration",
    ["job"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

INBOX_BATCH = Histogram(
    "waybill_inbox_batch_size",
    "Webhooks stored by one inbox statement (group commit, PostgreSQL)",
    buckets=(1, 2, 4, 8, 16),
)

RECONCILE_REPAIRS = Counter(
    "waybill_reconcile_repairs_total", "What reconciliation found and repaired", ["platform", "kind"]
)

ORDER_MOVES = Counter("waybill_order_moves_total", "Order stage moves committed, by stage entered", ["stage"])
for _stage in Stage:  # every stage is a series from the start, at 0
    ORDER_MOVES.labels(_stage.value)


def count_request(method: str, endpoint: str | None, status: int) -> None:
    """Count one HTTP answer under bounded labels.

    ``endpoint`` is a route's name (``None`` when no route matched); ``method`` is what the
    client sent, kept only when it is a standard one, so no request can mint a new series.
    """
    method = method.upper()
    HTTP_REQUESTS.labels(
        method if method in HTTP_METHODS else "other",
        endpoint or "unmatched",
        str(status) if 100 <= status <= 599 else "other",
    ).inc()


_SENSITIVE = re.compile(
    r"(secret|token|password|passwd|api_key|apikey|authorization|cookie|hmac|signature|credential|"
    r"email|phone|address|name_on|first_name|last_name|customer)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_KEEP = {"event", "level", "timestamp", "logger", "job", "job_id", "request_id", "topic", "platform"}


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask sensitive fields by name and e-mail addresses anywhere in string values."""
    for key in list(event):
        if key in _KEEP:
            continue
        if _SENSITIVE.search(key):
            event[key] = "[redacted]"
        elif isinstance(event[key], str):
            event[key] = _EMAIL.sub("[email]", event[key])
    return event


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Structured JSON lines on stderr (or ``stream``)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )

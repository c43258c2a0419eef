"""The inbound HTTP edge: verify, dedupe, commit to the inbox, enqueue, answer.

No outside call happens here; platforms get their 2xx in milliseconds. The
receivers are served by :class:`webhooks.router.WebhookRouter`, mounted in front
of the Flask app (see :func:`mount`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from webhooks.inbox import writer_for
from webhooks.router import WebhookRouter, request_id

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["WebhookRouter", "mount", "request_id"]


def mount(app: Flask) -> None:
    """Serve ``POST /webhooks/...`` ahead of Flask; the test client goes through it too.

    The inbox writer config ``inbox.writer`` names is made now, so a writer the database
    cannot take (``grouped`` off PostgreSQL) stops start-up instead of failing webhooks."""
    writer_for(app.extensions["waybill"])
    app.wsgi_app = WebhookRouter(app.wsgi_app, lambda: app.extensions["waybill"])  # type: ignore[method-assign]

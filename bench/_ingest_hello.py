"""The baseline for bench/ingest: the smallest WSGI app, served by the same gunicorn setup.

It reads the request body (Waybill has to, and so should the baseline: the bytes
cross the same socket) and answers a fixed JSON document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"status":"accepted"}\n'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Drain the request body, answer 200 with the same JSON Waybill's receiver sends."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", HEADERS)
    return [BODY]

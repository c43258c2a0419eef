from __future__ import annotations

import io
import json

import structlog

from telemetry import configure_logging


def test_logs_are_json_and_never_carry_secrets_or_emails() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    structlog.get_logger("t").info(
        "store.installed",
        access_token="shpat_abc",
        shop="a.myshopify.com",
        note="buyer jane.doe@example.com asked",
        customer_email="x@y.io",
        hmac="zz",
    )
    line = json.loads(stream.getvalue().strip())
    assert line["event"] == "store.installed"
    assert line["shop"] == "a.myshopify.com"
    assert line["access_token"] == line["customer_email"] == line["hmac"] == "[redacted]"
    assert line["note"] == "buyer [email] asked"
    assert "shpat_abc" not in stream.getvalue()

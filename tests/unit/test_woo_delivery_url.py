"""Waybill's warning for a public URL that a stock WordPress will not deliver webhooks to."""

from __future__ import annotations

import pytest

from connectors.woocommerce.webhooks import delivery_url_problem


@pytest.mark.parametrize(
    "url",
    [
        "https://waybill.example.com",
        "https://waybill.example.com:443",
        "http://waybill.example.com:8080",
        "http://waybill.example.com:80/base",
        "https://93.184.215.14",
        "https://172.32.0.1",
    ],
)
def test_a_public_host_on_80_443_or_8080_is_fine(url: str) -> None:
    assert delivery_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "https://waybill.example.com:8000",
            "port 8000: a stock WordPress delivers webhooks only to ports 80",
        ),
        ("http://waybill.example.com:8443", "port 8443:"),
        ("http://localhost:8000", "host localhost is loopback or private"),
        ("http://127.0.0.1", "host 127.0.0.1 is loopback or private"),
        ("https://10.1.2.3", "host 10.1.2.3 is loopback or private"),
        ("https://172.20.0.4", "host 172.20.0.4 is loopback or private"),
        ("https://192.168.0.9", "host 192.168.0.9 is loopback or private"),
        ("https://[2001:db8::1]", "host 2001:db8::1 is loopback or private"),
        ("ftp://waybill.example.com", "is not an http(s) URL"),
    ],
)
def test_an_undeliverable_url_is_named_with_the_reason(url: str, problem: str) -> None:
    found = delivery_url_problem(url)
    assert found is not None and problem in found

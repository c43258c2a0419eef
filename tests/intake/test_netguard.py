"""Store URLs may only lead to public addresses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from connectors.netguard import UnsafeUrl, check_store_url


@pytest.mark.parametrize(
    "url",
    [
        "https://[64:ff9b::7f00:1]/",  # NAT64 wrapping 127.0.0.1
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 wrapping the metadata address
        "https://[2002:7f00:1::1]/",  # 6to4 wrapping 127.0.0.1
        "https://[::ffff:10.0.0.1]/",  # IPv4-mapped private address
        "https://[fe80::1]/",
        "https://user:pw@8.8.8.8/",
        "https://8.8.8.8/?x=1",
        "ftp://8.8.8.8/",
    ],
)
def test_embedded_or_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_store_url(url)


def test_public_literals_are_normalised() -> None:
    assert check_store_url("https://8.8.8.8/shop/") == "https://8.8.8.8/shop"
    assert (
        check_store_url("https://[2606:4700:4700::1111]:8443/shop")
        == "https://[2606:4700:4700::1111]:8443/shop"
    )
    assert check_store_url("https://[64:ff9b::808:808]/") == "https://[64:ff9b::808:808]"  # NAT64 of 8.8.8.8


def test_sandbox_mode_allows_loopback_over_http() -> None:
    assert check_store_url("http://127.0.0.1:8080/", allow_private=True) == "http://127.0.0.1:8080"


# -- malformed URLs: a clear UnsafeUrl, never a ValueError escaping


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1:99999", "port must be a number from 1 to 65535"),
        ("https://shop.example:65536/", "port must be a number from 1 to 65535"),
        ("https://shop.example:0/", "port must be a number from 1 to 65535"),
        ("https://shop.example:-1/", "port must be a number from 1 to 65535"),
        ("https://shop.example:http/", "port must be a number from 1 to 65535"),
        ("https://[::1", "IPv6 address needs both brackets"),
        ("https://[not-an-address]/", "malformed IPv6 address"),
        ("https://bücher.example/", "must be ASCII"),
        ("https://xn--bcher-kva.example\u3002com/", "must be ASCII"),
        ("https://shop .example/", "spaces or control characters"),
        ("https://shop.example/\r\nX: y", "spaces or control characters"),
        ("https://sh_op.example/", "not a valid domain name"),
        ("https://%31%32%37.0.0.1/", "not a valid domain name"),
        ("https://" + "a" * 64 + ".example/", "not a valid domain name"),
        ("https://", "with a host"),
        ("", "empty"),
        ("https://shop.example/" + "p" * 3000, "longer than"),
    ],
)
def test_malformed_store_urls_are_unsafe_with_a_clear_reason(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl, match=re.escape(reason)):
        check_store_url(url)
    with pytest.raises(UnsafeUrl, match=re.escape(reason)):
        check_store_url(url, allow_private=True)


def test_sandbox_mode_allows_loopback_only_not_other_private_addresses() -> None:
    assert check_store_url("http://localhost:8080", allow_private=True) == "http://localhost:8080"
    for url in ("http://10.0.0.1", "http://169.254.169.254", "http://[fe80::1]"):
        with pytest.raises(UnsafeUrl, match="non-public address"):
            check_store_url(url, allow_private=True)


def test_the_install_route_and_the_cli_answer_a_malformed_url_with_a_4xx_and_one_line(app: Any) -> None:
    assert not app.extensions["waybill"].settings.sandbox
    client = app.test_client()
    for url in ("https://127.0.0.1:99999", "https://[::1", "https://bücher.example"):
        page = client.get("/install/woocommerce", query_string={"store_url": url})
        assert 400 <= page.status_code < 500, (url, page.status_code)
        added = app.test_cli_runner().invoke(
            args=["shops", "add-woocommerce", "--url", url, "--key", "ck_1", "--secret", "cs_1"]
        )
        assert added.exit_code == 1, (url, added.output)
        assert added.exception is None or isinstance(added.exception, SystemExit), added.exception
        [line] = added.output.strip().splitlines()
        assert line.startswith("Error: ") and "store URL" in line, line

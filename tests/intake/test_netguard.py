"""Store URLs may only lead to public addresses."""

from __future__ import annotations

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

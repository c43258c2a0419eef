"""Outbound URL checks against request forgery (a merchant-supplied store URL).

A store URL must be https and resolve only to public addresses: no loopback,
private, link-local (cloud metadata lives at 169.254.169.254), multicast or
reserved ranges. Sandbox mode allows loopback and plain http for the simulators.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from core.errors import Permanent


class UnsafeUrl(Permanent):
    """The URL may not be called."""


def check_store_url(url: str, allow_private: bool = False) -> str:
    """The normalised store URL (scheme://host[:port][/path], no trailing slash) or ``UnsafeUrl``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl("store URL must be an absolute https:// URL")
    if parts.scheme != "https" and not allow_private:
        raise UnsafeUrl("store URL must use https")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UnsafeUrl("store URL must not carry credentials, a query or a fragment")
    if not allow_private:
        for address in _resolve(parts.hostname, parts.port or 443):
            if not _public(address):
                raise UnsafeUrl(f"store URL resolves to a non-public address ({address})")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global and not multicast, including any IPv4 address embedded in an IPv6 one."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _public(embedded)
    return True


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeUrl(f"store host does not resolve: {host}") from exc
    return [ipaddress.ip_address(info[4][0]) for info in infos]

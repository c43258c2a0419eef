"""``wp_http_validate_url`` (wp-includes/http.php): which URLs a stock WordPress will send to.

WooCommerce delivers webhooks (and its creation ping) with ``wp_safe_remote_request``,
which passes the URL through this check first; a refused URL is never requested and
the delivery ends as the ``WP_Error`` ``http_request_not_executed``. Stock WordPress
refuses a host that is, or resolves to, a loopback or private IPv4 address (127/8,
10/8, 0/8, 172.16/12, 192.168/16) unless it is the site's own host, and any explicit
port other than 80, 443 and 8080 (or the site's own port on its own host).

Sites open this with the ``http_request_host_is_external`` and
``http_allowed_safe_ports`` filters; the simulator's ``allow_unsafe_delivery_urls``
switch stands for both, for tests and the demo, whose receivers listen on loopback
at arbitrary ports.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

SAFE_PORTS = (80, 443, 8080)
NOT_EXECUTED = "http_request_not_executed: A valid URL was not provided."
_IPV4 = re.compile(r"^(([1-9]?\d|1\d\d|25[0-5]|2[0-4]\d)\.){3}([1-9]?\d|1\d\d|25[0-5]|2[0-4]\d)$")


def _resolve(host: str) -> str | None:
    if _IPV4.match(host):
        return host
    try:
        return socket.gethostbyname(host)
    except (OSError, UnicodeError):
        return None  # gethostbyname() gives the name back: WordPress refuses it


def _is_local(ip: str) -> bool:
    a, b = (int(part) for part in ip.split(".")[:2])
    return a in (127, 10, 0) or (a == 172 and 16 <= b <= 31) or (a == 192 and b == 168)


def validate_url(url: str, home_url: str, host_is_external: bool = False, any_port: bool = False) -> bool:
    """True when stock WordPress at ``home_url`` would send a request to ``url``."""
    if not url or not re.match(r"^https?://", url, re.IGNORECASE):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return False
    raw_host = parts.netloc.rpartition("@")[2]
    if raw_host.startswith("["):  # an IPv6 literal: its ':' and brackets are refused
        return False
    home = urlsplit(home_url)
    same_host = (home.hostname or "").lower() == parts.hostname.lower()
    if not same_host:
        ip = _resolve(parts.hostname.strip("."))
        if ip is None:
            return False
        if _is_local(ip) and not host_is_external:
            return False
    if port is None or any_port or port in SAFE_PORTS:
        return True
    return same_host and home.port == port

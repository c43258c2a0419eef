"""Outbound address checks against request forgery (calls to merchant-supplied hosts).

Two layers:

* ``check_store_url`` at install: a store URL must be a well-formed absolute https URL
  whose host resolves only to public addresses: no loopback, private, link-local
  (cloud metadata lives at 169.254.169.254), multicast or reserved ranges.
* ``guarded_session`` on every call: a ``requests`` session whose transport resolves
  the host itself, refuses the connection unless every address is allowed, and then
  connects to the checked address (no second lookup can swap it: DNS rebinding). TLS
  still names the host (SNI, certificate check) and so does the ``Host`` header. A
  redirect off the request's origin (scheme, host, port) is refused; one on it is
  followed and its connection checked like any other. Environment proxies are not
  used: the address connected to would be the proxy's.

Sandbox mode passes ``AddressPolicy(allow_loopback=True)`` (``AddressPolicy.for_settings``):
the simulators live on loopback. Nothing else private is ever allowed.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import sys
import threading
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util.connection import allowed_gai_family

from core.errors import Permanent

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
MAX_REDIRECTS = 5
_HOST_NAME = re.compile(
    r"^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$"
)


class UnsafeUrl(Permanent):
    """The URL may not be called (malformed, not https, or leading to a non-public address)."""

    code = "unsafe_url"


class UnsafeAddress(UnsafeUrl):
    """At connect time the host resolved to an address the policy does not allow."""

    code = "unsafe_address"


class OffOriginRedirect(UnsafeUrl):
    """The store answered with a redirect to another origin; it is not followed."""

    code = "redirect_off_origin"


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses an outbound call to a merchant-supplied host may connect to.

    Public addresses only, unless ``allow_loopback`` (sandbox mode: the simulators listen
    on loopback), which adds 127.0.0.0/8 and ::1 and nothing else.
    """

    allow_loopback: bool = False

    @classmethod
    def for_settings(cls, sandbox: bool) -> AddressPolicy:
        """The policy for a run mode: ``AddressPolicy.for_settings(rt.settings.sandbox)``."""
        return cls(allow_loopback=bool(sandbox))

    def permits(self, address: Address) -> bool:
        return _public(address) or (self.allow_loopback and address.is_loopback)

    def describe(self) -> str:
        return "public or loopback" if self.allow_loopback else "public"


STRICT = AddressPolicy()


# --------------------------------------------------------------------------- install-time check


def check_store_url(url: str, allow_private: bool = False) -> str:
    """The normalised store URL (scheme://host[:port][/path], no trailing slash) or ``UnsafeUrl``.

    ``allow_private`` is sandbox mode: plain http and loopback addresses are accepted
    (other private ranges are not).
    """
    policy = AddressPolicy.for_settings(allow_private)
    parts, port = _split(url)
    if parts.scheme not in ("https", "http"):
        raise UnsafeUrl("store URL must be an absolute https:// URL")
    if parts.scheme != "https" and not policy.allow_loopback:
        raise UnsafeUrl("store URL must use https")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise UnsafeUrl("store URL must not carry credentials, a query or a fragment")
    host = _host(parts)
    for address in _resolve(host, port or (443 if parts.scheme == "https" else 80)):
        if not policy.permits(address):
            raise UnsafeUrl(f"store URL resolves to a non-public address ({address})")
    shown = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    port_part = f":{port}" if port else ""
    return f"{parts.scheme}://{shown}{port_part}{parts.path.rstrip('/')}"


def _split(url: str) -> tuple[SplitResult, int | None]:
    """``urlsplit`` and the port, with every malformation as ``UnsafeUrl`` (never ValueError)."""
    text = url.strip() if isinstance(url, str) else ""
    if not text:
        raise UnsafeUrl("store URL is empty")
    if len(text) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"store URL is longer than {MAX_URL_LENGTH} characters")
    if not text.isascii():
        raise UnsafeUrl("store URL must be ASCII (write an international domain name in its xn-- form)")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise UnsafeUrl("store URL must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        authority = text.partition("//")[2].partition("/")[0]
        reason = (
            "has a malformed IPv6 address"
            if "]" in authority
            else "is malformed (an IPv6 address needs both brackets)"
        )
        raise UnsafeUrl(f"store URL {reason}") from exc
    try:
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("store URL port must be a number from 1 to 65535") from exc
    if port == 0:
        raise UnsafeUrl("store URL port must be a number from 1 to 65535")
    return parts, port


def _host(parts: SplitResult) -> str:
    """The lower-cased host: an IP literal or a DNS name made of letters, digits and hyphens."""
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("store URL must be an absolute https:// URL with a host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if parts.netloc.rsplit("@", 1)[-1].startswith("["):
        raise UnsafeUrl("store URL has a malformed IPv6 address")
    if not _HOST_NAME.match(host):
        raise UnsafeUrl("store URL host is not a valid domain name")
    return host


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _public(address: Address) -> bool:
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


def _resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl(f"store host does not resolve: {host}") from exc
    return [_address(info[4][0]) for info in infos]


def _address(text: object) -> Address:
    # A scoped IPv6 address ("fe80::1%eth0") parses without its zone.
    return ipaddress.ip_address(str(text).split("%", 1)[0])


# --------------------------------------------------------------------------- connect-time check


def checked_addresses(host: str, port: int, policy: AddressPolicy) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` for ``host``, refused (``UnsafeAddress``) unless the policy permits every address.

    One disallowed address refuses the whole name: a name that mixes a public address
    with a private one is not a store's.
    """
    name = host.strip("[]")
    infos = socket.getaddrinfo(name, port, allowed_gai_family(), socket.SOCK_STREAM)
    for info in infos:
        address = _address(info[4][0])
        if not policy.permits(address):
            raise UnsafeAddress(f"refused: {name} resolves to {address}, not a {policy.describe()} address")
    return list(infos)


def _connect(
    host: str,
    port: int,
    timeout: float | None,
    source_address: tuple[str, int] | None,
    socket_options: Any,
    policy: AddressPolicy,
) -> socket.socket:
    """A socket connected to one of the host's checked addresses (the address itself, not the name)."""
    error: OSError | None = None
    for family, socktype, proto, _, sockaddr in checked_addresses(host, port, policy):
        sock = socket.socket(family, socktype, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"no address to connect to for {host}")


def _timeout(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


class _GuardedConnection(HTTPConnection):
    """An HTTP connection that checks the address it connects to."""

    def __init__(self, *args: Any, address_policy: AddressPolicy = STRICT, **kwargs: Any) -> None:
        self.address_policy = address_policy
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        return _guarded_new_conn(self)


class _GuardedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection that checks the address it connects to; TLS still names the host."""

    def __init__(self, *args: Any, address_policy: AddressPolicy = STRICT, **kwargs: Any) -> None:
        self.address_policy = address_policy
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        return _guarded_new_conn(self)


def _guarded_new_conn(conn: _GuardedConnection | _GuardedHTTPSConnection) -> socket.socket:
    """urllib3's ``HTTPConnection._new_conn`` with the checked connect in place of its own lookup."""
    try:
        sock = _connect(
            conn._dns_host,
            conn.port,
            _timeout(conn.timeout),
            conn.source_address,
            conn.socket_options,
            conn.address_policy,
        )
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out") from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
    sys.audit("http.client.connect", conn, conn.host, conn.port)
    return sock


class _GuardedPoolManager(PoolManager):
    def __init__(self, address_policy: AddressPolicy, **kwargs: Any) -> None:
        self.address_policy = address_policy
        super().__init__(**kwargs)

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = _GuardedHTTPSConnection if scheme == "https" else _GuardedConnection
        pool.conn_kw = {**pool.conn_kw, "address_policy": self.address_policy}
        return pool


class GuardedAdapter(HTTPAdapter):
    """A ``requests`` transport whose every new connection goes through ``checked_addresses``."""

    __attrs__ = [*HTTPAdapter.__attrs__, "address_policy"]

    def __init__(self, policy: AddressPolicy = STRICT, **kwargs: Any) -> None:
        self.address_policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            getattr(self, "address_policy", STRICT),
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            **pool_kwargs,
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise UnsafeUrl("calls to stores do not go through a proxy")


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)``, the scheme's default port filled in; a malformed URL is ``UnsafeUrl``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("malformed URL") from exc
    scheme = parts.scheme.lower()
    default = {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port or default


def refuse_off_origin_redirect(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A response hook: a redirect to another origin raises ``OffOriginRedirect`` (it is not followed)."""
    if not response.is_redirect:
        return response
    here = response.request.url or response.url
    target = urljoin(here, response.headers.get("location", ""))
    try:
        same = origin(target) == origin(here)
    except UnsafeUrl:
        same = False
    if not same:
        response.close()
        raise OffOriginRedirect(f"redirect_off_origin: HTTP {response.status_code} to another origin refused")
    return response


def guarded_session(policy: AddressPolicy = STRICT) -> requests.Session:
    """A session for calls to a merchant-supplied host: checked addresses, same-origin redirects only."""
    session = requests.Session()
    session.trust_env = False  # no environment proxies (nor .netrc credentials)
    adapter = GuardedAdapter(policy)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.max_redirects = MAX_REDIRECTS
    session.hooks["response"].append(refuse_off_origin_redirect)
    return session


_kept = threading.local()


def kept_session(policy: AddressPolicy = STRICT) -> requests.Session:
    """A :func:`guarded_session` kept per process, thread and policy, for the storefront
    clients: a client is built per job, and a session of its own opened a new connection
    (a TCP, and for https a TLS, handshake) for every job's first call to its store. The
    kept session's pooled connections stay open from one client to the next; each new
    connection is still checked against ``policy``. It holds no credentials (each client
    sends its own with each request) and keeps no cookies, so nothing of one store's calls
    reaches another's. A forked child starts with sessions of its own."""
    pid = os.getpid()
    sessions: dict[AddressPolicy, requests.Session] | None = getattr(_kept, "sessions", None)
    if sessions is None or getattr(_kept, "pid", None) != pid:
        sessions = _kept.sessions = {}
        _kept.pid = pid
    session = sessions.get(policy)
    if session is None:
        session = guarded_session(policy)
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        sessions[policy] = session
    return session

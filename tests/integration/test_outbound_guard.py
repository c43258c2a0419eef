"""Calls to merchant-supplied hosts check the address connected to, on every call.

The attacks are played against real sockets on loopback only: the resolver
(``socket.getaddrinfo``) is patched so that a store's name resolves where the test
says, and every ``connect`` is recorded (one to a non-loopback address is refused
by the test before it leaves the machine).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import structlog
from sqlalchemy import select

from connectors.netguard import (
    STRICT,
    AddressPolicy,
    OffOriginRedirect,
    UnsafeAddress,
    UnsafeUrl,
    check_store_url,
    guarded_session,
    kept_session,
)
from connectors.shopify.client import ShopifyClient, exchange_code
from connectors.woocommerce.client import WooClient
from core.errors import Permanent
from db.models import DeadLetter, Platform, Store, TimelineEntry
from sandbox.harness import serve
from sandbox.woocommerce import WooCommerceSimulator
from sync.jobs import JobMessage, Outcome, execute
from sync.storefronts import address_policy
from sync.stores import save_store

SANDBOX = AddressPolicy(allow_loopback=True)
CK, CS = "ck_" + "a" * 40, "cs_" + "b" * 40
PUBLIC = "93.184.216.34"
METADATA = "169.254.169.254"


# --------------------------------------------------------------------------- the test network


@dataclass
class Resolver:
    """Names the test controls: each lookup takes the next answer (the last one repeats)."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def answer(self, name: str, *addresses: str) -> None:
        self.answers[name] = list(addresses)

    def getaddrinfo(self, real: Callable[..., Any], host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in self.answers:
            return real(host, port, *args, **kwargs)
        self.lookups.append(name)
        queue = self.answers[name]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, int(port or 0), 0, 0) if family == socket.AF_INET6 else (address, int(port or 0))
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    patched = Resolver()
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: patched.getaddrinfo(real, *a, **k))
    return patched


@pytest.fixture(autouse=True)
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a socket connects to; a non-loopback one is refused here (loopback only)."""
    seen: list[str] = []
    real = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        seen.append(host)
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise ConnectionRefusedError(f"test network: {host} is not loopback")
        real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def outside(connects: list[str]) -> list[str]:
    return [host for host in connects if not ipaddress.ip_address(host.split("%")[0]).is_loopback]


class Site:
    """A tiny HTTP server on loopback answering each path with ``(status, headers, body)``."""

    def __init__(self, answer: Callable[[str], tuple[int, dict[str, str], bytes]]) -> None:
        self.paths: list[str] = []
        self.hosts: list[str] = []
        self.cookies: list[str] = []
        self.connections = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                site.connections += 1
                super().setup()

            def do_GET(self) -> None:
                site.paths.append(self.path)
                site.hosts.append(self.headers.get("Host", ""))
                site.cookies.append(self.headers.get("Cookie", ""))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the next request follows
                status, headers, body = answer(self.path)
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PUT = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def redirect(location: str, close: bool = False) -> tuple[int, dict[str, str], bytes]:
    headers = {"Location": location, **({"Connection": "close"} if close else {})}
    return 302, headers, b""


def ok(body: Any) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


# --------------------------------------------------------------------------- kept connections


def test_clients_built_one_after_another_reuse_a_connection_and_keep_no_cookie() -> None:
    # A storefront's client is built per job: its connection outlives it, its cookies do not.
    cookie = {"Content-Type": "application/json", "Set-Cookie": "wp_session=abc; Path=/"}
    with Site(lambda path: (200, cookie, b'{"data": {"shop": {"name": "x"}}}')) as site:
        for _ in range(3):
            WooClient(f"http://127.0.0.1:{site.port}", CK, CS, timeout_s=2, policy=SANDBOX).get("products")
        base = f"http://127.0.0.1:{site.port}"
        for _ in range(2):
            ShopifyClient("kept.myshopify.com", "shpat_x", base_url=base, policy=SANDBOX, max_wait_s=0).query(
                "{ shop { name } }"
            )
    assert site.connections == 1
    assert len(site.paths) == 5 and site.cookies == [""] * 5


def test_a_forked_child_does_not_use_its_parents_kept_connections() -> None:
    parent = kept_session(SANDBOX)
    assert kept_session(SANDBOX) is parent
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer whether it got a session of its own
        os.write(write, b"own" if kept_session(SANDBOX) is not parent else b"parent's")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 16) == b"own"


# --------------------------------------------------------------------------- DNS rebinding


@pytest.mark.parametrize("later", ["127.0.0.1", METADATA, "10.0.0.7", "::1", "::ffff:169.254.169.254"])
def test_a_store_name_that_rebinds_after_install_is_refused_before_connecting(
    resolver: Resolver, connects: list[str], later: str
) -> None:
    resolver.answer("store.test", PUBLIC, later)
    url = check_store_url("https://store.test")  # the install check sees a public address
    assert url == "https://store.test"
    shown = re.escape(f"store.test resolves to {ipaddress.ip_address(later)}")
    with pytest.raises(UnsafeAddress, match=shown):
        WooClient(url, CK, CS, timeout_s=2).get("products")
    assert connects == []
    assert resolver.lookups == ["store.test", "store.test"]


def test_shopify_calls_check_the_shop_address_too(resolver: Resolver, connects: list[str]) -> None:
    resolver.answer("rebound.myshopify.com", METADATA)
    client = ShopifyClient("rebound.myshopify.com", "shpat_x", max_wait_s=0)
    with pytest.raises(UnsafeAddress, match=METADATA):
        client.query("{ shop { id } }")
    with pytest.raises(UnsafeAddress, match=METADATA):
        exchange_code("rebound.myshopify.com", "key", "secret", "code")
    assert connects == []


def test_a_refused_address_is_permanent_and_not_a_transport_error(resolver: Resolver) -> None:
    resolver.answer("store.test", "10.1.2.3")
    with pytest.raises(Permanent) as caught:
        WooClient("https://store.test", CK, CS).get("orders")
    assert isinstance(caught.value, UnsafeUrl)
    assert str(caught.value) == "refused: store.test resolves to 10.1.2.3, not a public address"


def test_one_private_address_among_public_ones_refuses_the_name(
    resolver: Resolver, connects: list[str]
) -> None:
    def both(real: Callable[..., Any], host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "mixed.test":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    resolver.getaddrinfo = both  # type: ignore[method-assign]
    with pytest.raises(UnsafeAddress, match=r"127\.0\.0\.1"):
        WooClient("https://mixed.test", CK, CS).get("orders")
    assert connects == []


def test_the_checked_address_is_the_one_connected_to_and_the_host_is_kept(
    resolver: Resolver, connects: list[str]
) -> None:
    with Site(lambda path: ok([])) as site:
        resolver.answer("store.test", "127.0.0.1")
        client = WooClient(f"http://store.test:{site.port}", CK, CS, policy=SANDBOX)
        assert client.get("products") == []
        assert site.hosts == [f"store.test:{site.port}"]  # the Host header still names the store
    assert connects == ["127.0.0.1"]  # one connection, to the address the one lookup returned
    assert resolver.lookups == ["store.test"]


# --------------------------------------------------------------------------- redirects


def test_a_redirect_to_the_metadata_address_is_refused(connects: list[str]) -> None:
    with (
        Site(lambda path: redirect(f"http://{METADATA}/latest/meta-data/")) as site,
        pytest.raises(OffOriginRedirect, match="redirect_off_origin"),
    ):
        WooClient(f"http://127.0.0.1:{site.port}", CK, CS, policy=SANDBOX).get("products")
    assert outside(connects) == []


def test_a_redirect_to_another_origin_is_refused_even_on_loopback(connects: list[str]) -> None:
    with Site(lambda path: ok({"secret": "elsewhere"})) as other:
        target = f"http://127.0.0.1:{other.port}/wp-json/wc/v3/products"
        with Site(lambda path: redirect(target)) as site:
            client = WooClient(f"http://127.0.0.1:{site.port}", CK, CS, policy=SANDBOX)
            with pytest.raises(OffOriginRedirect):
                client.get("products")
            # Another scheme on the same host is another origin too.
            with (
                Site(lambda path: redirect(f"https://127.0.0.1:{site.port}/x")) as downgrade,
                pytest.raises(OffOriginRedirect),
            ):
                WooClient(f"http://127.0.0.1:{downgrade.port}", CK, CS, policy=SANDBOX).get("products")
        assert other.paths == []


def test_a_same_origin_redirect_is_followed(connects: list[str]) -> None:
    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/wp-json/wc/v3/products"):
            return redirect("/wp-json/wc/v3/moved")
        return ok([{"id": 7}])

    with Site(answer) as site:
        assert WooClient(f"http://127.0.0.1:{site.port}", CK, CS, policy=SANDBOX).get("products") == [
            {"id": 7}
        ]
        assert [p.split("?")[0] for p in site.paths] == ["/wp-json/wc/v3/products", "/wp-json/wc/v3/moved"]


def test_a_same_origin_redirect_is_checked_again_at_connect_time(
    resolver: Resolver, connects: list[str]
) -> None:
    # The first connection reaches the store; the redirect closes it, and by the time
    # the next connection is made the name points at the metadata address.
    with Site(lambda path: redirect("/wp-json/wc/v3/elsewhere", close=True)) as site:
        resolver.answer("store.test", "127.0.0.1", METADATA)
        with pytest.raises(UnsafeAddress, match=METADATA):
            WooClient(f"http://store.test:{site.port}", CK, CS, policy=SANDBOX).get("products")
        assert len(site.paths) == 1
    assert connects == ["127.0.0.1"]


# --------------------------------------------------------------------------- sandbox allowance


def test_the_sandbox_allowance_reaches_the_simulators_and_nothing_else_private(
    resolver: Resolver, connects: list[str]
) -> None:
    sim = WooCommerceSimulator()
    with serve(sim) as running:
        sim.bind(running.url)
        ck, cs = sim.create_key("read_write")
        assert WooClient(running.url, ck, cs, timeout_s=5, policy=SANDBOX).get("products") == []
        with pytest.raises(UnsafeAddress, match="not a public address"):
            WooClient(running.url, ck, cs, timeout_s=5, policy=STRICT).get("products")
    for address in (METADATA, "10.0.0.1", "192.168.1.1", "fe80::1"):
        resolver.answer("store.test", address)
        with pytest.raises(UnsafeAddress, match="not a public or loopback address"):
            WooClient("http://store.test", ck, cs, policy=SANDBOX).get("products")
    assert outside(connects) == []


def test_the_allowance_comes_from_the_settings(app: Any, config: dict[str, Any]) -> None:
    from app import create_app  # ``app`` has brought the database to the current migration

    for sandbox in (False, True):
        other = create_app({**config, "sandbox": sandbox})
        try:
            assert address_policy(other.extensions["waybill"]) == AddressPolicy(allow_loopback=sandbox)
        finally:
            other.extensions["waybill"].close()


# --------------------------------------------------------------------------- error bodies stay outside

EMAIL = "jane.leak@example.com"
PAGE = (
    "<html><body><h1>Fatal error</h1><p>Uncaught exception in /var/www/wp-content/plugins/x.php "
    f"for customer {EMAIL}</p>" + "<pre>STACK-TRACE-LINE</pre>" * 200 + "</body></html>"
).encode()


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


LONG = f"Contact {EMAIL}: STACK-TRACE-LINE " * 50


@pytest.mark.parametrize(
    ("platform", "answer"),
    [
        (Platform.woocommerce, (500, {"Content-Type": "text/html"}, PAGE)),
        (Platform.woocommerce, _json(400, {"code": "rest_invalid_param", "message": LONG})),
        (Platform.woocommerce, _json(403, {"code": f"{EMAIL} STACK-TRACE-LINE", "message": "no"})),
        (Platform.shopify, _json(500, {"errors": LONG})),
        (
            Platform.shopify,
            _json(200, {"errors": [{"message": LONG, "extensions": {"code": "BAD_REQUEST"}}]}),
        ),
    ],
    ids=["woo-html-500", "woo-wp-error-400", "woo-prose-in-code-403", "shopify-500", "shopify-graphql-error"],
)
def test_a_store_error_body_reaches_no_timeline_dead_letter_or_log(
    app: Any, config: dict[str, Any], platform: Platform, answer: tuple[int, dict[str, str], bytes]
) -> None:
    from app import create_app  # ``app`` has brought the database to the current migration

    with Site(lambda path: answer) as site:
        origin = f"http://127.0.0.1:{site.port}"
        sandbox_app = create_app({**config, "sandbox": True, "shopify": {"base_url": origin}})
        rt = sandbox_app.extensions["waybill"]
        try:
            if platform is Platform.woocommerce:
                store_id = save_store(
                    rt, platform, origin, {"consumer_key": CK, "consumer_secret": CS}, "read_write"
                )
            else:
                store_id = save_store(rt, platform, "leaky.myshopify.com", {"access_token": "shpat_x"}, None)
            with structlog.testing.capture_logs() as logs:
                msg = JobMessage("reconcile_store", {"store_id": store_id}, "reconcile-store-1", "reconcile")
                result = execute(rt, msg)
            assert site.paths  # the store was called and answered with its page
            assert result.outcome is Outcome.dead
            with rt.session() as s:
                letters = list(s.scalars(select(DeadLetter)))
                timeline = list(s.scalars(select(TimelineEntry)))
                store = s.get(Store, store_id)
                assert store is not None
                kept = [
                    *(d.error for d in letters),
                    *(f"{t.reason} {json.dumps(t.data)}" for t in timeline),
                    json.dumps(store.settings),
                    json.dumps(logs, default=str),
                ]
        finally:
            rt.close()
    for text in kept:
        assert EMAIL not in text
        assert "STACK-TRACE-LINE" not in text
        assert "Fatal error" not in text
    [letter] = letters
    assert len(letter.error) < 200
    if answer[0] != 200:
        assert f"HTTP {answer[0]}" in letter.error


# --------------------------------------------------------------------------- TLS names the host


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (and its key), written under ``tmp_path``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_tls_names_the_store_while_connecting_to_the_checked_address(
    tmp_path: Path, resolver: Resolver, connects: list[str]
) -> None:
    cert, key = _certificate(tmp_path, "store.test")
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    with Site(lambda path: ok({"ok": True})) as site:
        site.server.socket = context.wrap_socket(site.server.socket, server_side=True)
        resolver.answer("store.test", "127.0.0.1")
        with guarded_session(SANDBOX) as session:
            answer = session.get(f"https://store.test:{site.port}/", verify=str(cert), timeout=5)
            assert answer.json() == {"ok": True}
        assert names == ["store.test"]  # SNI carries the name
        assert site.hosts == [f"store.test:{site.port}"]
        # The certificate is checked against the name, not the address connected to.
        other_cert, _ = _certificate(tmp_path, "other.test")
        with guarded_session(SANDBOX) as session, pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://store.test:{site.port}/", verify=str(other_cert), timeout=5)
    assert set(connects) == {"127.0.0.1"}

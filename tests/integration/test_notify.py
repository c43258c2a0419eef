"""The notifier port (connectors/notify) and its choice from the settings (sync/notify.py).

- file: one JSON file per message key, a second send of the key writes nothing new;
- log: one line by key, never the address, subject or text;
- smtp: a real SMTP server in this process (aiosmtpd) receives the message, over plain
  SMTP and over STARTTLS with a login (a certificate made here, trusted through
  ``SSL_CERT_FILE``); the Message-ID follows the key; a wrong password is refused.

Log lines are captured raw (``structlog.testing.capture_logs``, before the redaction that
JSON output applies), so a leak cannot hide behind the redactor.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import smtplib
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message as EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.notify import FileNotifier, LogNotifier, Message, SmtpNotifier
from sync.notify import notifier_for
from tests.procs import free_port

ADDRESS = "jane.doe@example.com"
SUBJECT = "Your parcel is running late"
BODY = "Hello Jane, parcel 1 of order #1001 is running late: it should reach 12 Elm St on Friday."
PERSONAL = (ADDRESS, "jane.doe", "Jane", SUBJECT, "12 Elm St", "running late")
USER, PASSWORD = "mailer", "s3cret-pass"


def message(key: str = "notice:7:late", **fields: Any) -> Message:
    values: dict[str, Any] = {"key": key, "to": ADDRESS, "subject": SUBJECT, "body": BODY}
    values.update(fields)
    return Message(**values)


def assert_no_personal_data(logs: list[dict[str, Any]]) -> None:
    text = json.dumps(logs, default=str)
    for word in PERSONAL:
        assert word not in text, word


# --- file ------------------------------------------------------------------------------------


def test_the_file_notifier_writes_each_key_once(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    notifier = FileNotifier(outbox)
    with structlog.testing.capture_logs() as logs:
        first = notifier.send(message(html="<p>late</p>", sender_name="North Wind"))
        again = notifier.send(message(subject="changed", body="changed"))
        other = notifier.send(message(key="notice:7:delivered", subject="Delivered"))
    assert first == again != other
    assert sorted(p.name for p in outbox.iterdir()) == sorted([first, other])  # no temporary file left
    sent = notifier.sent()
    assert [m.key for m in sent] == ["notice:7:late", "notice:7:delivered"]
    assert sent[0] == message(html="<p>late</p>", sender_name="North Wind")  # the first send stands
    assert json.loads((outbox / first).read_text())["to"] == ADDRESS
    assert [(e["event"], e["key"]) for e in logs] == [
        ("notify.file", "notice:7:late"),
        ("notify.file", "notice:7:delivered"),
    ]  # the repeated send found its file and logged nothing
    assert_no_personal_data(logs)


def test_a_message_without_an_address_is_refused_by_every_backend(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    for notifier in (FileNotifier(outbox), LogNotifier(), SmtpNotifier("127.0.0.1", free_port(), "x@y.z")):
        with pytest.raises(ValueError, match="a message needs an address"):
            notifier.send(message(to=""))
    assert not outbox.exists()
    assert FileNotifier(outbox).sent() == []


# --- log -------------------------------------------------------------------------------------


def test_the_log_notifier_logs_the_key_and_never_the_message(tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        sent = LogNotifier().send(message())
        same = LogNotifier().send(message(subject="other"))
    assert sent == same and sent.startswith("log:") and len(sent) == 4 + 32
    assert logs == [
        {"event": "notify.log", "log_level": "info", "key": "notice:7:late", "subject_chars": len(SUBJECT)},
        {"event": "notify.log", "log_level": "info", "key": "notice:7:late", "subject_chars": len("other")},
    ]
    assert_no_personal_data(logs)


# --- smtp ------------------------------------------------------------------------------------


class Inbox:
    """The SMTP server's handler: every message it accepted."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(e.original_content or b"", policy=default_policy) for e in self.envelopes]


def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # a refusal answers 535


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inbox, int]]:
    """An SMTP server that requires STARTTLS before anything and a login before mail; the
    client trusts its certificate through SSL_CERT_FILE, as it would a real CA's."""
    cert_file, key_file = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_smtp_delivers_the_message_with_a_message_id_from_its_key(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    notifier = SmtpNotifier("127.0.0.1", port, "North Wind <shop@northwind.example>", starttls=False)
    with structlog.testing.capture_logs() as logs:
        first = notifier.send(message(html="<p>Running <b>late</b></p>"))
        again = notifier.send(message())
    assert first == again and first.startswith("<") and first.endswith("@waybill.local>")
    assert [e.rcpt_tos for e in inbox.envelopes] == [[ADDRESS], [ADDRESS]]
    assert inbox.envelopes[0].mail_from == "shop@northwind.example"
    mail = inbox.messages()[0]
    assert (mail["From"], mail["To"], mail["Subject"], mail["Message-ID"]) == (
        "North Wind <shop@northwind.example>",
        ADDRESS,
        SUBJECT,
        first,
    )
    body = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert body is not None and body.get_content().strip() == BODY
    assert html is not None and html.get_content().strip() == "<p>Running <b>late</b></p>"
    assert not inbox.messages()[1].is_multipart()  # no html: the text alone
    assert [e["event"] for e in logs] == ["notify.smtp", "notify.smtp"]
    assert_no_personal_data(logs)


def test_smtp_over_starttls_with_a_login(tls_server: tuple[Inbox, int]) -> None:
    inbox, port = tls_server
    notifier = SmtpNotifier("localhost", port, "shop@northwind.example", USER, PASSWORD, starttls=True)
    with structlog.testing.capture_logs() as logs:
        notifier.send(message())
    [mail] = inbox.messages()
    assert mail["Subject"] == SUBJECT and mail["To"] == ADDRESS
    assert PASSWORD not in repr(notifier) and PASSWORD not in json.dumps(logs, default=str)
    assert_no_personal_data(logs)

    refused = SmtpNotifier("localhost", port, "shop@northwind.example", USER, "wrong", starttls=True)
    with pytest.raises(smtplib.SMTPAuthenticationError):
        refused.send(message(key="notice:7:delivered"))
    plain = SmtpNotifier("localhost", port, "shop@northwind.example", USER, PASSWORD, starttls=False)
    with pytest.raises(smtplib.SMTPException):  # this server takes nothing before STARTTLS
        plain.send(message(key="notice:8:late"))
    assert len(inbox.envelopes) == 1


def test_smtp_refuses_a_server_whose_certificate_it_does_not_trust(
    tls_server: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    inbox, port = tls_server
    (tmp_path / "other").mkdir()
    other_cert, _ = self_signed(tmp_path / "other")  # another certificate: the server's is unknown
    monkeypatch.setenv("SSL_CERT_FILE", str(other_cert))
    notifier = SmtpNotifier("localhost", port, "shop@northwind.example", USER, PASSWORD)
    with pytest.raises(ssl.SSLCertVerificationError):
        notifier.send(message())
    assert inbox.envelopes == []


# --- the settings' choice ------------------------------------------------------------------------


@pytest.fixture(params=["file", "log", "smtp"])
def backend(config: dict[str, Any], request: pytest.FixtureRequest) -> str:
    """The notifier settings, set before the app (``rt``) is built from ``config``."""
    smtp = {
        "host": "mail.example.com",
        "port": 2525,
        "username": USER,
        "password": PASSWORD,
        "starttls": False,
    }
    config["notifier"] = {"backend": request.param, "smtp": smtp}
    return str(request.param)


def test_the_settings_choose_the_backend(backend: str, config: dict[str, Any], rt: Any) -> None:
    notifier = notifier_for(rt)
    assert notifier.kind == backend
    if isinstance(notifier, FileNotifier):
        assert notifier.directory == Path(config["var_dir"]) / "outbox"
    if isinstance(notifier, SmtpNotifier):
        assert (notifier.host, notifier.port, notifier.username, notifier.password) == (
            "mail.example.com",
            2525,
            USER,
            PASSWORD,
        )
        assert notifier.starttls is False and PASSWORD not in repr(notifier)

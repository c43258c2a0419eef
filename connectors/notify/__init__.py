"""The notifier port: how Waybill sends a customer a message (tracking notices, later returns).

A :class:`Message` is addressed and already rendered; a :class:`Notifier` delivers it and
answers with an id. Backends:

- ``file``: one JSON file per message under a directory (development, tests, the demo);
  the id is the file's name, and a second send of the same ``key`` finds the file instead of
  writing another;
- ``log``: one log line without the address or the text (a dry run);
- ``smtp``: e-mail through an SMTP server (``smtplib``, STARTTLS by default).

Nothing here logs an address, a name or a message body: those are personal data.
Exactly-once is the caller's: each send runs inside the effects ledger under its ``key``.
"""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import ssl
import tempfile
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import structlog

log = structlog.get_logger("waybill.notify")


@dataclass(frozen=True)
class Message:
    """One message to one customer: ``key`` names it once and for all (the ledger key)."""

    key: str
    to: str
    subject: str
    body: str
    sender_name: str | None = None
    html: str | None = None


class Notifier(Protocol):
    kind: str

    def send(self, message: Message) -> str:
        """Deliver ``message``; returns the backend's id for it."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


class FileNotifier:
    """Writes each message as ``<sha256(key)[:32]>.json`` in ``directory`` (atomically)."""

    kind = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: Message) -> str:
        if not message.to:
            raise ValueError("a message needs an address")
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{_digest(message.key)}.json"
        path = self.directory / name
        if path.exists():  # sent already (a retry after a lost answer)
            return name
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".msg-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(message), handle, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
        log.info("notify.file", key=message.key, file=name)
        return name

    def sent(self) -> list[Message]:
        """Every message in the directory (oldest file first): what tests and the demo read."""
        if not self.directory.is_dir():
            return []
        files = sorted(self.directory.glob("*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        return [Message(**json.loads(p.read_text(encoding="utf-8"))) for p in files]


class LogNotifier:
    """Sends nothing: logs that a message would go, by key (never the address or text)."""

    kind = "log"

    def send(self, message: Message) -> str:
        if not message.to:
            raise ValueError("a message needs an address")
        log.info("notify.log", key=message.key, subject_chars=len(message.subject))
        return f"log:{_digest(message.key)}"


class SmtpNotifier:
    """E-mail through SMTP; the Message-ID is derived from the key, so the id is stable."""

    kind = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout_s: float = 15.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout_s = starttls, timeout_s

    def __repr__(self) -> str:  # never show the password
        return f"SmtpNotifier(host={self.host!r}, port={self.port})"

    def send(self, message: Message) -> str:
        if not message.to:
            raise ValueError("a message needs an address")
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        # The key alone makes the id (make_msgid would add the time and a random number): a
        # resend after a lost answer carries the same Message-ID, which receivers deduplicate.
        msg_id = f"<{_digest(message.key)}@waybill.local>"
        email["Message-ID"] = msg_id
        email.set_content(message.body)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(email)
        log.info("notify.smtp", key=message.key)
        return msg_id

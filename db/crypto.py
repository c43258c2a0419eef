"""Credentials at rest: Fernet encryption with ``WAYBILL_SECRET_KEY``.

``WAYBILL_SECRET_KEY`` may hold several comma-separated Fernet keys: the first
encrypts, all decrypt (``MultiFernet``), so a key can be rotated without downtime:
prepend the new key, run ``waybill keys rotate``, then drop the old one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE_NAME = "secret.key"
PLAIN_KEPT = 512  # decrypted secrets a Vault keeps, by their token (a job builds a client per store)


class SecretKeyError(Exception):
    """The secret key is missing or malformed."""


class Vault:
    """Encrypts and decrypts small secrets (tokens, API keys, webhook secrets)."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise SecretKeyError("WAYBILL_SECRET_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except ValueError as exc:
            raise SecretKeyError(
                "WAYBILL_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes), comma-separated; "
                "make one with `./waybill keys generate`"
            ) from exc
        # A token always decrypts to the same text under the same keys: each is decrypted
        # once per process (a Fernet decryption and its HMAC per job and store, before).
        self._plain: dict[bytes, str] = {}

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        token = bytes(token)
        kept = self._plain.get(token)
        if kept is not None:
            return kept
        try:
            plain = self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise SecretKeyError("cannot decrypt a stored secret: wrong WAYBILL_SECRET_KEY?") from exc
        if len(self._plain) >= PLAIN_KEPT:
            self._plain.clear()
        self._plain[token] = plain
        return plain

    def encrypt_json(self, data: dict[str, Any]) -> bytes:
        return self.encrypt(json.dumps(data, sort_keys=True))

    def decrypt_json(self, token: bytes) -> dict[str, Any]:
        value = json.loads(self.decrypt(token))
        if not isinstance(value, dict):
            raise SecretKeyError("stored credentials are not a JSON object")
        return value

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt ``token`` with the first (newest) key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise SecretKeyError("cannot decrypt a stored secret with any configured key") from exc


def generate_key() -> str:
    return Fernet.generate_key().decode()


def embedded_key(var_dir: Path) -> str:
    """The embedded-mode key: read from ``var/secret.key``, created 0600 on first start."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / KEY_FILE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        key = generate_key()
        handle.write(key + "\n")
    return key

"""Merchant accounts and their API tokens (only a hash of a token is stored)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Account, ApiToken, ConsoleSession, User, utcnow

TOKEN_PREFIX = "wb_"


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a plain SHA-256 cannot be brute-forced; no salt needed.
    return hashlib.sha256(token.encode()).hexdigest()


def get_or_create_account(s: Session, name: str) -> Account:
    account = s.scalar(select(Account).where(Account.name == name))
    if account is None:
        account = Account(name=name)
        s.add(account)
        s.flush()
    return account


def issue_token(s: Session, account: Account) -> str:
    """Create a token for ``account``; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    s.add(ApiToken(account_id=account.id, token_hash=hash_token(token), prefix=token[:10]))
    s.flush()
    return token


def token_for(s: Session, token: str) -> ApiToken | None:
    """The live (not revoked) token row for a plain token, its last use noted."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = s.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )
    if row is not None:
        row.last_used_at = utcnow()
    return row


def account_for_token(s: Session, token: str) -> Account | None:
    row = token_for(s, token)
    return None if row is None else s.get(Account, row.account_id)


def find_tokens(s: Session, ref: str) -> list[ApiToken]:
    """Tokens matching ``ref``: a token id (digits) or the start of a token (its shown prefix)."""
    ref = ref.strip()
    if ref.isdigit() and len(ref) <= 18:
        row = s.get(ApiToken, int(ref))
        return [] if row is None else [row]
    if len(ref) < 4:
        return []
    key = ref[:10]
    rows = s.scalars(select(ApiToken).where(ApiToken.prefix.startswith(key, autoescape=True)))
    return [r for r in rows if len(ref) <= 10 or hash_token(ref) == r.token_hash]


def revoke_token(s: Session, row: ApiToken) -> int:
    """Revoke ``row`` and end every console session signed in with it; returns how many ended."""
    now = utcnow()
    if row.revoked_at is None:
        row.revoked_at = now
    ended = s.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_id == row.id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(getattr(ended, "rowcount", 0) or 0)


# --------------------------------------------------------------------------- console sessions


def start_session(s: Session, token: ApiToken) -> str:
    """A new console session for ``token``'s account; returns the key for the cookie (kept hashed)."""
    key = secrets.token_urlsafe(32)
    s.add(ConsoleSession(key_hash=hash_token(key), account_id=token.account_id, token_id=token.id))
    s.flush()
    return key


def live_session(s: Session, key: str, idle: timedelta, lifetime: timedelta) -> ConsoleSession | None:
    """The session for cookie ``key`` if it is still valid (ends it when it has just expired)."""
    if not key:
        return None
    row = s.scalar(select(ConsoleSession).where(ConsoleSession.key_hash == hash_token(key)))
    if row is None or row.ended_at is not None:
        return None
    now = utcnow()
    if row.token_id is not None:
        token = s.get(ApiToken, row.token_id)
        gone = token is None or token.revoked_at is not None
    else:
        user = s.get(User, row.user_id) if row.user_id is not None else None
        gone = user is None or user.disabled_at is not None
    if gone or now - row.created_at > lifetime:
        row.ended_at = now
        return None
    if now - row.last_seen_at > idle:
        row.ended_at = now
        return None
    if now - row.last_seen_at > timedelta(seconds=30):  # not a write per request
        row.last_seen_at = now
    return row


def end_session(s: Session, key: str) -> None:
    if key:
        s.execute(
            update(ConsoleSession)
            .where(ConsoleSession.key_hash == hash_token(key), ConsoleSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )

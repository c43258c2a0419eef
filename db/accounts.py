"""Merchant accounts and their API tokens (only a hash of a token is stored)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Account, ApiToken, utcnow

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


def account_for_token(s: Session, token: str) -> Account | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = s.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )
    if row is None:
        return None
    row.last_used_at = utcnow()
    return s.get(Account, row.account_id)

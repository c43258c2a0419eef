"""Console users: passwords (argon2id), roles, and their console sessions.

Invitations, password resets and the Shopify session-token sign-in build on these
(``web.console.users``). A role's rank says what it may do: a packer picks, packs and
prints; staff run orders, stock, exceptions and returns; an owner also manages users,
tokens and settings.
"""

from __future__ import annotations

import contextlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.accounts import hash_token
from db.models import Account, ConsoleSession, Role, User, utcnow

RANK = {Role.packer: 0, Role.staff: 1, Role.owner: 2}
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a wrong e-mail costs what a wrong password does.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def may(role: Role | str, needed: Role | str) -> bool:
    """Whether ``role`` may do what ``needed`` may (owner > staff > packer)."""
    return RANK[Role(role)] >= RANK[Role(needed)]


def normal_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's (rehashing it when the parameters moved on)."""
    if not user.password_hash:
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def create_user(
    s: Session, account: Account, email: str, password: str | None, role: Role | str = Role.staff
) -> User:
    user = User(
        account_id=account.id,
        email=normal_email(email),
        password_hash=hash_password(password) if password is not None else None,
        role=Role(role),
    )
    s.add(user)
    s.flush()
    return user


def user_by_email(s: Session, email: str) -> User | None:
    return s.scalar(select(User).where(func.lower(User.email) == normal_email(email)))


def authenticate(s: Session, email: str, password: str) -> User | None:
    """The live user with this e-mail and password, else None (same work either way)."""
    user = user_by_email(s, email)
    if user is None or user.disabled_at is not None or not user.password_hash:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY, password)
        return None
    if not check_password(user, password):
        return None
    user.last_login_at = utcnow()
    return user


def start_user_session(s: Session, user: User, embedded_shop: str | None = None) -> str:
    """A new console session for ``user``; returns the key for the cookie (kept hashed)."""
    key = secrets.token_urlsafe(32)
    s.add(
        ConsoleSession(
            key_hash=hash_token(key), account_id=user.account_id, user_id=user.id, embedded_shop=embedded_shop
        )
    )
    s.flush()
    return key

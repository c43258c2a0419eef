"""Console users: passwords (argon2id), roles, and their console sessions.

Invitations, password resets and the Shopify session-token sign-in build on these
(``web.console.users``). A role's rank says what it may do: a packer picks, packs and
prints; staff run orders, stock, exceptions and returns; an owner also manages users,
tokens and settings.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.accounts import hash_token
from db.models import Account, ConsoleSession, Role, User, UserLink, utcnow

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


# --------------------------------------------------------------------------- managing users


class UserError(ValueError):
    """A change to users that cannot be made (the message says why; nothing was changed)."""


LINK_PREFIX = "wbl_"
INVITE, RESET = "invite", "reset"
# A Shopify admin user signing in for the first time joins as staff: they run orders but do
# not manage users, tokens or settings until an owner promotes them.
SHOPIFY_USER_ROLE = Role.staff


def account_user(s: Session, account_id: int, user_id: int) -> User | None:
    """The account's user ``user_id``; another account's user is simply not found."""
    user = s.get(User, user_id)
    return user if user is not None and user.account_id == account_id else None


def users_of(s: Session, account_id: int) -> list[User]:
    return list(s.scalars(select(User).where(User.account_id == account_id).order_by(User.id)))


def _live_owners(s: Session, account_id: int) -> int:
    return int(
        s.scalar(
            select(func.count(User.id)).where(
                User.account_id == account_id, User.role == Role.owner, User.disabled_at.is_(None)
            )
        )
        or 0
    )


def _keeps_an_owner(s: Session, user: User) -> None:
    if user.role == Role.owner and user.disabled_at is None and _live_owners(s, user.account_id) <= 1:
        raise UserError("an account keeps at least one owner: make another user owner first")


def end_user_sessions(s: Session, user_id: int, keep_key: str | None = None) -> int:
    """End every live console session of the user (but the one with ``keep_key``); returns how many."""
    query = update(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
    if keep_key:
        query = query.where(ConsoleSession.key_hash != hash_token(keep_key))
    ended = s.execute(query.values(ended_at=utcnow()))
    return int(getattr(ended, "rowcount", 0) or 0)


def set_role(s: Session, user: User, role: Role | str) -> None:
    role = Role(role)
    if role != user.role:
        if role != Role.owner:
            _keeps_an_owner(s, user)
        user.role = role


def set_disabled(s: Session, user: User, disabled: bool) -> int:
    """Disable (ending the user's sessions; returns how many) or enable the user."""
    if not disabled:
        user.disabled_at = None
        return 0
    if user.disabled_at is not None:
        return 0
    _keeps_an_owner(s, user)
    user.disabled_at = utcnow()
    return end_user_sessions(s, user.id)


def create_owner(s: Session, account: Account, email: str, password: str, name: str | None = None) -> User:
    """An owner for ``account`` (the first one, from the CLI); the e-mail must be new."""
    if "@" not in email.strip():
        raise UserError("that is not an e-mail address")
    if user_by_email(s, email) is not None:
        raise UserError("a user with that e-mail already exists")
    try:
        user = create_user(s, account, email, password, Role.owner)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    user.name = (name or "").strip()[:200] or None
    return user


# --------------------------------------------------------------------------- one-time links


def issue_link(
    s: Session,
    account_id: int,
    purpose: str,
    email: str,
    hours: float,
    role: Role | str = Role.staff,
    user_id: int | None = None,
    created_by: int | None = None,
) -> tuple[UserLink, str]:
    """A one-time link; returns the row and its secret (shown once, kept hashed)."""
    secret = LINK_PREFIX + secrets.token_urlsafe(32)
    row = UserLink(
        account_id=account_id,
        user_id=user_id,
        purpose=purpose,
        email=normal_email(email),
        role=Role(role),
        token_hash=hash_token(secret),
        created_by=created_by,
        expires_at=utcnow() + timedelta(hours=hours),
    )
    s.add(row)
    s.flush()
    return row, secret


def invite(
    s: Session, account_id: int, email: str, role: Role | str, hours: float, by: int | None
) -> tuple[UserLink, str]:
    """An invitation to join the account as ``role``; earlier unused ones to that e-mail stop working."""
    email = normal_email(email)
    if "@" not in email or len(email) > 320 or any(c <= " " for c in email):
        raise UserError("that is not an e-mail address")
    if user_by_email(s, email) is not None:
        raise UserError("a user with that e-mail already exists")
    s.execute(
        update(UserLink)
        .where(
            UserLink.account_id == account_id,
            UserLink.purpose == INVITE,
            UserLink.email == email,
            UserLink.used_at.is_(None),
        )
        .values(expires_at=utcnow())
    )
    return issue_link(s, account_id, INVITE, email, hours, role=role, created_by=by)


def reset_link(s: Session, email: str, hours: float) -> tuple[UserLink, str] | None:
    """A password-reset link (and its secret) for the live user with ``email``, else None."""
    user = user_by_email(s, email)
    if user is None or user.disabled_at is not None or not user.email:
        return None
    return issue_link(s, user.account_id, RESET, user.email, hours, role=user.role, user_id=user.id)


def live_link(s: Session, secret: str, purpose: str) -> UserLink | None:
    """The unused, unexpired link of ``purpose`` with this secret, else None."""
    if not secret.startswith(LINK_PREFIX) or len(secret) > 100:
        return None
    row = s.scalar(select(UserLink).where(UserLink.token_hash == hash_token(secret)))
    if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def _use(s: Session, link: UserLink) -> None:
    """Mark the link used, once: a second request racing this one changes no row and is refused."""
    done = s.execute(
        update(UserLink).where(UserLink.id == link.id, UserLink.used_at.is_(None)).values(used_at=utcnow())
    )
    if int(getattr(done, "rowcount", 0) or 0) != 1:
        raise UserError("this link has been used already")


def accept_invite(s: Session, link: UserLink, name: str, password: str) -> User:
    """The invited user, created with ``name`` and ``password``; the link is used up."""
    account = s.get(Account, link.account_id)
    if account is None:
        raise UserError("the account no longer exists")
    if user_by_email(s, link.email) is not None:
        raise UserError("a user with that e-mail already exists")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    _use(s, link)
    user = User(
        account_id=account.id,
        email=link.email,
        name=name.strip()[:200] or None,
        password_hash=password_hash,
        role=link.role,
        last_login_at=utcnow(),
    )
    s.add(user)
    s.flush()
    return user


def reset_password(s: Session, link: UserLink, password: str) -> User:
    """Set the user's new password; the link is used up and every session of the user ends."""
    user = s.get(User, link.user_id) if link.user_id is not None else None
    if user is None or user.disabled_at is not None or user.account_id != link.account_id:
        raise UserError("this link is not valid")
    try:
        user.password_hash = hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    _use(s, link)
    end_user_sessions(s, user.id)
    user.last_login_at = utcnow()
    return user


# --------------------------------------------------------------------------- Shopify admin users


def shopify_user(s: Session, account_id: int, shopify_user_id: str) -> User:
    """The account's user for this Shopify admin user, created (as :data:`SHOPIFY_USER_ROLE`) the
    first time they open the app."""
    user = s.scalar(
        select(User).where(User.account_id == account_id, User.shopify_user_id == shopify_user_id)
    )
    if user is None:
        user = User(account_id=account_id, shopify_user_id=shopify_user_id, role=SHOPIFY_USER_ROLE)
        s.add(user)
        s.flush()
    return user

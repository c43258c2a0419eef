"""Finding a customer's order for the returns portal: its number plus the e-mail address or
the postcode it was placed with.

The number is matched whatever its case, spaces and leading ``#``; the e-mail address
trimmed and in any case; the postcode without spaces or dashes, in any case (shipping or
billing address). Every candidate order is compared with ``hmac.compare_digest`` against
both the e-mail and the postcodes, and when no order has the number one made-up candidate
is compared all the same, so a wrong e-mail or postcode and an unknown order cost the same
work and give the same answer: nothing. A redacted order (privacy erasure) is never found.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.orders import email_key
from db.models import Order

MAX_NUMBER = 64  # characters of an order number, as the column holds
MAX_CONTACT = 320  # characters of an e-mail address
MAX_CANDIDATES = 20  # orders of one number across the accounts (numbers repeat between merchants)
_SPACES = re.compile(r"[\s\-]+")
_NUMBER_SPACES = re.compile(r"\s+")
_DECOY = {"email": "\x00decoy", "postcodes": ("\x00DECOY",)}


@dataclass(frozen=True)
class Found:
    order_id: int
    account_id: int


def number_key(number: str) -> str | None:
    """An order number as the portal matches it: no spaces, no leading ``#``, lower case."""
    text = _NUMBER_SPACES.sub("", number or "").lstrip("#").lower()
    return text if text and len(text) <= MAX_NUMBER and text.isprintable() else None


def postcode_key(postcode: str | None) -> str | None:
    """A postcode as the portal matches it: no spaces or dashes, upper case."""
    text = _SPACES.sub("", postcode or "").upper()
    return text or None


def _same(given: str, held: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), held.encode("utf-8"))


def _postcodes(data: dict[str, Any]) -> tuple[str, ...]:
    found = []
    for key in ("shipping_address", "billing_address"):
        address = data.get(key)
        code = postcode_key(address.get("postal_code")) if isinstance(address, dict) else None
        found.append(code or "\x00none")  # always two comparisons, matched or not
    return tuple(found)


def _matches(contact: str, email: str | None, postcodes: tuple[str, ...]) -> bool:
    """Compare the contact with every held value, without stopping early: as an e-mail
    address when it has an ``@``, else as a postcode."""
    email_hit = _same(email_key(contact) or "", email or "\x00none")
    postcode_hit = False
    for code in postcodes:
        postcode_hit = _same(postcode_key(contact) or "", code) | postcode_hit
    return email_hit if "@" in contact else postcode_hit


def find_order(s: Session, number: str, contact: str) -> Found | None:
    """The order with this number whose e-mail or postcode is ``contact``; None otherwise
    (no such number, or a contact that does not match: the caller cannot tell which).
    When orders of several merchants match, the most recent one."""
    key = number_key(number)
    contact = (contact or "").strip()
    if key is None or not contact or len(contact) > MAX_CONTACT:
        return None
    rows = s.execute(
        select(Order.id, Order.account_id, Order.email, Order.data)
        .where(func.lower(Order.number).in_([key, f"#{key}"]), Order.redacted_at.is_(None))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(MAX_CANDIDATES)
    ).all()
    if not rows:
        _matches(contact, str(_DECOY["email"]), tuple(_DECOY["postcodes"]))  # the same work as a miss
        return None
    found = None
    for order_id, account_id, email, data in rows:
        held = email_key(email) or email_key((data or {}).get("email"))
        if _matches(contact, held, _postcodes(data or {})) and found is None:
            found = Found(int(order_id), int(account_id))
    return found

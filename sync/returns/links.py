"""The returns portal's addresses (web/returns_portal.py): an order (after the customer
proved it is theirs) or one return, signed with the secret key, like the tracking page's
(sync/tracking/links.py). ``return_page_url`` is the link to give a customer for a return.

A token is unguessable without the key and names one order or one return; it expires
after ``MAX_AGE_S`` (the customer looks the order up again). A wrong, altered or expired
token names nothing, and the portal answers it like an unknown page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeTimedSerializer

from sync.runtime import secret_key_for

if TYPE_CHECKING:
    from sync.runtime import Runtime

SALT = "waybill.returns-portal"
MAX_AGE_S = 60 * 24 * 3600  # 60 days: longer than any return window plus the parcel's way back
MAX_TOKEN = 300  # characters; a longer one is not ours
ORDER, RETURN = "o", "r"


def _serializer(rt: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key_for(rt.settings), salt=SALT)


def order_token(rt: Runtime, order_id: int) -> str:
    """The portal page of one order (its returnable items and its returns)."""
    return str(_serializer(rt).dumps([ORDER, int(order_id)]))


def return_token(rt: Runtime, return_id: int) -> str:
    """The status page of one return (its state, and the label once bought)."""
    return str(_serializer(rt).dumps([RETURN, int(return_id)]))


def return_page_url(rt: Runtime, return_id: int) -> str:
    return f"{rt.settings.public_url}/returns/r/{return_token(rt, return_id)}"


def _loads(rt: Runtime, token: str, kind: str, max_age_s: int) -> int | None:
    if not token or len(token) > MAX_TOKEN:
        return None
    try:
        value = _serializer(rt).loads(token, max_age=max_age_s)
    except BadSignature:  # SignatureExpired is one too
        return None
    if not isinstance(value, list) or len(value) != 2 or value[0] != kind:
        return None
    ident = value[1]
    return ident if isinstance(ident, int) and not isinstance(ident, bool) and ident > 0 else None


def order_for(rt: Runtime, token: str, max_age_s: int = MAX_AGE_S) -> int | None:
    """The order id an order token was signed for; None when it is not a valid one."""
    return _loads(rt, token, ORDER, max_age_s)


def return_for(rt: Runtime, token: str, max_age_s: int = MAX_AGE_S) -> int | None:
    """The return id a return token was signed for; None when it is not a valid one."""
    return _loads(rt, token, RETURN, max_age_s)

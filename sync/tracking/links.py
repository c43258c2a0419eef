"""The public tracking page's address: a shipment id signed with the secret key.

The token is unguessable without the key and tied to one shipment; a wrong or altered token
names no shipment (the page answers 404, saying nothing more).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer

from sync.runtime import secret_key_for

if TYPE_CHECKING:
    from sync.runtime import Runtime

SALT = "waybill.tracking-page"
PATH = "/t/"


def _serializer(rt: Runtime) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key_for(rt.settings), salt=SALT)


def token_for(rt: Runtime, shipment_id: int) -> str:
    return str(_serializer(rt).dumps(int(shipment_id)))


def tracking_page_url(rt: Runtime, shipment_id: int) -> str:
    return f"{rt.settings.public_url}{PATH}{token_for(rt, shipment_id)}"


def shipment_for(rt: Runtime, token: str) -> int | None:
    """The shipment id the token was signed for; None when it is not Waybill's signature."""
    if not token or len(token) > 200:
        return None
    try:
        value = _serializer(rt).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

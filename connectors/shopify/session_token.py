"""Shopify App Bridge session tokens: pure verification (no I/O).

When Shopify admin loads an embedded app it hands the app a session token (the
``id_token`` query parameter, or ``Authorization: Bearer`` from App Bridge): a JWT signed
with the app's API secret (HS256) whose claims say which shop and which admin user it is
for. A token is accepted only when

- it is signed with HS256 by the app's secret (any other algorithm, ``none`` included, is
  refused before the signature is looked at);
- its audience (``aud``) is the app's API key;
- it is within ``exp`` and ``nbf`` (a few seconds of leeway for clocks);
- its issuer (``iss``, ``https://<shop>/admin``) and destination (``dest``,
  ``https://<shop>``) name the same host, a valid ``*.myshopify.com`` shop domain;
- it names the admin user (``sub``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt

from connectors.shopify.oauth import valid_shop_domain

ALGORITHM = "HS256"
LEEWAY_S = 5
REQUIRED = ["exp", "nbf", "iss", "dest", "aud", "sub"]


class InvalidSessionToken(Exception):
    """The token is not one Shopify signed for this app, now, for a valid shop."""


@dataclass(frozen=True)
class SessionToken:
    shop: str  # the shop's domain, lower-cased: ``name.myshopify.com``
    user_id: str  # the Shopify admin user (``sub``)
    session_id: str | None  # Shopify's session (``sid``)


def _host(url: object, path: str) -> str:
    if not isinstance(url, str):
        raise InvalidSessionToken("iss and dest must be URLs")
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.port is not None or parts.path.rstrip("/") != path or parts.query:
        raise InvalidSessionToken("iss or dest is not a shop URL")
    host = (parts.hostname or "").lower()
    if not valid_shop_domain(host):
        raise InvalidSessionToken("not a shop domain")
    return host


def verify(token: str, api_key: str, api_secret: str, now: float | None = None) -> SessionToken:
    """The shop and user of a valid session token, else :class:`InvalidSessionToken`.

    ``now`` (seconds since the epoch) is for tests; by default the current time.
    """
    if not token or not api_key or not api_secret:
        raise InvalidSessionToken("no token or no app credentials")
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise InvalidSessionToken("the token is not HS256")
        options: dict[str, object] = {"require": REQUIRED}
        if now is not None:
            # PyJWT compares with the wall clock; a fixed ``now`` is checked here instead.
            options.update(verify_exp=False, verify_nbf=False, verify_iat=False)
        claims = jwt.decode(
            token,
            api_secret,
            algorithms=[ALGORITHM],
            audience=api_key,
            leeway=LEEWAY_S,
            options=options,  # type: ignore[arg-type]
        )
    except jwt.PyJWTError as exc:
        raise InvalidSessionToken(type(exc).__name__) from exc
    if now is not None:
        try:
            exp, nbf = float(claims["exp"]), float(claims["nbf"])
        except (TypeError, ValueError) as exc:
            raise InvalidSessionToken("exp or nbf is not a time") from exc
        if now > exp + LEEWAY_S:
            raise InvalidSessionToken("ExpiredSignatureError")
        if now < nbf - LEEWAY_S:
            raise InvalidSessionToken("ImmatureSignatureError")
    shop = _host(claims["dest"], "")
    if _host(claims["iss"], "/admin") != shop:
        raise InvalidSessionToken("iss and dest name different shops")
    user = claims["sub"]
    if not isinstance(user, str | int) or isinstance(user, bool) or not str(user).strip():
        raise InvalidSessionToken("no user")
    sid = claims.get("sid")
    return SessionToken(shop=shop, user_id=str(user).strip()[:40], session_id=str(sid) if sid else None)

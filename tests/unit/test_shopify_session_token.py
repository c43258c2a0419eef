"""Shopify App Bridge session tokens: only HS256 tokens the app's secret signed, for the app,
now, for one valid shop, are accepted."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from connectors.shopify.session_token import InvalidSessionToken, verify

KEY, SECRET = "app-key", "app-secret-of-32-characters-long!"
SHOP = "north-wind.myshopify.com"
NOW = 1_800_000_000


def claims(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": f"https://{SHOP}/admin",
        "dest": f"https://{SHOP}",
        "aud": KEY,
        "sub": "42",
        "exp": NOW + 60,
        "nbf": NOW - 1,
        "iat": NOW - 1,
        "jti": "00000000-0000-0000-0000-000000000001",
        "sid": "session-1",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def mint(secret: str = SECRET, algorithm: str = "HS256", **over: Any) -> str:
    return jwt.encode(claims(**over), secret, algorithm=algorithm)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_token_shopify_signed_names_the_shop_and_the_user() -> None:
    found = verify(mint(), KEY, SECRET, now=NOW)
    assert (found.shop, found.user_id, found.session_id) == (SHOP, "42", "session-1")


def test_the_wall_clock_is_used_without_now() -> None:
    now = int(time.time())
    token = mint(exp=now + 60, nbf=now - 1, iat=now - 1)
    assert verify(token, KEY, SECRET).shop == SHOP
    with pytest.raises(InvalidSessionToken):
        verify(mint(exp=now - 60, nbf=now - 120, iat=now - 120), KEY, SECRET)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(InvalidSessionToken):
        verify(mint(secret="another-secret-of-32-characters!!"), KEY, SECRET, now=NOW)


def test_a_tampered_payload_is_refused() -> None:
    header, _payload, signature = mint().split(".")
    other = b64(
        claims(sub="1", dest="https://south-wind.myshopify.com", iss="https://south-wind.myshopify.com/admin")
    )
    with pytest.raises(InvalidSessionToken):
        verify(f"{header}.{other}.{signature}", KEY, SECRET, now=NOW)


def test_alg_none_is_refused() -> None:
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    with pytest.raises(InvalidSessionToken, match="HS256"):
        verify(token, KEY, SECRET, now=NOW)


def test_another_hmac_algorithm_is_refused() -> None:
    with pytest.raises(InvalidSessionToken, match="HS256"):
        verify(mint(algorithm="HS512"), KEY, SECRET, now=NOW)


def test_an_expired_token_is_refused_beyond_the_leeway() -> None:
    assert verify(mint(exp=NOW - 3), KEY, SECRET, now=NOW).shop == SHOP  # within 5 s of leeway
    with pytest.raises(InvalidSessionToken, match="Expired"):
        verify(mint(exp=NOW - 10), KEY, SECRET, now=NOW)


def test_a_token_not_yet_valid_is_refused() -> None:
    with pytest.raises(InvalidSessionToken, match="Immature"):
        verify(mint(nbf=NOW + 30), KEY, SECRET, now=NOW)


def test_a_token_for_another_app_is_refused() -> None:
    with pytest.raises(InvalidSessionToken, match="Audience"):
        verify(mint(aud="another-app"), KEY, SECRET, now=NOW)


@pytest.mark.parametrize("missing", ["exp", "nbf", "iss", "dest", "aud", "sub"])
def test_a_token_without_a_required_claim_is_refused(missing: str) -> None:
    with pytest.raises(InvalidSessionToken):
        verify(mint(**{missing: None}), KEY, SECRET, now=NOW)


@pytest.mark.parametrize(
    ("iss", "dest"),
    [
        ("https://south-wind.myshopify.com/admin", f"https://{SHOP}"),  # two shops
        (f"https://{SHOP}/admin", "https://evil.example"),  # not a shop domain
        ("https://evil.example/admin", "https://evil.example"),
        (f"http://{SHOP}/admin", f"http://{SHOP}"),  # not https
        (f"https://{SHOP}/other", f"https://{SHOP}"),  # not the admin
        (f"https://{SHOP}:8443/admin", f"https://{SHOP}:8443"),
    ],
)
def test_the_issuer_and_destination_must_be_one_valid_shop(iss: str, dest: str) -> None:
    with pytest.raises(InvalidSessionToken):
        verify(mint(iss=iss, dest=dest), KEY, SECRET, now=NOW)


def test_the_shop_is_lower_cased() -> None:
    token = mint(iss="https://North-Wind.myshopify.com/admin", dest="https://North-Wind.myshopify.com")
    assert verify(token, KEY, SECRET, now=NOW).shop == SHOP


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(InvalidSessionToken):
        verify(token, KEY, SECRET, now=NOW)


def test_no_app_secret_refuses_everything() -> None:
    with pytest.raises(InvalidSessionToken):
        verify(mint(), KEY, "", now=NOW)

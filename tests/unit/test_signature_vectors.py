"""Signature checks against several independent vectors per platform.

Sources of the vectors:
- RFC 4231, test case 2 (key "Jefe", data "what do ya want for nothing?"): the published
  HMAC-SHA256 vector, shown as each platform encodes it (base64 for Shopify and
  WooCommerce, ``hmac-sha256-hex=`` + hex for EasyPost).
- Shopify's OAuth documentation ("verify the installation request"): secret ``hush``,
  code ``0907a61c0c8d55e99db179b68161bc00``, shop ``some-shop.myshopify.com``, state
  ``0.6784241404160823``, timestamp ``1337178173`` -> hmac ``700e2dad...``.
- The platforms' own Python libraries, which the project installs: ShopifyAPI's
  ``shopify.Session.calculate_hmac`` for OAuth queries and easypost's
  ``easypost.util.validate_webhook`` for EasyPost webhooks (an implementation written by
  the platform, not by us).
- Literals computed once with ``openssl dgst -sha256 -hmac <secret> -binary | base64``
  (or ``-hex``) for the bodies below, pinned here.
Each check is also refused for one byte changed in the body, the wrong secret, the wrong
encoding and an empty or missing header.
"""

from __future__ import annotations

import base64

import pytest
import shopify
from easypost.errors import SignatureVerificationError
from easypost.util import validate_webhook

from connectors.easypost import webhooks as easypost_hooks
from connectors.shopify import oauth
from connectors.shopify import webhooks as shopify_hooks
from connectors.woocommerce import webhooks as woo_hooks

RFC4231_KEY = "Jefe"
RFC4231_DATA = b"what do ya want for nothing?"
RFC4231_HEX = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
RFC4231_B64 = base64.b64encode(bytes.fromhex(RFC4231_HEX)).decode()

ORDER_BODY = b'{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00"}'
ORDER_SECRET = "test-secret-not-a-credential"
# printf %s "$ORDER_BODY" | openssl dgst -sha256 -hmac test-secret-not-a-credential -binary | base64
ORDER_B64 = "w2+aEUyW3JncPKuT9guaIQILjGY2PUwkXiL+J9rdhVw="


def test_rfc4231_vector_in_base64_is_what_openssl_prints() -> None:
    assert RFC4231_B64 == "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="


# -- Shopify webhooks: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, raw body))
@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        (RFC4231_KEY, RFC4231_DATA, RFC4231_B64),
        (ORDER_SECRET, ORDER_BODY, ORDER_B64),
        (ORDER_SECRET, ORDER_BODY, f"  {ORDER_B64}\n"),  # header whitespace is not part of it
    ],
)
def test_shopify_webhook_vectors(secret: str, body: bytes, signature: str) -> None:
    assert shopify_hooks.verify_signature(secret, body, signature)


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        (ORDER_SECRET, ORDER_BODY.replace(b"403.00", b"403.01"), ORDER_B64),  # body changed
        (ORDER_SECRET + "x", ORDER_BODY, ORDER_B64),  # wrong secret
        (RFC4231_KEY, RFC4231_DATA, RFC4231_HEX),  # hex where base64 is expected
        (RFC4231_KEY, RFC4231_DATA, RFC4231_B64.lower()),
        (RFC4231_KEY, RFC4231_DATA, ""),
        (RFC4231_KEY, RFC4231_DATA, None),
        ("", RFC4231_DATA, RFC4231_B64),  # no secret configured: nothing verifies
    ],
)
def test_shopify_webhook_refusals(secret: str, body: bytes, signature: str | None) -> None:
    assert not shopify_hooks.verify_signature(secret, body, signature)


# -- Shopify OAuth callbacks: hex HMAC over the sorted query without hmac/signature
DOCS_QUERY = {
    "code": "0907a61c0c8d55e99db179b68161bc00",
    "shop": "some-shop.myshopify.com",
    "state": "0.6784241404160823",
    "timestamp": "1337178173",
    "hmac": "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf",
}


def test_shopify_oauth_documentation_example() -> None:
    assert oauth.query_hmac(DOCS_QUERY, "hush") == DOCS_QUERY["hmac"]
    assert oauth.verify_callback(DOCS_QUERY, "hush")
    assert oauth.verify_callback({**DOCS_QUERY, "signature": "legacy"}, "hush")  # signature is left out


@pytest.mark.parametrize(
    "params",
    [
        {"shop": "a-shop.myshopify.com", "timestamp": "1700000000", "code": "abc123"},
        {"shop": "b.myshopify.com", "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYg", "timestamp": "1"},
        {"shop": "c.myshopify.com", "state": "nonce-9", "timestamp": "1712345678", "code": "z"},
    ],
)
def test_shopify_oauth_agrees_with_the_shopify_library(params: dict[str, str]) -> None:
    shopify.Session.secret = "lib-secret"
    try:
        expected = shopify.Session.calculate_hmac(params)
    finally:
        shopify.Session.secret = None
    assert oauth.query_hmac(params, "lib-secret") == expected
    assert oauth.verify_callback({**params, "hmac": expected}, "lib-secret")


@pytest.mark.parametrize(
    ("change", "secret"),
    [
        ({"timestamp": "1337178174"}, "hush"),  # one parameter changed
        ({"extra": "1"}, "hush"),  # one parameter added
        ({}, "hush!"),  # wrong secret
        ({"hmac": ""}, "hush"),
        ({"hmac": DOCS_QUERY["hmac"].upper()}, "hush"),
    ],
)
def test_shopify_oauth_refusals(change: dict[str, str], secret: str) -> None:
    assert not oauth.verify_callback({**DOCS_QUERY, **change}, secret)
    without = {k: v for k, v in DOCS_QUERY.items() if k != "hmac"}
    assert not oauth.verify_callback(without, "hush")


# -- WooCommerce: X-WC-Webhook-Signature = base64(HMAC-SHA256(html-decoded secret, raw body))
WOO_BODY = b'{"id":727,"status":"processing","total":"29.35","currency":"USD"}'
# openssl dgst -sha256 -hmac 'a&b<c' -binary < body | base64
WOO_AMP_B64 = "PjpkRwoCDkYcXuGHxxmBnl/AFKFcVo7C8wmabOe/Re4="


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        (RFC4231_KEY, RFC4231_DATA, RFC4231_B64),
        ("a&b<c", WOO_BODY, WOO_AMP_B64),
        ("a&amp;b&lt;c", WOO_BODY, WOO_AMP_B64),  # as WooCommerce stores it, entity-encoded
    ],
)
def test_woocommerce_webhook_vectors(secret: str, body: bytes, signature: str) -> None:
    assert woo_hooks.verify_signature(secret, body, signature)


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        ("a&b<c", WOO_BODY + b" ", WOO_AMP_B64),
        ("a&amp;b", WOO_BODY, WOO_AMP_B64),
        (RFC4231_KEY, RFC4231_DATA, RFC4231_HEX),
        (RFC4231_KEY, RFC4231_DATA, None),
        ("", RFC4231_DATA, RFC4231_B64),
    ],
)
def test_woocommerce_webhook_refusals(secret: str, body: bytes, signature: str | None) -> None:
    assert not woo_hooks.verify_signature(secret, body, signature)


# -- EasyPost: X-Hmac-Signature = "hmac-sha256-hex=" + hex(HMAC-SHA256(NFKD(secret), raw body))
EP_BODY = b'{"description":"tracker.updated","result":{"tracking_code":"9400100000000000000000"}}'


def test_easypost_rfc4231_vector() -> None:
    assert easypost_hooks.verify_signature(RFC4231_KEY, RFC4231_DATA, "hmac-sha256-hex=" + RFC4231_HEX)


@pytest.mark.parametrize(
    "secret", ["s3cret", "sécret", "se\u0301cret", "\uff53\uff45\uff43\uff52\uff45\uff54"]
)
def test_easypost_agrees_with_the_easypost_library(secret: str) -> None:
    signature = easypost_hooks.sign(secret, EP_BODY)
    # The library raises unless the signature is the one it computes itself.
    assert (
        validate_webhook(EP_BODY, {"X-Hmac-Signature": signature}, secret)["description"] == "tracker.updated"
    )
    assert easypost_hooks.verify_signature(secret, EP_BODY, signature)


def test_a_composed_and_a_decomposed_secret_sign_alike() -> None:
    assert easypost_hooks.sign("sécret", EP_BODY) == easypost_hooks.sign("se\u0301cret", EP_BODY)
    assert easypost_hooks.sign("sécret", EP_BODY) != easypost_hooks.sign("secret", EP_BODY)


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        (RFC4231_KEY, RFC4231_DATA, RFC4231_HEX),  # without the prefix
        (RFC4231_KEY, RFC4231_DATA, "hmac-sha256-hex=" + RFC4231_HEX.upper()),
        (RFC4231_KEY, RFC4231_DATA + b".", "hmac-sha256-hex=" + RFC4231_HEX),
        ("jefe", RFC4231_DATA, "hmac-sha256-hex=" + RFC4231_HEX),
        (RFC4231_KEY, RFC4231_DATA, None),
        ("", RFC4231_DATA, "hmac-sha256-hex=" + RFC4231_HEX),
    ],
)
def test_easypost_refusals(secret: str, body: bytes, signature: str | None) -> None:
    assert not easypost_hooks.verify_signature(secret, body, signature)
    if signature:
        with pytest.raises(SignatureVerificationError):
            validate_webhook(body, {"X-Hmac-Signature": signature}, secret)

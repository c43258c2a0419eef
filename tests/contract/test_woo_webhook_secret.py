"""Webhook secrets decoded as WooCommerce does: ``wp_specialchars_decode($secret, ENT_QUOTES)``.

WooCommerce signs with the decoded secret. Only ``&amp; &lt; &gt; &quot; &#039;`` and the
numeric forms WordPress lists are decoded; named entities such as ``&copy;`` stay as
written. The key each vector must sign with is written out here, so both the
simulator (which signs) and Waybill's verifier are held to WordPress, not to each other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors.woocommerce.webhooks import sign, verify_signature
from sandbox.woocommerce import sign_webhook
from sandbox.woocommerce.phpjson import specialchars_decode

BODY = b'{"id":7,"note":"caf\\u00e9 \\/ cr\\u00e8me"}'
# (secret as stored in the webhook, the key WooCommerce signs with)
VECTORS = [
    ("a&copy;b", "a&copy;b"),
    ("x&amp;y", "x&y"),
    ("q&#039;z", "q'z"),
    ("&lt;t&gt;", "<t>"),
    # The other forms wp_specialchars_decode knows, and look-alikes it leaves alone.
    ("&quot;&#034;&#x22;&#X22;&#34;", '"""""'),
    ("&#39;&#0039;&#x27;&#x0027;", "''''"),
    ("&#060;&#60;&#062;&#62;&#038;&#38;&#x26;", "<<>>&&&"),
    ("&#x3c;&#x3e;&LT;&AMP;&apos;&eacute;&nbsp;", "&#x3c;&#x3e;&LT;&AMP;&apos;&eacute;&nbsp;"),
    ("&amp;lt;", "&lt;"),  # one pass: what &amp; becomes is not decoded again
    ("plain", "plain"),
]


def expected_signature(key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), BODY, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize(("secret", "key"), VECTORS)
def test_waybill_decodes_the_secret_as_wordpress(secret: str, key: str) -> None:
    assert sign(secret, BODY) == expected_signature(key)


@pytest.mark.parametrize(("secret", "key"), VECTORS)
def test_simulator_decodes_the_secret_as_wordpress(secret: str, key: str) -> None:
    assert specialchars_decode(secret) == key


@pytest.mark.parametrize(("secret", "key"), VECTORS)
def test_signed_by_the_simulator_verified_by_waybill_and_back(secret: str, key: str) -> None:
    signature = sign_webhook(secret, BODY)
    assert verify_signature(secret, BODY, signature)
    assert sign(secret, BODY) == signature
    # A receiver that decoded differently (here: not at all, or every HTML entity) is refused.
    if key != secret:
        assert not verify_signature(key + "x", BODY, signature)


def test_a_named_entity_is_not_decoded() -> None:
    # Python's html.unescape turns "a&copy;b" into "a©b"; WooCommerce signs with "a&copy;b".
    assert verify_signature("a&copy;b", BODY, expected_signature("a&copy;b"))
    assert not verify_signature("a&copy;b", BODY, expected_signature("a\u00a9b"))

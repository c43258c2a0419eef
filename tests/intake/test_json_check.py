"""The receivers' JSON check: simdjson validates, json decides what simdjson refuses, so a
body is accepted exactly when ``json.loads`` (what the workers parse it with) accepts it."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.intake.test_receivers import (  # noqa: F401  # the fixtures: secrets, handled test topics
    EP_SECRET,
    add_store,
    handled_topics,
    inbox,
    secrets,
    shopify_post,
)
from webhooks.intake import Refused, check_json, parse_json

# What json accepts and simdjson alone would refuse: these must pass.
JSON_ONLY = [
    b"NaN",
    b'{"total": NaN, "max": Infinity, "min": -Infinity}',
    b'{"big": 1e400}',
    b'{"id": 18446744073709551616}',  # 2^64: past simdjson's 64 bits
    b'{"id": -9223372036854775809}',
    b'{"id": ' + b"9" * 400 + b"}",
    b'{"name": "\\ud800"}',  # a lone surrogate, escaped
    b'{"name": "\\udc00x"}',
    b'["\xed\xa0\x80"]',  # a surrogate as raw bytes: json decodes with surrogatepass
    "{}".encode("utf-16"),  # json detects UTF-16 and UTF-32 bodies
]
BOTH = [
    b"{}",
    b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
    b'{"id": 18446744073709551615, "n": -9223372036854775808}',
    b'{"a": 1, "a": 2}',
    b'[1E+2, -0, 0e0, 1e-400, "\\u00e9 \\/ \\"", "caf\xc3\xa9", "\x7f"]',
    b" \t\r\n[]\n",
    b"null",
    b'"x"',
    b"[" * 900 + b"]" * 900,
]
REFUSED = [
    b"",
    b"   ",
    b"not json",
    b"{} x",
    b"{}\x00",
    b'{"a": 1,}',
    b"[1,]",
    b"['a']",
    b"[01]",
    b"[1.]",
    b"[.5]",
    b'["\\x"]',
    b'["tab\x01"]',  # an unescaped control character
    b"\x0c{}",
    b"\xc2\xa0[]",  # a no-break space is not JSON whitespace
    b'["\xff"]',  # not UTF-8
    b'["\xc0\x80"]',  # an overlong encoding
    b'["\xf4\x90\x80\x80"]',  # past U+10FFFF
    b"[\xff]",
    b"[" * 2000 + b"]" * 2000,  # nesting json refuses with RecursionError
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
]


def json_accepts(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


@pytest.mark.parametrize("body", JSON_ONLY + BOTH)
def test_what_json_accepts_passes_the_check(body: bytes) -> None:
    assert json_accepts(body)
    check_json(body)


@pytest.mark.parametrize("body", REFUSED)
def test_what_json_refuses_is_a_400(body: bytes) -> None:
    assert not json_accepts(body)
    with pytest.raises(Refused) as refused:
        check_json(body)
    assert (refused.value.status, refused.value.outcome) == (400, "bad_json")
    with pytest.raises(Refused) as refused:
        parse_json(body)
    assert refused.value.status == 400


def test_threads_check_at_the_same_time_each_on_its_own_parser() -> None:
    """A simdjson parser is not thread-safe: each thread keeps its own, and answers stay right."""
    bodies = [(body, True) for body in BOTH + JSON_ONLY] + [(body, False) for body in REFUSED[:-2]]
    order = json.dumps({"line_items": [{"id": n, "title": "x" * 200} for n in range(60)]}).encode()
    bodies += [(order, True), (order[:-1], False)]
    wrong: list[bytes] = []
    start = threading.Barrier(8)

    def check_all() -> None:
        start.wait()
        for _ in range(30):
            for body, ok in bodies:
                try:
                    check_json(body)
                    passed = True
                except Refused:
                    passed = False
                if passed != ok:
                    wrong.append(body)

    threads = [threading.Thread(target=check_all) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_shopify_bodies_json_accepts_are_stored_as_sent(client: Any, rt: Any) -> None:
    add_store(rt, "shopify", "acme.myshopify.com")
    bodies = [
        b'{"id": 1, "total": NaN}',
        b'{"id": 18446744073709551616123}',
        b'{"id": 3, "note": "\\ud83d"}',
    ]
    for n, body in enumerate(bodies):
        resp = shopify_post(client, body, event_id=f"e{n}")
        assert (resp.status_code, resp.json) == (200, {"status": "accepted"})
    assert [event.body for event in inbox(rt)] == bodies


@pytest.mark.parametrize(
    "body",
    [b'{"id": "\xff"}', b'{"id": "\xed\xa0"}', b"[" * 5000 + b"]" * 5000, b'{"id": 1} {"id": 2}'],
)
def test_shopify_bodies_json_refuses_are_400_and_not_stored(client: Any, rt: Any, body: bytes) -> None:
    add_store(rt, "shopify", "acme.myshopify.com")
    resp = shopify_post(client, body)
    assert (resp.status_code, resp.json) == (400, {"error": "body is not JSON"})
    assert inbox(rt) == []


def test_a_deeply_nested_easypost_event_is_400(client: Any, rt: Any) -> None:
    import hashlib
    import hmac
    import unicodedata

    body = b'{"id": "evt_1", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    key = unicodedata.normalize("NFKD", EP_SECRET).encode()
    signature = "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    resp = client.post("/webhooks/easypost", data=body, headers={"X-Hmac-Signature": signature})
    assert (resp.status_code, resp.json) == (400, {"error": "body is not JSON"})
    assert inbox(rt) == []

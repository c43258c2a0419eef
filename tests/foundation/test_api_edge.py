"""The HTTP edge: no 500 from what a client sends, JSON errors under /api/v1, bounded metric labels."""

from __future__ import annotations

import random
import re
import string
from typing import Any

import pytest

from db.accounts import get_or_create_account, issue_token
from db.models import Store, StoreState
from sync import stock_admin

HUGE = 2**70  # beyond 64 bits: overflowed SQLite and PostgreSQL before
INT32_PAST = 2**31  # past PostgreSQL INTEGER: overflowed stores and exports there before


@pytest.fixture
def auth(rt: Any) -> dict[str, str]:
    with rt.session() as s:
        account = get_or_create_account(s, "edge")
        s.add(Store(account_id=account.id, platform="shopify", domain="edge.myshopify.com", state="active"))
        token = issue_token(s, account)
        account_id = account.id
    stock_admin.adjust(rt, account_id, "TOTE", 4, "opening stock", actor="test", create=True)
    assert StoreState.active
    return {"Authorization": f"Bearer {token}"}


def _json_error(resp: Any, status: int) -> str:
    assert resp.status_code == status, (resp.status_code, resp.data[:200])
    assert resp.mimetype == "application/json", resp.data[:200]
    assert set(resp.json) >= {"error"} and isinstance(resp.json["error"], str)
    return str(resp.json["error"])


OVERSIZED_PATHS = [
    f"/api/v1/stores/{HUGE}",
    f"/api/v1/stores/{HUGE}/timeline",
    f"/api/v1/stores/{INT32_PAST}",
    f"/api/v1/data-exports/{HUGE}",
    f"/api/v1/data-exports/{INT32_PAST}",
    f"/api/v1/orders/{HUGE}",
    f"/api/v1/orders/{2**63}",
    "/api/v1/orders/" + "9" * 5000,
]


def test_an_oversized_id_in_a_path_is_not_found(client: Any, auth: dict[str, str]) -> None:
    for path in OVERSIZED_PATHS:
        assert _json_error(client.get(path, headers=auth), 404) == "not found", path
    body = {"reviewer": "ann", "reason": "checked", "scanned": ["TOTE"], "actor": "ann"}
    for action in ("approve", "reject", "pack"):
        resp = client.post(f"/api/v1/orders/{HUGE}/{action}", json=body, headers=auth)
        assert _json_error(resp, 404) == "not found", action


def test_an_oversized_id_in_a_query_is_a_400(client: Any, auth: dict[str, str]) -> None:
    for query in (f"order={HUGE}", f"order={2**63}", "order=1&order=" + "9" * 5000, "order=x"):
        resp = client.get(f"/api/v1/pick-list?{query}", headers=auth)
        assert "order" in _json_error(resp, 400), query


def test_oversized_limits_are_clamped(client: Any, auth: dict[str, str]) -> None:
    assert client.get(f"/api/v1/orders?limit={HUGE}", headers=auth).status_code == 200
    assert client.get(f"/api/v1/orders?limit=-{HUGE}", headers=auth).status_code == 200
    assert client.get(f"/api/v1/inventory/TOTE?limit={HUGE}", headers=auth).status_code == 200


API_ERRORS = [
    ("GET", "/api/v1/stores/abc", 404),
    ("GET", "/api/v1/orders/-1", 404),
    ("GET", "/api/v1/no-such-thing", 404),
    ("GET", "/api/v1", 404),
    ("DELETE", "/api/v1/stores", 405),
    ("PUT", "/api/v1/orders/1/approve", 405),
    ("GET", "/api/v1/orders/1/approve", 405),
]


def test_every_api_error_is_json(client: Any, auth: dict[str, str]) -> None:
    for method, path, status in API_ERRORS:
        resp = client.open(path, method=method, headers=auth)
        _json_error(resp, status)
        if status == 405:
            assert resp.headers["Allow"], path


def test_an_api_401_is_json(client: Any) -> None:
    assert _json_error(client.get("/api/v1/stores/abc"), 404)  # routing first: no such route
    assert _json_error(client.get("/api/v1/stores"), 401) == "missing bearer token"


def test_pages_outside_the_api_keep_their_html_errors(client: Any) -> None:
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and resp.mimetype == "text/html"


ADJUST = "/api/v1/inventory/TOTE/adjustments"


BAD_BODIES = [
    (b'{"delta": 1, "note": ', "application/json", 400, "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nested deeper"),
    (b"[" * 40 + b"]" * 40, "application/json", 400, "nested deeper"),
    (b'{"delta": NaN, "note": "x"}', "application/json", 400, "'delta' must be a finite number"),
    (b'{"delta": 1e999, "note": "x"}', "application/json", 400, "'delta' must be a finite number"),
    (b'{"delta": %d, "note": "x"}' % HUGE, "application/json", 400, "'delta' is out of range"),
    (b'{"delta": 1, "note": "a\\u0000b"}', "application/json", 400, "'note' must not contain NUL"),
    (b'{"delta": 1, "note": "\\ud800"}', "application/json", 400, "'note' must be valid Unicode"),
    (b'{"delta": 1, "note": ["\\u0000"]}', "application/json", 400, "'note[0]'"),
    (b'{"delta": 1, "note\\u0000": "x"}', "application/json", 400, "field name"),
    (b"delta=1&note=x", "application/x-www-form-urlencoded", 415, "application/json"),
    (b'{"delta": 1, "note": "x"}', "text/plain", 415, "application/json"),
]


def test_a_bad_body_is_refused_naming_the_field_and_changes_nothing(
    client: Any, auth: dict[str, str]
) -> None:
    for body, content_type, status, says in BAD_BODIES:
        resp = client.post(ADJUST, data=body, headers={**auth, "Content-Type": content_type})
        assert says in _json_error(resp, status), body[:60]
    level = client.get("/api/v1/inventory/TOTE", headers=auth).json
    assert level["on_hand"] == 4 and len(level["movements"]) == 1


def test_a_body_past_the_limit_is_a_json_413(app: Any, client: Any, auth: dict[str, str]) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    resp = client.post(
        ADJUST, data=b'{"note": "' + b"x" * 2000 + b'"}', headers={**auth, "Content-Type": "application/json"}
    )
    _json_error(resp, 413)


def test_nul_in_a_path_or_query_is_a_400(client: Any, auth: dict[str, str]) -> None:
    for method, url in [
        ("GET", "/api/v1/inventory/TO%00TE"),
        ("GET", "/api/v1/orders?stage=on_hold%00"),
        ("DELETE", "/api/v1/trusted-customers?email=a%00@b.example"),
    ]:
        assert "NUL" in _json_error(client.open(url, method=method, headers=auth), 400), url


def test_a_good_request_still_works(client: Any, auth: dict[str, str]) -> None:
    resp = client.post(ADJUST, json={"delta": 2, "note": "found two"}, headers=auth)
    assert resp.status_code == 201 and resp.json["on_hand"] == 6


# --- metrics labels ------------------------------------------------------------------------

_SERIES = re.compile(r"^waybill_http_requests_total\{([^}]*)\}", re.MULTILINE)


def _series(client: Any) -> set[str]:
    return set(_SERIES.findall(client.get("/metrics").data.decode()))


def test_unknown_methods_and_paths_collapse_to_one_label_each(client: Any) -> None:
    rnd = random.Random(13)
    before = _series(client)

    def word(n: int) -> str:
        return "".join(rnd.choice(string.ascii_uppercase) for _ in range(n))

    for _ in range(150):
        client.open(f"/{word(8).lower()}/{rnd.randrange(10**9)}", method=word(6))  # unknown method and path
        client.open(f"/api/v1/{word(10).lower()}", method="GET")  # unmatched API path
        client.open(f"/webhooks/{word(5).lower()}", method="PROPFIND")
        client.open("/webhooks/shopify", method=word(7))  # the receivers' own counting
    new = _series(client) - before
    methods = {m for s in new for m in re.findall(r'method="([^"]*)"', s)}
    endpoints = {e for s in new for e in re.findall(r'endpoint="([^"]*)"', s)}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    assert endpoints <= {"unmatched", "webhooks.receive_shopify", "ops.metrics"}
    assert len(new) <= 10, sorted(new)


def test_the_documented_stages_are_the_ones_the_api_accepts(client: Any, auth: dict[str, str]) -> None:
    document = client.get("/api/v1/openapi.json").json
    [stage] = [p for p in document["paths"]["/api/v1/orders"]["get"]["parameters"] if p["name"] == "stage"]
    documented = stage["schema"]["enum"]
    assert "on_hold" in documented and "fulfilled" in documented
    for name in documented:
        assert client.get("/api/v1/orders", query_string={"stage": name}, headers=auth).status_code == 200
    assert _json_error(client.get("/api/v1/orders?stage=shipped", headers=auth), 400).startswith("stage")


def test_a_mistyped_field_is_named(client: Any, auth: dict[str, str]) -> None:
    cases = [
        ("/api/v1/trusted-customers", {"email": 5}, "email"),
        ("/api/v1/trusted-customers", {"email": "a@b.example", "note": 5}, "note"),
        ("/api/v1/orders/1/approve", {"reviewer": 5, "reason": "x"}, "reviewer"),
        ("/api/v1/orders/1/pack", {"scanned": "TOTE", "actor": "ann"}, "scanned"),
        (ADJUST, {"delta": "3", "note": "x"}, "delta"),
        ("/api/v1/inventory/TOTE/counts", {"on_hand": 1.5}, "count"),
    ]
    for url, body, field in cases:
        assert _json_error(client.post(url, json=body, headers=auth), 400).startswith(field), url

"""Health, readiness, metrics, the JSON API's tenant walls and the console login."""

from __future__ import annotations

import re
from typing import Any

from db.accounts import get_or_create_account, issue_token
from db.models import Store, StoreState


def make_merchant(rt: Any, name: str, domain: str) -> tuple[str, int]:
    with rt.session() as s:
        account = get_or_create_account(s, name)
        store = Store(account_id=account.id, platform="shopify", domain=domain, state=StoreState.active)
        s.add(store)
        s.flush()
        return issue_token(s, account), store.id


def test_healthz_and_readyz(client: Any) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    resp = client.get("/readyz")
    assert (resp.status_code, resp.json) == (200, {"status": "ready"})


def test_readyz_names_the_queue_when_redis_is_down(config: dict[str, Any]) -> None:
    from app import create_app
    from db.session import upgrade

    upgrade(config["database_url"])
    config.update(
        redis_url="redis://127.0.0.1:1/0",
        mode="production",
        secret_key=__import__("tests.conftest").conftest.SECRET,
    )
    app = create_app(config)
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json["down"] == {"queue": "ConnectionError"}
    assert app.test_client().get("/healthz").status_code == 200


def test_metrics_expose_requests_jobs_and_queue_depth(client: Any, rt: Any) -> None:
    client.get("/healthz")
    rt.enqueue("noop", job_id="metrics-noop")
    body = client.get("/metrics").data.decode()
    assert 'waybill_http_requests_total{endpoint="ops.healthz",method="GET",status="200"}' in body
    assert 'waybill_queue_depth{queue="intake"} 1.0' in body
    assert 'waybill_inbox_events{state="pending"} 0.0' in body
    assert "waybill_dead_letters 0.0" in body


def test_api_requires_a_valid_token(client: Any) -> None:
    assert client.get("/api/v1/stores").status_code == 401
    assert client.get("/api/v1/stores", headers={"Authorization": "Bearer wb_nope"}).status_code == 401
    assert client.get("/api/v1/stores", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_merchant_sees_only_their_own_stores(client: Any, rt: Any) -> None:
    token_a, store_a = make_merchant(rt, "alpha", "alpha.myshopify.com")
    _token_b, store_b = make_merchant(rt, "beta", "beta.myshopify.com")
    auth_a = {"Authorization": f"Bearer {token_a}"}
    listed = client.get("/api/v1/stores", headers=auth_a).json["stores"]
    assert [s["domain"] for s in listed] == ["alpha.myshopify.com"]
    assert client.get(f"/api/v1/stores/{store_a}", headers=auth_a).json["domain"] == "alpha.myshopify.com"
    foreign = client.get(f"/api/v1/stores/{store_b}", headers=auth_a)
    assert (foreign.status_code, foreign.json) == (404, {"error": "not found"})
    assert client.get(f"/api/v1/stores/{store_b}/timeline", headers=auth_a).status_code == 404
    assert client.get("/api/v1/account", headers=auth_a).json["name"] == "alpha"


def test_tokens_are_stored_hashed(rt: Any) -> None:
    from sqlalchemy import select

    from db.models import ApiToken

    token, _ = make_merchant(rt, "gamma", "gamma.myshopify.com")
    with rt.session() as s:
        hashes = [t.token_hash for t in s.scalars(select(ApiToken))]
    assert token not in hashes and len(hashes) == 1 and len(hashes[0]) == 64


def test_openapi_lists_every_api_route(app: Any, client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
    }
    assert routes == set(doc["paths"])


def test_console_requires_login_and_accepts_a_token(client: Any, rt: Any) -> None:
    assert client.get("/").headers["Location"].endswith("/login")
    form = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").data.decode())
    assert form is not None
    csrf = form.group(1)
    assert client.post("/login", data={"token": "wb_wrong", "csrf_token": csrf}).status_code == 401
    token, _ = make_merchant(rt, "delta", "delta.myshopify.com")
    make_merchant(rt, "epsilon", "epsilon.myshopify.com")
    assert client.post("/login", data={"token": token, "csrf_token": csrf}).status_code == 302
    page = client.get("/app/stores").data.decode()  # the console's Stores page
    assert "delta.myshopify.com" in page and "epsilon" not in page
    # The signed-in browser sees its own account's stores through the API, no other's.
    domains = [row["domain"] for row in client.get("/api/v1/stores").get_json()["stores"]]
    assert domains == ["delta.myshopify.com"]


def test_data_exports_are_the_merchants_own(client: Any, rt: Any) -> None:
    from db.models import DataExport

    token_a, store_a = make_merchant(rt, "exp-a", "exp-a.myshopify.com")
    _token_b, store_b = make_merchant(rt, "exp-b", "exp-b.myshopify.com")
    with rt.session() as s:
        mine = DataExport(
            account_id=s.get(Store, store_a).account_id,
            store_id=store_a,
            request_id="r1",
            data={"orders": [{"order": {"number": "#1"}}]},
        )
        theirs = DataExport(account_id=s.get(Store, store_b).account_id, store_id=store_b, request_id="r2")
        s.add_all([mine, theirs])
        s.flush()
        mine_id, theirs_id = mine.id, theirs.id
    auth = {"Authorization": f"Bearer {token_a}"}
    listed = client.get("/api/v1/data-exports", headers=auth).json["exports"]
    assert [e["request_id"] for e in listed] == ["r1"]
    assert client.get(f"/api/v1/data-exports/{mine_id}", headers=auth).json["data"]["orders"][0]["order"] == {
        "number": "#1"
    }
    assert client.get(f"/api/v1/data-exports/{theirs_id}", headers=auth).status_code == 404

"""The API's OpenAPI document is generated from its typed views (web/api_doc.py, the models in
web/api_models.py): it is valid OpenAPI 3.1, it lists every route under /api/v1 (a route added
without its types is caught), request models refuse bad input with the view's words, and the
documentation page serves only this server's files."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from db.accounts import get_or_create_account, issue_token
from web.api_doc import document, forget

ROOT = Path(__file__).resolve().parents[2]


def routes(app: Any) -> set[str]:
    """Every URL rule under /api/v1, written as the document writes paths."""
    return {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
    }


def undocumented(app: Any, doc: dict[str, Any]) -> set[str]:
    return routes(app) - set(doc["paths"])


def test_the_document_is_valid_openapi_3_1(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on the first way it is not OpenAPI 3.1
    broken = {**doc, "paths": {**doc["paths"], "/api/v1/account": {"get": {"responses": "ok"}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_route_is_documented_and_a_route_without_types_is_caught(app: Any) -> None:
    doc = document(app)
    assert undocumented(app, doc) == set() and len(doc["paths"]) >= 30

    @app.get("/api/v1/untyped")
    def untyped() -> Any:
        return {"ok": True}

    forget(app)
    assert undocumented(app, document(app)) == {"/api/v1/untyped"}


def test_every_operation_answers_errors_as_error_objects(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            assert responses["400"]["content"]["application/json"]["schema"] == error, (path, method)
            if "requestBody" in op:
                assert {"413", "415"} <= set(responses), (path, method)
            if path not in ("/api/v1/openapi.json", "/api/v1/docs"):
                assert op["security"] == [{"bearer": []}] and "401" in responses, (path, method)
            assert op["summary"] and not op["summary"].endswith(f"<{method.upper()}>"), (path, method)


def test_ids_in_paths_are_bounded_as_the_url_rules_are(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    order = doc["paths"]["/api/v1/orders/{order_id}"]["get"]["parameters"][0]["schema"]
    store = doc["paths"]["/api/v1/stores/{store_id}"]["get"]["parameters"][0]["schema"]
    assert (order["format"], order["maximum"]) == ("int64", 2**63 - 1)
    assert (store["format"], store["maximum"]) == ("int32", 2**31 - 1)
    key = [p for p in doc["paths"]["/api/v1/returns"]["post"]["parameters"] if p["name"] == "Idempotency-Key"]
    assert key and key[0]["in"] == "header" and key[0]["required"] is False


def test_the_models_describe_exact_values(client: Any) -> None:
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    money = schemas["Money"]["properties"]["amount"]
    assert money["type"] == "string"  # a decimal, never a float
    assert schemas["ReturnItem"]["properties"]["unit_price"]["type"] == "string"
    assert schemas["OrderLine"]["properties"]["platform_order_id"]["type"] == "string"
    assert schemas["OrderLine"]["properties"]["updated_at"]["format"] == "date-time"
    assert schemas["ReviewRequest"]["required"] == ["reviewer", "reason"]
    from core.returns import ReturnState

    states = schemas["Return"]["properties"]["state"]["enum"]
    assert states == [s.value for s in ReturnState]


@pytest.mark.parametrize(
    ("url", "body", "message"),
    [
        ("/api/v1/orders/1/approve", ["sam"], "expected a JSON object: {reviewer, reason}"),
        ("/api/v1/orders/1/approve", {"reviewer": "sam", "reason": " "}, "reason is required (text)"),
        (
            "/api/v1/orders/1/pack",
            {"scanned": ["A"] * 1001, "actor": "sam"},
            "at most 1000 codes in one scan",
        ),
        ("/api/v1/returns/1/receive", {"conditions": {"1": "damaged"}, "weight_oz": True}, "weight_oz"),
        ("/api/v1/exceptions/1/resolve", {"note": "ok", "actor": 5}, "actor must be text of at most 64"),
    ],
)
def test_a_request_model_refuses_with_the_views_words(
    client: Any, rt: Any, url: str, body: Any, message: str
) -> None:
    with rt.session() as s:
        token = issue_token(s, get_or_create_account(s, "typed"))
    resp = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400 and set(resp.json) == {"error"}
    assert message in resp.json["error"]


def test_a_request_is_authenticated_before_its_body_is_read(client: Any) -> None:
    resp = client.post("/api/v1/orders/1/approve", json=["not", "an", "object"])
    assert (resp.status_code, resp.json) == (401, {"error": "missing bearer token"})


def test_the_documentation_page_is_public_and_loads_only_this_servers_files(client: Any) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/api/v1/openapi.json" in html  # Swagger UI renders the heading from the document
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for src in re.findall(r'src="([^"]+)"', html):
        assert client.get(src).status_code == 200, src


def test_the_vendored_files_are_the_ones_listed(client: Any) -> None:
    lines = (ROOT / "web/static/vendor/VERSIONS").read_text().splitlines()[1:]
    listed = {line.split()[0]: line.split()[2] for line in lines if line.strip()}
    assert "web/static/vendor/swagger-ui/swagger-ui-bundle.js" in listed
    for path, digest in listed.items():
        assert hashlib.sha256((ROOT / path).read_bytes()).hexdigest() == digest, path

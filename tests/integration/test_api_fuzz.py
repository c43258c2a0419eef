"""The JSON API fuzzed against its own OpenAPI document (schemathesis, in process).

Every operation in /api/v1/openapi.json gets generated requests, valid ones and ones that
break the document (out-of-range ids, wrong types, missing fields), bounded and
derandomized (the same examples on every run), with a valid bearer token, against a migrated database
holding a merchant, a store and a stock item. Each answer must not be a server error,
must use a status code the document lists, and must match the schema it gives for it.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from db.accounts import get_or_create_account, issue_token
from db.models import Store, StoreState
from sync import stock_admin

# Per operation and mode; `make fuzz` runs 200 (WAYBILL_FUZZ_EXAMPLES), outside `make test`.
MAX_EXAMPLES = int(os.environ.get("WAYBILL_FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def _merchant(rt: Any) -> str:
    with rt.session() as s:
        account = get_or_create_account(s, "fuzz")
        s.add(Store(account_id=account.id, platform="shopify", domain="fuzz.myshopify.com", state="active"))
        s.flush()
        token = issue_token(s, account)
        account_id = account.id
    assert StoreState.active
    stock_admin.adjust(rt, account_id, "SKU-1", 5, "opening stock", actor="test", create=True)
    return token


def run_schema(app: Any, token: str, max_examples: int = MAX_EXAMPLES) -> dict[str, int]:
    """Fuzz every operation; returns how many requests each one got. Raises on the first failure."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    auth = {"Authorization": f"Bearer {token}"}
    counts: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not _takes_input(operation.definition.raw):
                continue  # a public page with no parameters: there is nothing to break
            label = f"{operation.method.upper()} {operation.path} ({mode.value})"
            _fuzz(operation.as_strategy(mode), label, auth, counts, max_examples)
    return counts


def _takes_input(raw: dict[str, Any]) -> bool:
    return bool(raw.get("parameters") or raw.get("requestBody") or raw.get("security"))


def _fuzz(strategy: Any, label: str, auth: dict[str, str], counts: dict[str, int], max_examples: int) -> None:
    counts[label] = 0

    @settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        counts[label] += 1
        case.call_and_validate(headers=auth, checks=CHECKS)

    fuzz()


def test_the_api_answers_every_generated_request_as_documented(app: Any, rt: Any) -> None:
    token = _merchant(rt)
    started = time.monotonic()
    counts = run_schema(app, token)
    took = time.monotonic() - started
    operations = {label.rsplit(" (", 1)[0] for label in counts}
    print(f"schemathesis: {len(operations)} operations, {sum(counts.values())} requests, {took:.1f} s")
    assert len(operations) >= 20  # every documented operation, with valid and invalid requests
    assert all(n > 0 for n in counts.values())


def test_the_fuzz_run_catches_a_server_error(app: Any, rt: Any) -> None:
    """The run can fail: a documented route that answers 500 is reported, not passed over."""
    token = _merchant(rt)

    from web.api_doc import forget, operation
    from web.api_models import Account

    @app.get("/api/v1/boom")
    @operation(Account, public=True)
    def boom() -> Any:
        """A documented route that fails."""
        return {"error": "planted"}, 500

    forget(app)  # the document is built again, with the planted route in it
    with pytest.raises(BaseExceptionGroup) as failed:
        run_schema(app, token, max_examples=1)
    assert "Server error" in str(failed.value) and "/api/v1/boom" in str(failed.value)


def test_real_answers_match_the_document(app: Any, client: Any, rt: Any) -> None:
    """The fuzzer rarely finds a live id; these answers come from real objects, each checked
    against the schema the document gives for its operation and status."""
    from db.models import DataExport, TrustedCustomer
    from tests.integration.test_review_api import held_order, merchant

    account_id, store_id, auth = merchant(rt, "docs")
    order_id = held_order(rt, account_id, store_id, "2001")
    stock_admin.adjust(rt, account_id, "TOTE", 5, "opening stock", actor="test", create=True)
    with rt.session() as s:
        s.add(TrustedCustomer(account_id=account_id, email="kim@example.com", note="wholesale"))
        export = DataExport(account_id=account_id, store_id=store_id, request_id="r1", data={"orders": []})
        s.add(export)
        s.flush()
        export_id = export.id
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    review = {"reviewer": "sam", "reason": "called the customer"}
    calls: list[tuple[str, str, str, dict[str, Any] | None, int]] = [
        ("GET", "/api/v1/account", "/api/v1/account", None, 200),
        ("GET", "/api/v1/stores", "/api/v1/stores", None, 200),
        ("GET", "/api/v1/stores/{store_id}", f"/api/v1/stores/{store_id}", None, 200),
        ("GET", "/api/v1/stores/{store_id}/timeline", f"/api/v1/stores/{store_id}/timeline", None, 200),
        ("GET", "/api/v1/data-exports", "/api/v1/data-exports", None, 200),
        ("GET", "/api/v1/data-exports/{export_id}", f"/api/v1/data-exports/{export_id}", None, 200),
        ("GET", "/api/v1/inventory", "/api/v1/inventory", None, 200),
        ("GET", "/api/v1/inventory/forecast", "/api/v1/inventory/forecast", None, 200),
        ("GET", "/api/v1/inventory/{sku}", "/api/v1/inventory/TOTE", None, 200),
        ("GET", "/api/v1/orders", "/api/v1/orders?stage=on_hold", None, 200),
        ("GET", "/api/v1/orders/{order_id}", f"/api/v1/orders/{order_id}", None, 200),
        ("GET", "/api/v1/trusted-customers", "/api/v1/trusted-customers", None, 200),
        ("POST", "/api/v1/trusted-customers", "/api/v1/trusted-customers", {"email": "lee@example.com"}, 201),
        ("POST", "/api/v1/trusted-customers", "/api/v1/trusted-customers", {"email": "lee@example.com"}, 200),
        ("DELETE", "/api/v1/trusted-customers", "/api/v1/trusted-customers?email=lee@example.com", None, 200),
        ("DELETE", "/api/v1/trusted-customers", "/api/v1/trusted-customers?email=lee@example.com", None, 404),
        (
            "POST",
            "/api/v1/inventory/{sku}/adjustments",
            "/api/v1/inventory/TOTE/adjustments",
            {"delta": -1, "note": "torn"},
            201,
        ),
        ("POST", "/api/v1/inventory/{sku}/counts", "/api/v1/inventory/TOTE/counts", {"on_hand": 9}, 201),
        (
            "POST",
            "/api/v1/orders/{order_id}/pack",
            f"/api/v1/orders/{order_id}/pack",
            {"scanned": ["TOTE"], "actor": "sam"},
            409,
        ),
        ("POST", "/api/v1/orders/{order_id}/approve", f"/api/v1/orders/{order_id}/approve", review, 200),
        ("POST", "/api/v1/orders/{order_id}/approve", f"/api/v1/orders/{order_id}/approve", review, 200),
        ("POST", "/api/v1/orders/{order_id}/reject", f"/api/v1/orders/{order_id}/reject", review, 409),
        ("GET", "/api/v1/pick-list", f"/api/v1/pick-list?order={order_id}", None, 200),
        (
            "POST",
            "/api/v1/orders/{order_id}/pack",
            f"/api/v1/orders/{order_id}/pack",
            {"scanned": [], "actor": "sam"},
            422,
        ),
        (
            "POST",
            "/api/v1/orders/{order_id}/pack",
            f"/api/v1/orders/{order_id}/pack",
            {"scanned": ["TOTE"], "actor": "sam"},
            200,
        ),
    ]
    for method, template, url, body, status in calls:
        resp = client.open(url, method=method, json=body, headers=auth)
        assert resp.status_code == status, (method, url, resp.status_code, resp.json)
        schema[template][method].validate_response(resp)

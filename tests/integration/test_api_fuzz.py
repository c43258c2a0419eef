"""The JSON API fuzzed against its own OpenAPI document (schemathesis, in process).

Every operation in /api/v1/openapi.json gets generated requests (bounded, derandomized:
the same examples on every run) with a valid bearer token, against a migrated database
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

# Per operation; WAYBILL_FUZZ_EXAMPLES=500 for a longer local run.
MAX_EXAMPLES = int(os.environ.get("WAYBILL_FUZZ_EXAMPLES", "30"))
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
            label = f"{operation.method.upper()} {operation.path} ({mode.value})"
            _fuzz(operation.as_strategy(mode), label, auth, counts, max_examples)
    return counts


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
    print(f"schemathesis: {len(counts)} operations, {sum(counts.values())} requests, {took:.1f} s")
    assert len(counts) >= 20  # every documented operation was exercised
    assert all(n > 0 for n in counts.values())


def test_the_fuzz_run_catches_a_server_error(app: Any, rt: Any) -> None:
    """The run can fail: a documented route that answers 500 is reported, not passed over."""
    token = _merchant(rt)

    @app.get("/api/v1/boom")
    def boom() -> Any:
        return {"error": "planted"}, 500

    from web.openapi import PATHS

    PATHS["/api/v1/boom"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    try:
        with pytest.raises(BaseExceptionGroup) as failed:
            run_schema(app, token, max_examples=1)
    finally:
        del PATHS["/api/v1/boom"]
    assert "Server error" in str(failed.value) and "/api/v1/boom" in str(failed.value)

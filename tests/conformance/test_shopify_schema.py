"""The trimmed schema regenerates identically, and every GraphQL document validates against the real one."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from graphql import parse, validate

from connectors.shopify.client import with_fragments
from sandbox.shopify.trim_schema import SDL_PATH, build_trimmed_schema, load_full_schema, render_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_trimmed_sdl_is_what_the_script_generates(reference_dir: Path) -> None:
    assert SDL_PATH.read_text(encoding="utf-8") == render_sdl(reference_dir)


def test_every_graphql_document_validates_against_the_full_schema(reference_dir: Path) -> None:
    schema = load_full_schema(reference_dir)
    paths = sorted(
        p
        for folder in (ROOT / "connectors", ROOT / "tests" / "fixtures" / "shopify_graphql")
        for p in folder.rglob("*.graphql")
        if p.parent.name != "fragments"  # shared fragments validate inside the documents that spread them
    )
    assert paths, "no GraphQL documents found under connectors/"
    for path in paths:
        errors = validate(schema, parse(with_fragments(path.read_text(encoding="utf-8"))))
        assert [e.message for e in errors] == [], path.relative_to(ROOT)


def test_trimmed_schema_keeps_only_allowlisted_root_fields(reference_dir: Path) -> None:
    trimmed = build_trimmed_schema(load_full_schema(reference_dir))
    assert trimmed.mutation_type is not None
    assert "inventorySetQuantities" in trimmed.mutation_type.fields
    assert "productCreate" not in trimmed.mutation_type.fields


def test_the_write_verbs_send_variables_the_full_schema_accepts(reference_dir: Path) -> None:
    """Each write verb of the Shopify storefront, and its lookup, against a fake that coerces
    every request's variables with the real schema (a wrong input field or enum fails)."""
    import responses

    from connectors.storefront.writes import (
        ParcelShipped,
        RefundLine,
        RefundRequest,
        ReturnLine,
        ReturnRequest,
        TrackingStatus,
        TrackingUpdate,
    )
    from core.money import Money
    from tests.contract.storefront.test_writes_contract import held
    from tests.contract.storefront.writes_backends import ORDER, ShopifyFake

    fake = ShopifyFake(load_full_schema(reference_dir))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        fake.install(mocked)
        shop = fake.storefront()
        shop.record_verdict(ORDER, held())
        shop.cancel(ORDER, "customer changed their mind")
        shop.is_cancelled(ORDER)
        ref = shop.fulfil(ORDER, ParcelShipped(None, "UPS", "1Z1", "https://t.example/1Z1", True)).ref
        assert ref is not None
        update = TrackingUpdate(ref, "1Z1", TrackingStatus.picked_up, datetime(2026, 11, 21, tzinfo=UTC))
        shop.post_tracking_event(ORDER, update)
        shop.find_tracking_event(ORDER, update)
        shop.open_return(ORDER, ReturnRequest("return:1:1", (ReturnLine("12", 1),), notify=True))
        shop.find_return(ORDER, "return:1:1")
        usd = Money(Decimal("5"), "USD")
        shop.refund(ORDER, RefundRequest("refund:1:1", (RefundLine("12", 1, usd),), usd, money_back=True))
        shop.find_refund(ORDER, "refund:1:1")
        for rule in ("window", "final_sale", "other"):
            shop.decline_return(ORDER, fake.request_return(11, 1), rule, "Outside the policy.")
        requested = fake.request_return(11, 1)
        shop.approve_return(ORDER, requested)
        through = RefundRequest(
            "refund:2", (RefundLine("11", 1, usd),), usd, "", True, notify=True, return_ref=requested
        )
        shop.refund(ORDER, through)
        shop.find_refund(ORDER, "refund:2", requested)
        shop.close_return(ORDER, requested)
        shop.fetch_return(ORDER, requested)  # type: ignore[attr-defined]
    sent = {name for name, _ in fake.sent}
    assert sent >= {
        "OrderRiskAssessmentCreate",
        "OrderCancel",
        "FulfillmentCreate",
        "FulfillmentEventCreate",
        "FulfillmentEvents",
        "ReturnCreate",
        "OrderReturns",
        "RefundCreate",
        "OrderRefunds",
        "ReturnDeclineRequest",
        "ReturnApproveRequest",
        "ReturnProcess",
        "ReturnLines",
        "ReturnClose",
    }

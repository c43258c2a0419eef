"""What the rules' verdict does to an order, through the verification job (``verify_order``).

Approve: ready to ship, unless the stock ledger already holds it (oversold), then on hold
with that reason. Hold: on hold for review, the earlier hold reason kept after it. Reject:
cancelled on the storefront (``reject_action: cancel``) or left to a person on hold. Each
move is on the order's timeline with the reason a reviewer reads; the verdict is stored.
Which orders are verified at all, and which customers are trusted, is decided here too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.addresses import Address
from core.orders import Order
from db.models import Order as OrderRow
from db.models import TrustedCustomer
from db.timeline import entries
from sync.pipeline import address_key, verify_order
from tests.integration.test_review_api import merchant
from tests.unit.test_risk import BASE, usd

LAGOS = Address(name="Ola Ade", line1="5 Marina Road", city="Lagos", postal_code="101001", country_code="NG")
CLEAN = BASE  # score 0: approved
RISKY = replace(BASE, billing_address=LAGOS, shipping_address=LAGOS)  # a high-risk destination: held
WORSE = replace(RISKY, total=usd("900"), subtotal=usd("900"))  # and high value: rejected
OVERSOLD = "oversold: MUG: 1 wanted, 0 available"


@pytest.fixture(params=["hold"])
def reject_action(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def config(config: dict[str, Any], reject_action: str) -> dict[str, Any]:
    config["risk"] = {
        "approve_below": 30,
        "reject_at": 60,
        "high_risk_countries": ["NG"],
        "verify_addresses": False,
        "reject_action": reject_action,
        "allowlist": [" Listed@Example.com "],
    }
    return config


def store(rt: Any, order: Order, stage: str = "received", hold_reason: str | None = None) -> int:
    account, shop, _ = merchant(rt, "alpha")
    with rt.session() as s:
        row = OrderRow(
            account_id=account,
            store_id=shop,
            platform="shopify",
            platform_order_id=order.order_id,
            number=order.number,
            email=order.email,
            stage=stage,
            financial_status="paid",
            fulfillment_status="unfulfilled",
            platform_updated_at=order.updated_at,
            data=order.to_dict(),
            hold_reason=hold_reason,
        )
        s.add(row)
        s.flush()
        return int(row.id)


def outcome(rt: Any, order_id: int) -> tuple[str, str | None, dict[str, Any]]:
    """(stage, hold reason, stored verdict) of the order."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None and row.risk is not None
        return row.stage, row.hold_reason, row.risk


def timeline(rt: Any, order_id: int) -> list[tuple[str, str | None, dict[str, Any]]]:
    """The order's timeline as its merchant sees it."""
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        return [(e.action, e.reason, e.data or {}) for e in entries(s, row.account_id, f"order:{order_id}")]


def test_an_approved_order_nothing_holds_is_ready_to_ship_with_its_verdict_on_the_timeline(rt: Any) -> None:
    order_id = store(rt, CLEAN)
    assert verify_order(rt, order_id) == "ready_to_ship"
    stage, hold, risk = outcome(rt, order_id)
    assert (stage, hold) == ("ready_to_ship", None)
    assert (risk["score"], risk["decision"], risk["reason"], risk["facts"]) == (
        0,
        "approve",
        "approved: no rule fired",
        [],
    )
    assert risk["at"]
    assert timeline(rt, order_id) == [
        ("order.verifying", "verification started", {}),
        ("order.address_check_skipped", "address verification is off (risk.verify_addresses)", {}),
        ("order.verified", "approved: no rule fired", {"score": 0, "decision": "approve", "facts": []}),
        ("order.approved", "approved: no rule fired", {}),
        ("order.ready_to_ship", "approved and nothing holds it", {}),
    ]


def test_an_approved_order_the_stock_ledger_holds_stays_on_hold_for_that_reason(rt: Any) -> None:
    order_id = store(rt, CLEAN, stage="on_hold", hold_reason=OVERSOLD)
    assert verify_order(rt, order_id) == "on_hold"
    assert outcome(rt, order_id)[:2] == ("on_hold", OVERSOLD)
    assert [(a, r) for a, r, _ in timeline(rt, order_id)][-2:] == [
        ("order.approved", "approved: no rule fired"),
        ("order.on_hold", OVERSOLD),
    ]


@pytest.mark.parametrize("earlier", [None, OVERSOLD])
def test_a_held_order_waits_for_review_with_the_rules_reason_first(rt: Any, earlier: str | None) -> None:
    order_id = store(rt, RISKY, stage="on_hold" if earlier else "received", hold_reason=earlier)
    assert verify_order(rt, order_id) == "on_hold"
    stage, hold, risk = outcome(rt, order_id)
    assert risk["decision"] == "hold" and risk["reason"].startswith("held for review: score 40: ")
    expected = f"review: {risk['reason']}" + (f"; {earlier}" if earlier else "")
    assert (stage, hold) == ("on_hold", expected)
    assert timeline(rt, order_id)[-1] == ("order.on_hold", expected, {})


@pytest.mark.parametrize("earlier", [None, OVERSOLD])
def test_a_rejection_left_to_a_person_is_held_with_the_rules_reason(rt: Any, earlier: str | None) -> None:
    order_id = store(rt, WORSE, stage="on_hold" if earlier else "received", hold_reason=earlier)
    assert verify_order(rt, order_id) == "on_hold"
    stage, hold, risk = outcome(rt, order_id)
    assert risk["decision"] == "reject" and risk["reason"].startswith("rejected: score 65: ")
    expected = f"rejected by rules: {risk['reason']}" + (f"; {earlier}" if earlier else "")
    assert (stage, hold) == ("on_hold", expected)
    assert timeline(rt, order_id)[-1] == ("order.on_hold", expected, {"action": "a person decides"})


@pytest.mark.parametrize("reject_action", ["cancel"], indirect=True)
@pytest.mark.parametrize("earlier", [None, OVERSOLD])
def test_a_rejection_set_to_cancel_rejects_the_order_and_drops_any_hold(rt: Any, earlier: str | None) -> None:
    order_id = store(rt, WORSE, stage="on_hold" if earlier else "received", hold_reason=earlier)
    assert verify_order(rt, order_id) == "rejected"
    stage, hold, risk = outcome(rt, order_id)
    assert (stage, hold) == ("rejected", None)
    assert timeline(rt, order_id)[-1] == (
        "order.rejected",
        risk["reason"],
        {"action": "cancel on the storefront"},
    )


@pytest.mark.parametrize(
    ("stage", "hold_reason", "risk", "review", "verified"),
    [
        ("received", None, None, None, True),
        ("verifying", None, None, None, True),
        ("on_hold", OVERSOLD, None, None, True),  # oversold at intake, before any verdict
        ("on_hold", "review: x", {"score": 40}, None, False),  # already has its verdict
        ("on_hold", "review: x", None, {"decision": "approve"}, False),  # already reviewed
        ("ready_to_ship", None, None, None, False),
        ("cancelled", None, None, None, False),
    ],
)
def test_only_an_order_without_a_verdict_is_verified(
    rt: Any, stage: str, hold_reason: str | None, risk: Any, review: Any, verified: bool
) -> None:
    order_id = store(rt, CLEAN, stage=stage, hold_reason=hold_reason)
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        row.risk, row.review = risk, review
    verify_order(rt, order_id)
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None
        assert (row.risk is not None and "decision" in row.risk) is verified
    assert ("order.verified" in [action for action, _, _ in timeline(rt, order_id)]) is verified


@pytest.mark.parametrize(
    ("email", "listed_by_merchant", "trusted"),
    [
        ("listed@example.com", None, True),  # the configured allowlist, however it was typed
        ("  LISTED@example.COM ", None, True),
        ("ana@example.com", "ana@example.com", True),  # the merchant's own list
        ("Ana@Example.com", "ana@example.com", True),
        ("ana@example.com", "other@example.com", False),
        ("ana@example.com", None, False),
        (None, None, False),
    ],
)
def test_a_trusted_customer_is_approved_whatever_the_rules_say(
    rt: Any, email: str | None, listed_by_merchant: str | None, trusted: bool
) -> None:
    order_id = store(rt, replace(RISKY, email=email))
    if listed_by_merchant:
        with rt.session() as s:
            row = s.get(OrderRow, order_id)
            assert row is not None
            s.add(TrustedCustomer(account_id=row.account_id, email=listed_by_merchant))
    assert verify_order(rt, order_id) == ("ready_to_ship" if trusted else "on_hold")
    facts = [f["rule"] for f in outcome(rt, order_id)[2]["facts"]]
    assert ("trusted_customer" in facts) is trusted


def test_another_merchants_trusted_customer_is_not_trusted(rt: Any) -> None:
    other, _shop, _ = merchant(rt, "beta")
    with rt.session() as s:
        s.add(TrustedCustomer(account_id=other, email="ana@example.com"))
    order_id = store(rt, RISKY)
    assert verify_order(rt, order_id) == "on_hold"


@pytest.mark.parametrize(
    ("address", "key"),
    [
        (None, None),
        (replace(LAGOS, line1=""), None),
        (replace(LAGOS, line1=None), None),
        (LAGOS, "NG|101001|5 MARINA ROAD"),
        (replace(LAGOS, line1=" 5, marina   road ", postal_code=" 101001"), "NG|101001|5 MARINA ROAD"),
        (replace(LAGOS, postal_code=None), "NG||5 MARINA ROAD"),
        (replace(LAGOS, country_code=None), "|101001|5 MARINA ROAD"),
    ],
)
def test_one_address_however_it_was_typed(address: Address | None, key: str | None) -> None:
    assert address_key(address) == key

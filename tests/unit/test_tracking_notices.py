"""Notice templates, which notices are due, and the merchant's overrides (sync/tracking)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from core.tracking import Milestone
from settings import MerchantTracking as MerchantSettings
from settings import TrackingNotices, TrackingSettings
from sync.tracking.merchant import MerchantTracking, resolve
from sync.tracking.notices import DEFAULTS, due, render, template_for

VALUES = {
    "order_number": "#1001",
    "merchant_name": "North Wind",
    "tracking_url": "https://w.example/t/abc",
    "status": "in transit",
    "estimate": "2026-03-04",
    "carrier": "USPS",
    "tracking_code": "9400",
}


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("Order {order_number} from {merchant_name}", "Order #1001 from North Wind"),
        (
            "{tracking_url} {estimate} {status} {carrier} {tracking_code}",
            "https://w.example/t/abc 2026-03-04 in transit USPS 9400",
        ),
        ("Hi {name}, {order_number}", "Hi {name}, #1001"),
        ("{order_number.__class__}", "{order_number.__class__}"),
        ("{order_number[0]}", "{order_number[0]}"),
        ("{order_number!r}", "{order_number!r}"),
        ("{order_number:>20}", "{order_number:>20}"),
        ("{{literal}} {order_number}", "{literal} #1001"),
        ("unbalanced { brace {order_number}", "unbalanced { brace {order_number}"),
        ("no fields", "no fields"),
        ("", ""),
    ],
)
def test_render_fills_known_fields_and_leaves_anything_else_literal(template: str, rendered: str) -> None:
    assert render(template, VALUES) == rendered


def test_a_missing_value_renders_empty() -> None:
    assert render("[{carrier}]", {}) == "[]"


def merchant(**kw: Any) -> MerchantTracking:
    base: dict[str, Any] = {
        "name": "North Wind",
        "logo_url": None,
        "customer_milestones": frozenset({"out_for_delivery", "delivered", "exception"}),
        "order_status": {},
        "notices": TrackingNotices(),
    }
    return MerchantTracking(**{**base, **kw})


@pytest.mark.parametrize(
    ("notices", "open_kinds", "milestones", "expected"),
    [
        (TrackingNotices(), [], [], []),
        (TrackingNotices(), ["stalled"], [], ["stalled"]),
        (TrackingNotices(), ["late", "failure", "late"], [], ["late", "failure"]),
        (TrackingNotices(delays=False), ["late", "failure"], [Milestone.delayed], ["failure"]),
        (TrackingNotices(exceptions=False), ["late", "failure"], [Milestone.delayed], ["late", "delayed"]),
        (TrackingNotices(), [], [Milestone.out_for_delivery, Milestone.delivered], []),
        (
            TrackingNotices(milestones=True),
            [],
            [Milestone.delivered, Milestone.out_for_delivery, Milestone.in_transit],
            ["out_for_delivery", "delivered"],
        ),
        (TrackingNotices(exceptions=False, delays=False), ["stalled", "late"], [Milestone.delayed], []),
    ],
)
def test_which_notices_are_due(
    notices: TrackingNotices, open_kinds: list[str], milestones: list[Milestone], expected: list[str]
) -> None:
    assert due(merchant(notices=notices), open_kinds, milestones) == expected


def test_every_kind_has_a_default_that_renders_without_braces() -> None:
    kinds = {"out_for_delivery", "delivered", "delayed", "late", "stalled", "failure", "return_to_sender"}
    kinds |= {"available_for_pickup", "attempted_delivery", "carrier_error"}
    assert set(DEFAULTS) == kinds
    for kind in kinds:
        subject, body = (render(t, VALUES) for t in template_for(merchant(), kind))
        assert "#1001" in subject and "{" not in subject + body
        assert "https://w.example/t/abc" in body and "North Wind" in body and "2026-03-04" in body


def test_a_merchant_template_replaces_the_default_part_by_part() -> None:
    own = merchant(templates={"late": {"subject": "Late: {order_number}"}})
    subject, body = template_for(own, "late")
    assert subject == "Late: {order_number}"
    assert body == template_for(merchant(), "late")[1]
    assert template_for(own, "unheard_of") == (
        "About your order {order_number}",
        template_for(own, "unheard_of")[1],
    )


@pytest.mark.parametrize(
    ("milestones", "told", "silent"),
    [
        (
            {"out_for_delivery", "delivered", "exception"},
            ["out_for_delivery", "delivered", "failure", "delayed", "attempted_delivery", "ready_for_pickup"],
            ["picked_up", "in_transit"],
        ),
        ({"in_transit"}, ["in_transit"], ["picked_up", "failure", "delivered"]),
        (set(), [], ["delivered", "failure"]),
    ],
)
def test_the_customer_is_told_at_the_merchant_milestones(
    milestones: set[str], told: list[str], silent: list[str]
) -> None:
    m = merchant(customer_milestones=frozenset(milestones))
    assert all(m.tells_customer(Milestone(x)) for x in told)
    assert not any(m.tells_customer(Milestone(x)) for x in silent)


def test_a_merchant_overrides_only_what_it_sets() -> None:
    tracking = TrackingSettings(
        order_status={"delivered": "delivered"},
        templates={"late": {"subject": "global"}, "stalled": {"subject": "global stall"}},
        merchants={
            "North Wind": MerchantSettings(
                name="North Wind Trading",
                logo_url="https://cdn.example/logo.png",
                customer_milestones=["delivered"],
                notices=TrackingNotices(milestones=True),
                templates={"late": {"subject": "own"}},
                branded_page=True,
            )
        },
    )
    rt: Any = SimpleNamespace(settings=SimpleNamespace(tracking=tracking))
    own = resolve(rt, "North Wind")
    assert (own.name, own.logo_url, own.customer_milestones, own.order_status) == (
        "North Wind Trading",
        "https://cdn.example/logo.png",
        frozenset({"delivered"}),
        {"delivered": "delivered"},
    )
    assert own.notices == TrackingNotices(milestones=True) and own.branded_page is True
    assert own.templates == {"late": {"subject": "own"}, "stalled": {"subject": "global stall"}}
    other = resolve(rt, "South Sea")
    assert (other.name, other.logo_url, other.branded_page, other.notices) == (
        "South Sea",
        None,
        False,
        TrackingNotices(),
    )
    assert other.customer_milestones == frozenset({"out_for_delivery", "delivered", "exception"})
    assert other.templates == {"late": {"subject": "global"}, "stalled": {"subject": "global stall"}}

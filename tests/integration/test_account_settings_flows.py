"""A merchant's saved settings (the console's settings page) change what the flows decide,
for that merchant only; config.yaml's per-merchant entries still apply beneath them.

One test per part: risk weights (verification), boxes (parcel planning), service levels and
carriers (the rate policy a label is bought under), notifications (tracking notices and the
storefront's shipping notice) and the return policy."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select

from core.orders import ShippingMethod
from db.models import Order as OrderRow
from db.models import Shipment, Store
from sync.account_settings import save_part, settings_for
from sync.jobs import JOBS, JobMessage, Outcome, execute, job
from sync.pipeline import verify_order
from sync.returns.merchant import for_account as returns_for
from sync.shipping.plan import start
from sync.shipping.policy import policy_for
from sync.storefronts import access_for
from sync.tracking.merchant import for_account as tracking_for
from tests.integration.test_review_api import merchant
from tests.unit.test_risk import BASE, T0, usd

SMALL = {"name": "S", "length_cm": 5, "width_cm": 5, "height_cm": 5, "max_weight_g": 100}
BIG = {"name": "BIG", "length_cm": 40, "width_cm": 30, "height_cm": 20, "max_weight_g": 10000}


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["risk"] = {"velocity_max_orders": 1, "velocity_window_h": 24, "verify_addresses": False}
    config["shipping"] = {"boxes": [SMALL]}
    config["returns"] = {"merchants": {"alpha": {"restocking_fee_pct": "10", "window_days": 20}}}
    config["tracking"] = {"merchants": {"alpha": {"name": "Alpha Goods"}}}
    return config


def stored(
    rt: Any, account: int, shop: int, number: str, hours: float = 0, stage: str = "received", **changes: Any
) -> int:
    when = T0 + timedelta(hours=hours)
    order = replace(BASE, order_id=number, number=f"#{number}", created_at=when, updated_at=when, **changes)
    with rt.session() as s:
        row = OrderRow(
            account_id=account,
            store_id=shop,
            platform="shopify",
            platform_order_id=number,
            number=f"#{number}",
            email=order.email,
            stage=stage,
            financial_status="paid",
            fulfillment_status="unfulfilled",
            platform_updated_at=order.updated_at,
            data=order.to_dict(),
        )
        s.add(row)
        s.flush()
        return int(row.id)


def test_risk_weights_decide_whether_an_order_is_held(rt: Any) -> None:
    alpha, alpha_shop, _ = merchant(rt, "alpha")
    beta, beta_shop, _ = merchant(rt, "beta")
    weights = {**rt.settings.risk.weights, "velocity": 0}
    save_part(
        rt,
        alpha,
        "risk",
        {"approve_below": 30, "reject_at": 90, "high_value": "500", "weights": weights},
        "t",
    )
    for account, shop in ((alpha, alpha_shop), (beta, beta_shop)):
        stored(rt, account, shop, f"{account}-1", hours=-2)
    # A second order from one e-mail fires velocity: beta's default weight (30) holds it,
    # alpha weighs velocity 0 and the order is approved.
    assert verify_order(rt, stored(rt, beta, beta_shop, f"{beta}-2")) == "on_hold"
    assert verify_order(rt, stored(rt, alpha, alpha_shop, f"{alpha}-2")) == "ready_to_ship"


def test_boxes_decide_the_parcel(rt: Any) -> None:
    alpha, shop, _ = merchant(rt, "alpha")
    beta, beta_shop, _ = merchant(rt, "beta")
    save_part(rt, alpha, "boxes", {"boxes": [SMALL, BIG]}, "t")
    mine = stored(rt, alpha, shop, "a1", stage="packed")
    theirs = stored(rt, beta, beta_shop, "b1", stage="packed")
    started = start(rt, mine)
    assert not isinstance(started, str) and len(started[1]) == 1
    with rt.session() as s:
        planned = s.scalars(select(Shipment).where(Shipment.order_id == mine)).one()
        assert planned.parcel["box"] == "BIG"
    # beta has only config.yaml's small box: the mug fits no box, the order is held.
    assert start(rt, theirs) == "on_hold"
    with rt.session() as s:
        held = s.get(OrderRow, theirs)
        assert held is not None and "fits no box" in str(held.hold_reason)


def test_service_levels_and_carriers_decide_the_rate_policy(rt: Any) -> None:
    alpha, _, _ = merchant(rt, "alpha")
    beta, _, _ = merchant(rt, "beta")
    save_part(
        rt,
        alpha,
        "service_levels",
        {
            "service_levels": {"standard": {"max_days": 5}, "rush": {"max_days": 1}},
            "default_level": "standard",
        },
        "t",
    )
    save_part(
        rt, alpha, "carriers", {"carriers_allow": ["UPS"], "carriers_deny": [], "insure_above": "100"}, "t"
    )
    order = replace(BASE, shipping_method=ShippingMethod(code="standard", title="Standard", price=usd("0")))
    mine, theirs = policy_for(rt, order, None, alpha), policy_for(rt, order, None, beta)
    assert (mine.max_days, mine.allow) == (5, frozenset({"UPS"}))
    assert (theirs.max_days, theirs.allow) == (None, frozenset())


def test_notifications_decide_what_customers_are_told(rt: Any) -> None:
    alpha, alpha_shop, _ = merchant(rt, "alpha")
    beta, beta_shop, _ = merchant(rt, "beta")
    notices = {"exceptions": True, "delays": False, "milestones": True}
    save_part(rt, alpha, "notifications", {"notices": notices, "notify_customer": False}, "t")
    with rt.session() as s:
        mine, theirs = tracking_for(rt, s, alpha), tracking_for(rt, s, beta)
        stores = {st.id: st for st in s.scalars(select(Store))}
        for st in stores.values():
            st.credentials = rt.vault.encrypt_json({"access_token": "shpat_test"})
        s.flush()
        for st in stores.values():
            s.expunge(st)
    assert (mine.notices.delays, mine.notices.milestones) == (False, True)
    assert (theirs.notices.delays, theirs.notices.milestones) == (True, False)
    assert mine.name == "Alpha Goods"  # config.yaml's tracking.merchants entry still applies
    assert access_for(rt, stores[alpha_shop]).notify_customer is False
    assert access_for(rt, stores[beta_shop]).notify_customer is True


def test_the_return_policy_lays_over_config_merchant_entries(rt: Any) -> None:
    alpha, _, _ = merchant(rt, "alpha")
    beta, _, _ = merchant(rt, "beta")
    with rt.session() as s:
        assert returns_for(rt, s, alpha).policy.window_days == 20  # config.yaml's merchants.alpha
    save_part(
        rt,
        alpha,
        "returns",
        {
            "window_days": 7,
            "restocking_fee_pct": "10",
            "exchange_allowed": False,
            "label": "none",
            "refund_after": "inspected",
            "non_returnable_skus": ["MUG"],
        },
        "t",
    )
    with rt.session() as s:
        mine, theirs = returns_for(rt, s, alpha), returns_for(rt, s, beta)
    assert mine.policy.window_days == 7 and not mine.prepaid
    assert mine.policy.restocking_fee_pct == Decimal("10")
    assert theirs.policy.window_days == rt.settings.returns.window_days and theirs.prepaid


def test_a_job_reads_an_accounts_settings_once_and_the_next_job_sees_a_save(rt: Any) -> None:
    alpha, _, _ = merchant(rt, "alpha")
    reads: list[str] = []
    here = threading.get_ident()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The job's own reads (the saver, in its thread, reads the row too).
        if threading.get_ident() == here and "FROM accounts LEFT OUTER JOIN account_settings" in statement:
            reads.append(statement)

    def save_elsewhere(max_days: int) -> None:
        # A save made by another thread (as the web process's would be): this job's
        # context is not the saver's, so only the database tells this job of it.
        levels = {"standard": {"max_days": max_days}}
        saver = threading.Thread(
            target=save_part,
            args=(rt, alpha, "service_levels", {"service_levels": levels, "default_level": "standard"}, "t"),
        )
        saver.start()
        saver.join()

    seen: list[int | None] = []

    def steps(rt: Any, account_id: int) -> None:
        seen.append(settings_for(rt, account_id).shipping.service_levels["standard"].max_days)
        save_elsewhere(2)
        seen.append(settings_for(rt, account_id).shipping.service_levels["standard"].max_days)

    job("test.settings_steps", "default")(steps)
    save_elsewhere(5)
    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        first = execute(rt, JobMessage("test.settings_steps", {"account_id": alpha}, "j1", "default"))
        assert first.outcome is Outcome.done
        assert seen == [5, 5]  # one read per job: its later steps keep what the first found
        assert len(reads) == 1
        second = execute(rt, JobMessage("test.settings_steps", {"account_id": alpha}, "j2", "default"))
        assert second.outcome is Outcome.done
        assert seen[2] == 2  # the save between the jobs reaches the next job
        assert len(reads) == 2
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)
        JOBS.pop("test.settings_steps", None)
    assert (
        settings_for(rt, alpha).shipping.service_levels["standard"].max_days == 2
    )  # outside a job: read each time

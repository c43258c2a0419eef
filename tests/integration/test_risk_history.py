"""Velocity and history rules counted from the database, through the verification flow.

Orders are stored as intake stores them and verified by the job itself
(``sync.pipeline.verify_order``); the facts read back from the order's stored verdict.
The order being verified never counts itself, orders outside the window or of another
merchant do not count, and only earlier orders make a returning customer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from core.money import Money
from core.orders import Order, ShippingMethod, email_key
from db.models import Order as OrderRow
from db.models import Store
from sync.erasure import Eraser, _erase_order
from sync.orders import upsert_order
from sync.pipeline import verify_order
from tests.integration.test_review_api import merchant
from tests.unit.test_risk import BASE, HOME, T0, usd


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["risk"] = {"velocity_max_orders": 1, "velocity_window_h": 24, "verify_addresses": False}
    return config


def store(rt: Any, account: int, shop: int, number: str, order: Order) -> int:
    with rt.session() as s:
        row = OrderRow(
            account_id=account,
            store_id=shop,
            platform="shopify",
            platform_order_id=number,
            number=f"#{number}",
            email=email_key(order.email),  # as sync.orders keeps it
            stage="received",
            financial_status="paid",
            fulfillment_status="unfulfilled",
            platform_updated_at=order.updated_at,
            data=replace(order, order_id=number, number=f"#{number}").to_dict(),
        )
        s.add(row)
        s.flush()
        return int(row.id)


def facts(rt: Any, order_id: int) -> dict[str, str]:
    with rt.session() as s:
        row = s.get(OrderRow, order_id)
        assert row is not None and row.risk is not None
        return {f["rule"]: f["detail"] for f in row.risk["facts"]}


def at(hours: float, **changes: Any) -> Order:
    when = T0 + timedelta(hours=hours)
    return replace(BASE, created_at=when, updated_at=when, **changes)


OTHER_IP = {"browser_ip": "198.51.100.7"}
OTHER_ADDRESS = {"shipping_address": replace(HOME, line1="9 Elm St", postal_code="78704")}


def test_an_order_alone_does_not_count_itself(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    only = store(rt, account, shop, "1", at(0))
    assert verify_order(rt, only) == "ready_to_ship"
    assert facts(rt, only) == {}  # one order from one e-mail, address and IP is not more than 1


def test_a_second_order_from_one_email_fires_velocity(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    store(rt, account, shop, "1", at(-2, **OTHER_IP, **OTHER_ADDRESS))
    second = store(rt, account, shop, "2", at(0))
    verify_order(rt, second)
    assert facts(rt, second)["velocity"] == "2 orders from one e-mail in the window (more than 1)"


def test_same_ip_and_address_from_another_email_count_on_their_own(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    store(rt, account, shop, "1", at(-1, email="other@example.com"))
    second = store(rt, account, shop, "2", at(0))
    verify_order(rt, second)
    assert facts(rt, second)["velocity"] == (
        "2 orders from one address; 2 orders from one IP in the window (more than 1)"
    )


@pytest.mark.parametrize(
    ("hours", "counts"),
    [(-23.9, True), (-24, True), (-24.1, False), (23.9, True), (24.1, False)],
)
def test_only_orders_inside_the_window_count(rt: Any, hours: float, counts: bool) -> None:
    account, shop, _ = merchant(rt, "alpha")
    store(rt, account, shop, "1", at(hours, **OTHER_IP, **OTHER_ADDRESS))
    order = store(rt, account, shop, "2", at(0))
    verify_order(rt, order)
    assert ("velocity" in facts(rt, order)) is counts


def test_another_merchants_orders_do_not_count(rt: Any) -> None:
    alpha, alpha_shop, _ = merchant(rt, "alpha")
    beta, beta_shop, _ = merchant(rt, "beta")
    store(rt, beta, beta_shop, "1", at(-1))
    order = store(rt, alpha, alpha_shop, "2", at(0))
    verify_order(rt, order)
    assert "velocity" not in facts(rt, order)


EXPRESS = {
    "shipping_method": ShippingMethod(code="express", title="Express", price=usd("25")),
    "total": usd("900"),
}


def test_a_first_order_with_expedited_shipping_and_high_value_fires(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    first = store(rt, account, shop, "1", at(0, **EXPRESS))
    verify_order(rt, first)
    assert facts(rt, first)["new_customer_expedited_high_value"] == (
        "first order, expedited shipping (Express), high value"
    )


def test_an_earlier_order_makes_a_returning_customer_and_a_later_one_does_not(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    later = store(rt, account, shop, "3", at(100, **OTHER_IP, **OTHER_ADDRESS))
    order = store(rt, account, shop, "2", at(0, **EXPRESS))
    verify_order(rt, order)
    assert "new_customer_expedited_high_value" in facts(rt, order)  # only a later order exists
    assert later != order
    store(rt, account, shop, "1", at(-100, **OTHER_IP, **OTHER_ADDRESS))
    again = store(rt, account, shop, "4", at(0, **EXPRESS, browser_ip="192.0.2.1"))
    verify_order(rt, again)
    assert "new_customer_expedited_high_value" not in facts(rt, again)


def test_money_in_the_verdict_is_the_orders_own(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    order = store(rt, account, shop, "1", at(0, total=Money(usd("500.00").amount, "USD")))
    verify_order(rt, order)
    assert facts(rt, order)["high_value"] == "total 500.00 USD is at or above 500"


@pytest.mark.parametrize(
    ("other", "fired"),
    [
        # the same e-mail however it was typed
        ({"email": "  ANA@Example.com ", **OTHER_IP, **OTHER_ADDRESS}, "2 orders from one e-mail"),
        # the same address however it was typed, from another e-mail and IP
        (
            {
                "email": "other@example.com",
                **OTHER_IP,
                "shipping_address": replace(HOME, line1=" 1, main  st", postal_code="78701 "),
            },
            "2 orders from one address",
        ),
        # the same IP, from another e-mail and address
        ({"email": "other@example.com", **OTHER_ADDRESS}, "2 orders from one IP"),
    ],
)
def test_each_velocity_count_matches_on_its_own(rt: Any, other: dict[str, Any], fired: str) -> None:
    for earlier in (1, 2):  # one earlier order, then two: each one counts
        account, shop, _ = merchant(rt, f"m{earlier}")
        for n in range(earlier):
            store(rt, account, shop, str(n + 1), at(-1 - n, **other))
        order = store(rt, account, shop, "9", at(0))
        verify_order(rt, order)
        assert facts(rt, order)["velocity"] == f"{earlier + 1}{fired[1:]} in the window (more than 1)"


def test_an_order_far_outside_the_window_does_not_stop_the_count(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    store(rt, account, shop, "1", at(-1, **OTHER_IP, **OTHER_ADDRESS))
    store(rt, account, shop, "2", at(48, **OTHER_IP, **OTHER_ADDRESS))  # the newest, read first
    order = store(rt, account, shop, "3", at(0))
    verify_order(rt, order)
    assert facts(rt, order)["velocity"] == "2 orders from one e-mail in the window (more than 1)"


def test_another_merchants_earlier_order_does_not_make_a_returning_customer(rt: Any) -> None:
    alpha, alpha_shop, _ = merchant(rt, "alpha")
    beta, beta_shop, _ = merchant(rt, "beta")
    store(rt, beta, beta_shop, "1", at(-100, **OTHER_IP, **OTHER_ADDRESS))
    order = store(rt, alpha, alpha_shop, "2", at(0, **EXPRESS))
    verify_order(rt, order)
    assert "new_customer_expedited_high_value" in facts(rt, order)


def test_what_an_order_lacks_never_matches_another_order_lacking_it(rt: Any) -> None:
    """No e-mail, no address and no IP on either order: nothing in common to count."""
    account, shop, _ = merchant(rt, "alpha")
    bare = {"email": None, "browser_ip": None, "shipping_address": None}
    store(rt, account, shop, "1", at(-1, **bare))
    order = store(rt, account, shop, "2", at(0, **bare))
    verify_order(rt, order)
    assert "velocity" not in facts(rt, order)
    lines = {"email": None, "browser_ip": None, "shipping_address": replace(HOME, line1="")}
    store(rt, account, shop, "3", at(-1, **lines))
    again = store(rt, account, shop, "4", at(0, **lines))
    verify_order(rt, again)
    assert "velocity" not in facts(rt, again)


def test_an_order_of_the_same_moment_is_not_an_earlier_one(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    store(rt, account, shop, "1", at(0, **OTHER_IP, **OTHER_ADDRESS))
    order = store(rt, account, shop, "2", at(0, **EXPRESS, browser_ip="192.0.2.1"))
    verify_order(rt, order)
    assert "new_customer_expedited_high_value" in facts(rt, order)


def test_an_earlier_order_counts_whatever_case_its_e_mail_was_typed_in(rt: Any) -> None:
    """Both orders arrive through intake, which keeps the address as Waybill matches it."""
    _account, shop, _ = merchant(rt, "alpha")
    with rt.session() as s:
        where = s.get(Store, shop)
        earlier = at(-100, email=" Ana@Example.COM", **OTHER_IP, **OTHER_ADDRESS)
        upsert_order(s, where, replace(earlier, order_id="1", number="#1"), "test")
        order = upsert_order(s, where, replace(at(0, **EXPRESS), order_id="2", number="#2"), "test").row.id
    verify_order(rt, order)
    assert "new_customer_expedited_high_value" not in facts(rt, order)


def test_another_customers_earlier_order_at_the_same_merchant_is_not_history(rt: Any) -> None:
    _account, shop, _ = merchant(rt, "alpha")
    with rt.session() as s:
        where = s.get(Store, shop)
        earlier = at(-100, email="someone.else@example.com", **OTHER_IP, **OTHER_ADDRESS)
        upsert_order(s, where, replace(earlier, order_id="1", number="#1"), "test")
        order = upsert_order(s, where, replace(at(0, **EXPRESS), order_id="2", number="#2"), "test").row.id
    verify_order(rt, order)
    assert "new_customer_expedited_high_value" in facts(rt, order)


def test_an_order_without_an_e_mail_has_no_history_and_no_e_mail_velocity(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    store(rt, account, shop, "1", at(-100, email=None, **OTHER_IP, **OTHER_ADDRESS))
    store(rt, account, shop, "2", at(-1, email=None, **OTHER_IP, **OTHER_ADDRESS))
    order = store(rt, account, shop, "3", at(0, email=None, **EXPRESS))
    verify_order(rt, order)
    found = facts(rt, order)
    assert "new_customer_expedited_high_value" in found
    assert "velocity" not in found


def test_an_order_updated_at_the_edge_of_the_window_is_read(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    store(rt, account, shop, "1", at(24, **OTHER_IP, **OTHER_ADDRESS))  # created at the far edge
    order = store(rt, account, shop, "2", at(0))
    verify_order(rt, order)
    assert "velocity" in facts(rt, order)


def test_velocity_counts_every_order_in_the_window_however_many_the_account_holds(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    store(rt, account, shop, "1", at(-3, **OTHER_IP, **OTHER_ADDRESS))  # same e-mail, the oldest
    for n in range(2, 40):  # newer orders of other customers
        store(rt, account, shop, str(n), at(-2, email=f"c{n}@example.com", **OTHER_IP, **OTHER_ADDRESS))
    order = store(rt, account, shop, "99", at(0))
    verify_order(rt, order)
    assert facts(rt, order)["velocity"] == "2 orders from one e-mail in the window (more than 1)"


def test_the_history_keys_follow_the_orders_data_and_are_gone_once_it_is_erased(rt: Any) -> None:
    account, shop, _ = merchant(rt, "alpha")
    order = store(rt, account, shop, "1", at(-1, **OTHER_IP, **OTHER_ADDRESS))
    with rt.session() as s:
        row = s.get(OrderRow, order)
        assert row is not None
        assert (row.placed_at, row.ship_key, row.browser_ip) == (
            T0 - timedelta(hours=1),
            "US|78704|9 ELM ST",
            "198.51.100.7",
        )
        _erase_order(row, Eraser({"ana@example.com"}))
    with rt.session() as s:
        row = s.get(OrderRow, order)
        assert row is not None
        assert (row.placed_at, row.ship_key, row.browser_ip) == (T0 - timedelta(hours=1), None, None)
    later = store(rt, account, shop, "2", at(0, **OTHER_IP, **OTHER_ADDRESS))
    verify_order(rt, later)
    assert "velocity" not in facts(rt, later)  # the erased order matches nothing any more

"""The seeded world the console is measured and swept in (``bench.console_seed``): stored in
the pipeline's shapes, spread like a real shop, walled per account; and the console pages
found from the app's URL map with their parameters filled from it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from bench.console_seed import pages, seed
from core.lifecycle import SHIPPED, Stage
from core.orders import Order as CanonicalOrder
from core.risk import RiskVerdict
from core.shipping import Label
from db.accounts import get_or_create_account
from db.models import (
    Account,
    DeadLetter,
    DeliveryException,
    Order,
    Return,
    ReturnItem,
    Role,
    Shipment,
    StockItem,
    StockMovement,
    Store,
    TimelineEntry,
    TrackingScan,
)
from db.users import create_user, start_user_session
from web.console import page


def test_the_seeded_account_holds_a_real_shops_orders_in_the_pipelines_shapes(rt: Any) -> None:
    world = seed(rt.engine, orders=400, other_orders=60, days=30)
    main, other = world.main, world.other
    with rt.session() as s:
        rows = list(s.scalars(select(Order).where(Order.account_id == main.account_id)))
        assert len(rows) == 400
        for row in rows:
            order = CanonicalOrder.from_dict(row.data)  # the canonical stored form, exactly
            assert (order.number, order.email) == (row.number, row.email)
            if row.risk is not None:
                RiskVerdict.from_dict(row.risk)
        stages = Counter(row.stage for row in rows)
        assert stages[Stage.DELIVERED] > len(rows) / 2  # most delivered
        assert stages[Stage.ON_HOLD] > 0 and stages[Stage.READY_TO_SHIP] > 0
        held = [row for row in rows if row.stage == Stage.ON_HOLD and row.risk and row.risk["facts"]]
        assert held and all(row.hold_reason for row in held)
        assert {s.platform for s in s.scalars(select(Store).where(Store.account_id == main.account_id))} == {
            "shopify",
            "woocommerce",
        }
        shipped = [row.id for row in rows if row.stage in SHIPPED]
        labels = s.scalars(select(Shipment).where(Shipment.order_id.in_(shipped)))
        for shipment in labels:
            assert shipment.label is not None and Label.from_dict(shipment.label).tracking_code
            assert shipment.rates is not None and shipment.rates["chosen"] is not None
        entries = s.scalar(select(func.count()).where(TimelineEntry.account_id == main.account_id))
        assert 6 * len(rows) <= (entries or 0) <= 20 * len(rows)  # about ten an order
        for model in (TrackingScan, StockMovement, DeliveryException, Return, ReturnItem):
            assert s.scalar(
                select(func.count()).select_from(model).where(model.account_id == main.account_id)
            )
        assert s.scalar(
            select(func.count()).select_from(StockItem).where(StockItem.account_id == main.account_id)
        )
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 10
        # The other account: its own orders, nothing of the first one's.
        assert s.scalar(select(func.count()).where(Order.account_id == other.account_id)) == 60
        theirs = s.scalars(select(Order.store_id).where(Order.account_id == other.account_id)).all()
        assert set(theirs) == set(other.store_ids) and not set(theirs) & set(main.store_ids)
        # The sample values point at the seeded account's own rows.
        sample = s.get(Order, main.order_id)
        assert sample is not None and sample.account_id == main.account_id and sample.number == main.number
        assert (
            s.scalar(select(Shipment.tracking_code).where(Shipment.id == main.shipment_id))
            == main.tracking_code
        )


def test_seeding_twice_in_one_database_keeps_ids_apart_and_the_app_can_add_rows(rt: Any) -> None:
    first = seed(rt.engine, orders=30, other_orders=10, name="First seeded")
    second = seed(rt.engine, orders=30, other_orders=10, name="Second seeded")
    assert second.main.account_id > first.other.account_id
    with rt.session() as s:  # the ORM's own inserts after the seeder's explicit ids (sequences moved on)
        assert s.scalars(select(Order).where(Order.account_id == second.main.account_id)).first()
        fresh = get_or_create_account(s, "Made after seeding")
        s.commit()
        assert fresh.id > second.other.account_id


def test_pages_come_from_the_url_map_with_parameters_filled_and_the_unfillable_named(
    rt: Any, app: Any
) -> None:
    @page("staff")
    def order_page(order_id: int) -> str:
        return "order"

    @page("staff")
    def stock_page(sku: str) -> str:
        return "stock"

    @page("owner")
    def invite_page(token: str) -> str:
        return "invite"

    app.add_url_rule("/app/test-orders/<int:order_id>", "console.test_order", order_page)
    app.add_url_rule("/app/test-stock/<sku>", "console.test_stock", stock_page)
    app.add_url_rule("/app/test-invite/<token>", "console.test_invite", invite_page)
    world = seed(rt.engine, orders=40, other_orders=5)
    found = pages(app, world.main)
    urls = {p.endpoint: p for p in found.found}
    assert urls["console.test_order"].url == f"/app/test-orders/{world.main.order_id}"
    assert urls["console.test_order"].least_role == "staff"
    assert urls["console.test_stock"].url == f"/app/test-stock/{world.main.sku}"
    assert urls["console.home"].url == "/" and urls["console.login"].least_role is None
    assert found.unfilled == ["/app/test-invite/<token> (console.test_invite)"]
    assert "ops.healthz" not in urls  # only console pages
    # The filled page answers for the seeded account's owner.
    with rt.session() as s:
        account = s.get(Account, world.main.account_id)
        user = create_user(s, account, "seed-owner@example.com", "a long enough password", Role.owner)
        key = start_user_session(s, user)
        s.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["sid"], session["account_id"] = key, world.main.account_id
    assert client.get(urls["console.test_order"].url).status_code == 200

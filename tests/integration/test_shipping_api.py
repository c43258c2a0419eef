"""Pick lists and pack scans in the JSON API and the `ship` CLI: tenant walls, bad input, a mismatch
blocking the label, a match enqueueing it, and shipping holds released by `ship run`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core.addresses import Address
from core.money import Money
from core.orders import FinancialStatus, FulfillmentStatus, LineItem, Order
from db.accounts import get_or_create_account, issue_token
from db.models import Order as OrderRow
from db.models import Store, StoreState, TimelineEntry
from sync.jobs import safe_job_id

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
BINS = {"MUG-12OZ": "A10", "TEE-BLK-M": "A2", "CAP-RED": "B1"}


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["shipping"] = {"bins": BINS}
    return config


def canonical(number: str, lines: list[tuple[str, int]], address: Address | None = None) -> dict[str, Any]:
    usd = Money(Decimal("10.00"), "USD")
    ship_to = Address(
        name="Ada", line1="12 Analytical St", city="Brooklyn", postal_code="11201", country_code="US"
    )
    items = tuple(
        LineItem(str(n), sku, "10", str(20 + n), sku.title(), qty, usd, 200, True)
        for n, (sku, qty) in enumerate(lines)
    )
    return Order(
        platform="shopify",
        order_id=number,
        gid=f"gid://shopify/Order/{number}",
        number=f"#{number}",
        currency="USD",
        email="ada@example.com",
        customer_id=None,
        browser_ip=None,
        billing_address=ship_to,
        shipping_address=ship_to if address is None else address,
        line_items=items,
        subtotal=usd,
        total=usd,
        total_tax=Money(Decimal("0"), "USD"),
        total_shipping=Money(Decimal("0"), "USD"),
        total_discounts=Money(Decimal("0"), "USD"),
        shipping_method=None,
        financial_status=FinancialStatus.PAID,
        fulfillment_status=FulfillmentStatus.UNFULFILLED,
        cancelled_at=None,
        cancel_reason=None,
        tags=(),
        note=None,
        created_at=NOW,
        updated_at=NOW,
    ).to_dict()


def merchant(rt: Any, name: str) -> tuple[int, int, dict[str, str]]:
    with rt.session() as s:
        account = get_or_create_account(s, name)
        store = Store(
            account_id=account.id, platform="shopify", domain=f"{name}.myshopify.com", state=StoreState.active
        )
        s.add(store)
        s.flush()
        return account.id, store.id, {"Authorization": f"Bearer {issue_token(s, account)}"}


def add_order(
    rt: Any, account_id: int, store_id: int, number: str, data: dict[str, Any], stage: str = "ready_to_ship"
) -> int:
    with rt.session() as s:
        row = OrderRow(
            account_id=account_id,
            store_id=store_id,
            platform="shopify",
            platform_order_id=number,
            number=f"#{number}",
            stage=stage,
            financial_status="paid",
            fulfillment_status="unfulfilled",
            platform_updated_at=NOW,
            data=data,
        )
        s.add(row)
        s.flush()
        return int(row.id)


@pytest.fixture
def shop(rt: Any) -> dict[str, Any]:
    """Two merchants: ``north`` with three orders (two ready), ``south`` with one ready order."""
    north, north_store, headers = merchant(rt, "north")
    south, south_store, south_headers = merchant(rt, "south")
    ids = {
        "a": add_order(
            rt, north, north_store, "1001", canonical("1001", [("MUG-12OZ", 2), ("TEE-BLK-M", 1)])
        ),
        "b": add_order(rt, north, north_store, "1002", canonical("1002", [("MUG-12OZ", 1), ("LOOSE", 1)])),
        "held": add_order(
            rt, north, north_store, "1003", canonical("1003", [("CAP-RED", 1)]), stage="on_hold"
        ),
        "south": add_order(rt, south, south_store, "2001", canonical("2001", [("CAP-RED", 5)])),
    }
    return {
        "account": north,
        "store": north_store,
        "headers": headers,
        "south_headers": south_headers,
        "ids": ids,
    }


def trail(rt: Any, order_id: int) -> list[TimelineEntry]:
    with rt.session() as s:
        rows = list(
            s.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.subject == f"order:{order_id}")
                .order_by(TimelineEntry.id)
            )
        )
        s.expunge_all()
        return rows


def test_the_pick_list_walks_the_bins_in_order_for_the_merchants_ready_orders(
    client: Any, shop: dict[str, Any]
) -> None:
    answer = client.get("/api/v1/pick-list", headers=shop["headers"])
    assert answer.status_code == 200, answer.json
    a, b = shop["ids"]["a"], shop["ids"]["b"]
    assert answer.json["lines"] == [
        {
            "bin": "A2",
            "sku": "TEE-BLK-M",
            "title": "Tee-Blk-M",
            "quantity": 1,
            "orders": [{"id": a, "number": "#1001"}],
        },
        {
            "bin": "A10",
            "sku": "MUG-12OZ",
            "title": "Mug-12Oz",
            "quantity": 3,
            "orders": [{"id": a, "number": "#1001"}, {"id": b, "number": "#1002"}],
        },
        {
            "bin": None,
            "sku": "LOOSE",
            "title": "Loose",
            "quantity": 1,
            "orders": [{"id": b, "number": "#1002"}],
        },
    ]
    assert answer.json["orders"] == [a, b] and answer.json["units"] == 5


def test_a_pick_list_for_chosen_orders_and_its_tenant_walls(client: Any, shop: dict[str, Any]) -> None:
    ids = shop["ids"]
    chosen = client.get(f"/api/v1/pick-list?order={ids['held']}&order={ids['b']}", headers=shop["headers"])
    assert chosen.status_code == 200
    assert [line["sku"] for line in chosen.json["lines"]] == ["MUG-12OZ", "CAP-RED", "LOOSE"]
    assert chosen.json["orders"] == sorted([ids["held"], ids["b"]])
    other = client.get(f"/api/v1/pick-list?order={ids['south']}", headers=shop["headers"])
    assert other.status_code == 404
    assert client.get("/api/v1/pick-list?order=first", headers=shop["headers"]).status_code == 400
    assert client.get("/api/v1/pick-list").status_code == 401
    south = client.get("/api/v1/pick-list", headers=shop["south_headers"]).json
    assert [(line["sku"], line["quantity"]) for line in south["lines"]] == [("CAP-RED", 5)]


def test_a_mismatched_pack_scan_blocks_the_label_and_a_match_enqueues_it(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    order_id = shop["ids"]["a"]
    url = f"/api/v1/orders/{order_id}/pack"
    wrong = client.post(
        url, json={"scanned": ["MUG-12OZ", "CAP-RED"], "actor": "sam"}, headers=shop["headers"]
    )
    assert wrong.status_code == 422
    assert wrong.json["ok"] is False and wrong.json["stage"] == "ready_to_ship"
    assert wrong.json["missing"] == {"MUG-12OZ": 1, "TEE-BLK-M": 1} and wrong.json["unknown"] == ["CAP-RED"]
    assert wrong.json["error"].startswith(
        "contents do not match the order: missing 1 x MUG-12OZ, 1 x TEE-BLK-M"
    )
    assert not rt.queue.is_live(safe_job_id("ship", order_id))
    (mismatch,) = [e for e in trail(rt, order_id) if e.action == "pack.mismatch"]
    assert mismatch.actor == "sam" and mismatch.data["missing"] == {"MUG-12OZ": 1, "TEE-BLK-M": 1}

    right = client.post(
        url,
        json={"scanned": ["TEE-BLK-M", "MUG-12OZ", " MUG-12OZ "], "actor": "sam"},
        headers=shop["headers"],
    )
    assert right.status_code == 200 and right.json["ok"] is True
    assert right.json["message"] == "contents verified: 3 unit(s) of 2 SKU(s)"
    assert rt.queue.is_live(safe_job_id("ship", order_id))
    assert [e.action for e in trail(rt, order_id)] == ["pack.mismatch", "pack.verified"]


@pytest.mark.parametrize(
    "body",
    [None, [], {"scanned": "MUG-12OZ", "actor": "sam"}, {"scanned": [1, 2], "actor": "sam"}, {"scanned": []}],
)
def test_a_pack_scan_with_bad_input_is_refused(client: Any, shop: dict[str, Any], body: Any) -> None:
    answer = client.post(f"/api/v1/orders/{shop['ids']['a']}/pack", json=body, headers=shop["headers"])
    assert answer.status_code == 400 and answer.json["error"]


def test_a_pack_scan_for_another_merchant_or_an_order_not_ready_is_refused(
    rt: Any, client: Any, shop: dict[str, Any]
) -> None:
    body = {"scanned": ["CAP-RED"], "actor": "sam"}
    south = client.post(f"/api/v1/orders/{shop['ids']['south']}/pack", json=body, headers=shop["headers"])
    assert south.status_code == 404
    held = client.post(f"/api/v1/orders/{shop['ids']['held']}/pack", json=body, headers=shop["headers"])
    assert held.status_code == 409 and "on_hold" in held.json["error"]
    assert trail(rt, shop["ids"]["held"]) == [] and trail(rt, shop["ids"]["south"]) == []


def test_the_openapi_document_describes_pick_and_pack(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["paths"]["/api/v1/pick-list"]["get"]["parameters"][0]["name"] == "order"
    pack = doc["paths"]["/api/v1/orders/{order_id}/pack"]["post"]
    assert {"200", "422", "409", "404", "400"} <= set(pack["responses"])
    assert doc["components"]["schemas"]["PackRequest"]["required"] == ["scanned", "actor"]


def test_the_ship_cli_picks_packs_and_releases_a_shipping_hold(
    rt: Any, app: Any, shop: dict[str, Any]
) -> None:
    runner = app.test_cli_runner()
    ids = shop["ids"]
    listed = runner.invoke(args=["ship", "pick-list", "--order", str(ids["a"]), "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(line["sku"], line["quantity"]) for line in json.loads(listed.output)] == [
        ("TEE-BLK-M", 1),
        ("MUG-12OZ", 2),
    ]
    wrong = runner.invoke(args=["ship", "pack", str(ids["a"]), "MUG-12OZ", "--actor", "kim"])
    assert (
        wrong.exit_code != 0 and "contents do not match: missing 1 x MUG-12OZ, 1 x TEE-BLK-M" in wrong.output
    )

    # An order held by shipping (no address to ship to) is released and checked again by `ship run`.
    no_address = canonical("1004", [("CAP-RED", 1)], address=Address())
    held = add_order(rt, shop["account"], shop["store"], "1004", no_address, stage="on_hold")
    with rt.session() as s:
        row = s.get(OrderRow, held)
        assert row is not None
        row.hold_reason = "shipping: the order has no shipping address"
    ran = runner.invoke(args=["ship", "run", str(held), "--actor", "kim"])
    assert ran.exit_code == 1, ran.output  # held again: said, and not a success
    assert f"order {held}: on_hold - held: shipping: the order has no shipping address" in ran.output
    assert (
        f"Error: order {held} was not shipped: it is on hold: shipping: the order has no shipping address"
        in ran.stderr
    )
    actions = [(e.actor, e.action) for e in trail(rt, held)]
    assert actions == [
        ("kim", "order.ready_to_ship"),
        ("shipping", "order.packed"),
        ("shipping", "order.on_hold"),
    ]
    voided = runner.invoke(args=["ship", "void", str(held)])
    assert voided.exit_code == 0 and f"order {held}: 0 label(s) voided" in voided.output
    assert runner.invoke(args=["ship", "run", "999999"]).exit_code != 0


def test_ship_run_leaves_holds_that_are_not_shippings_alone(rt: Any, app: Any, shop: dict[str, Any]) -> None:
    held = shop["ids"]["held"]
    with rt.session() as s:
        row = s.get(OrderRow, held)
        assert row is not None
        row.hold_reason = "review: score 65"
    ran = app.test_cli_runner().invoke(args=["ship", "run", str(held)])
    assert ran.exit_code == 1 and f"order {held}: on_hold - held: review: score 65" in ran.output
    assert (
        f"Error: order {held} was not shipped: it is on hold: review: score 65; "
        "`ship run` releases only shipping holds" in ran.stderr
    )
    assert trail(rt, held) == []


@pytest.mark.parametrize("auto_ship", [True, False])
def test_the_sweep_restarts_shipping_no_job_carries(
    rt: Any, config: dict[str, Any], shop: dict[str, Any], auto_ship: bool
) -> None:
    from sync.shipping import resume_stalled

    rt.settings.shipping.auto_ship = auto_ship
    ids = shop["ids"]
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    with rt.session() as s:
        for key in ("a", "b", "held", "south"):
            row = s.get(OrderRow, ids[key])
            assert row is not None
            row.updated_at = long_ago
        packed = s.get(OrderRow, ids["b"])
        assert packed is not None
        packed.stage = "packed"
    assert resume_stalled(rt) == (3 if auto_ship else 1)
    assert rt.queue.is_live(safe_job_id("ship", ids["b"]))  # started before: always resumed
    assert rt.queue.is_live(safe_job_id("ship", ids["a"])) is auto_ship
    assert not rt.queue.is_live(safe_job_id("ship", ids["held"]))
    assert resume_stalled(rt) == 0  # the jobs are live now: nothing enqueued twice

"""Tracking in the JSON API and the public tracking page, on a real database (both backends).

API: exceptions listed, paged, acknowledged and resolved (tenant walls, 400/404/409 that
change nothing), a shipment's tracking, carrier performance computed from delivered
parcels; every answer checked against the OpenAPI document. Page: ``/t/<token>`` shows the
merchant, the items, the state, the estimate, the scans newest first and an open
exception's notice, and no personal data; a wrong, altered or foreign token, or a
deleted shipment, is the same plain 404.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from itsdangerous import URLSafeSerializer
from sqlalchemy import delete

from core.transit import RouteClass, RouteKey
from db.models import Order as OrderRow
from db.models import Shipment
from sync.tracking import performance
from sync.tracking.links import SALT, token_for
from tests.integration.test_shipping_api import add_order, canonical, merchant
from tests.integration.test_tracking_desk import (
    NOW,
    T0,
    add_exception,
    add_scan,
    add_shipment,
    build_desk_world,
    exception_row,
    timeline_of,
)
from web.tracking_page import Brand

MEMPHIS = {"city": "Memphis", "state": "TN", "country": "US", "postal_code": "38118"}
BROOKLYN = {"city": "Brooklyn", "state": "NY", "country": "US", "postal_code": "11201"}


@pytest.fixture
def desk_world(rt: Any) -> dict[str, Any]:
    return build_desk_world(rt)


@pytest.fixture
def schema(app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def checked(schema: Any, template: str, method: str, resp: Any, status: int) -> Any:
    """The answer, after checking its status and its body against the document."""
    assert resp.status_code == status, (template, resp.status_code, resp.get_json())
    schema[template][method].validate_response(resp)
    return resp.get_json()


# --- exceptions ------------------------------------------------------------------------------


def test_the_api_lists_the_callers_exceptions_a_page_at_a_time(
    client: Any, schema: Any, desk_world: dict
) -> None:
    ids, auth = desk_world["exceptions"], desk_world["headers"]
    listed = checked(schema, "/api/v1/exceptions", "GET", client.get("/api/v1/exceptions", headers=auth), 200)
    assert [e["id"] for e in listed["exceptions"]] == [ids["stalled"], ids["late"], ids["failure"]]
    assert listed["next_after"] is None

    first = client.get("/api/v1/exceptions?state=all&limit=2", headers=auth).get_json()
    assert [e["id"] for e in first["exceptions"]] == [ids["stalled"], ids["late"]]
    second = client.get(f"/api/v1/exceptions?state=all&limit=2&after={first['next_after']}", headers=auth)
    rest = checked(schema, "/api/v1/exceptions", "GET", second, 200)
    assert [e["id"] for e in rest["exceptions"]] == [ids["failure"], ids["resolved"]]
    beyond = client.get(f"/api/v1/exceptions?state=all&after={2**31}", headers=auth)
    assert checked(schema, "/api/v1/exceptions", "GET", beyond, 200) == {"exceptions": [], "next_after": None}
    kinds = client.get("/api/v1/exceptions?state=all&kind=late", headers=auth).get_json()
    assert [e["id"] for e in kinds["exceptions"]] == [ids["late"], ids["cleared"]]

    theirs = client.get("/api/v1/exceptions?state=all", headers=desk_world["south_headers"]).get_json()
    assert [e["id"] for e in theirs["exceptions"]] == [ids["south"]]
    one = client.get(f"/api/v1/exceptions/{ids['late']}", headers=auth)
    assert (
        checked(schema, "/api/v1/exceptions/{exception_id}", "GET", one, 200)["note"] == "asked the carrier"
    )
    assert client.get(f"/api/v1/exceptions/{ids['south']}", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("state=closed", "state must be one of"),
        ("kind=lost", "kind must be one of"),
        ("limit=ten", "limit must be a whole number"),
        ("after=-3", "after must be a whole number"),
        ("after=99999999999999999999", "after must be a whole number"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(
    client: Any, schema: Any, desk_world: dict, query: str, message: str
) -> None:
    resp = client.get(f"/api/v1/exceptions?{query}", headers=desk_world["headers"])
    assert message in checked(schema, "/api/v1/exceptions", "GET", resp, 400)["error"]


def test_acknowledge_then_resolve_through_the_api(
    rt: Any, client: Any, schema: Any, desk_world: dict
) -> None:
    exception_id, auth = desk_world["exceptions"]["stalled"], desk_world["headers"]
    template = "/api/v1/exceptions/{exception_id}/acknowledge"
    acked = client.post(f"/api/v1/exceptions/{exception_id}/acknowledge", json={}, headers=auth)
    body = checked(schema, template, "POST", acked, 200)
    assert (body["state"], body["actor"], body["acknowledged_at"]) == (
        "acknowledged",
        "user:north",
        NOW.isoformat(),
    )
    again = client.post(f"/api/v1/exceptions/{exception_id}/acknowledge", json={"note": "x"}, headers=auth)
    assert "already acknowledged by user:north" in checked(schema, template, "POST", again, 409)["error"]

    template = "/api/v1/exceptions/{exception_id}/resolve"
    url = f"/api/v1/exceptions/{exception_id}/resolve"
    for bad, message in [
        ({}, "note is required"),
        ({"note": 5}, "note must be text"),
        ({"note": "x" * 2001}, "note is longer than 2000 characters"),
        ({"note": "ok", "actor": "y" * 65}, "actor must be text of at most 64 characters"),
        (["note"], "expected a JSON object"),
    ]:
        refused = client.post(url, json=bad, headers=auth)
        assert message in checked(schema, template, "POST", refused, 400)["error"], bad
    assert exception_row(rt, exception_id)["state"] == "acknowledged"

    done = client.post(url, json={"note": "reshipped a new parcel", "actor": "kim"}, headers=auth)
    body = checked(schema, template, "POST", done, 200)
    assert (body["state"], body["actor"], body["note"]) == ("resolved", "user:kim", "reshipped a new parcel")
    twice = client.post(url, json={"note": "again"}, headers=auth)
    assert "already resolved by user:kim" in checked(schema, template, "POST", twice, 409)["error"]
    assert exception_row(rt, exception_id)["note"] == "reshipped a new parcel"
    entries = [
        (actor, action, note) for actor, action, note, _ in timeline_of(rt, desk_world["orders"]["first"])
    ]
    assert entries == [
        ("user:north", "tracking.exception_acknowledged", None),
        ("user:kim", "tracking.exception_resolved", "reshipped a new parcel"),
    ]


def test_another_accounts_exception_is_a_404_and_stays_open(rt: Any, client: Any, desk_world: dict) -> None:
    theirs = desk_world["exceptions"]["south"]
    for step, body in (("acknowledge", {}), ("resolve", {"note": "not mine"})):
        resp = client.post(f"/api/v1/exceptions/{theirs}/{step}", json=body, headers=desk_world["headers"])
        assert (resp.status_code, resp.get_json()) == (404, {"error": f"no exception {theirs}"})
    assert exception_row(rt, theirs)["state"] == "open"
    assert client.post(f"/api/v1/exceptions/{theirs}/acknowledge", json={}).status_code == 401


# --- a shipment's tracking ---------------------------------------------------------------------


def test_a_shipments_tracking_newest_scan_first(rt: Any, client: Any, schema: Any, desk_world: dict) -> None:
    a, auth = desk_world["shipments"]["a"], desk_world["headers"]
    add_scan(rt, a, T0 + timedelta(hours=1), "pre_transit", "Shipping label created")
    add_scan(rt, a, T0 + timedelta(hours=30), "in_transit", "Departed facility", MEMPHIS, "departed_facility")
    add_scan(
        rt, a, T0 + timedelta(hours=9), "in_transit", "Arrived at facility", MEMPHIS, "arrived_at_facility"
    )
    with rt.session() as s:
        row = s.get(Shipment, a)
        row.delivery_state, row.est_delivery_at, row.last_scan_at = (
            "in_transit",
            T0 + timedelta(days=3),
            T0 + timedelta(hours=30),
        )
    resp = client.get(f"/api/v1/shipments/{a}/tracking", headers=auth)
    body = checked(schema, "/api/v1/shipments/{shipment_id}/tracking", "GET", resp, 200)
    assert [scan["message"] for scan in body["scans"]] == [
        "Departed facility",
        "Arrived at facility",
        "Shipping label created",
    ]
    assert body["scans"][0] == {
        "happened_at": (T0 + timedelta(hours=30)).isoformat(),
        "status": "in_transit",
        "status_detail": "departed_facility",
        "message": "Departed facility",
        "place": "Memphis, TN, US",
    }
    assert (body["state"], body["state_words"]) == ("in_transit", "On its way")
    assert body["est_delivery_at"] == (T0 + timedelta(days=3)).isoformat()
    assert body["items"] == [{"title": "Mug-12Oz", "quantity": 2}]
    assert body["destination_city"] == "Brooklyn"
    assert [(e["kind"], e["state"]) for e in body["exceptions"]] == [
        ("stalled", "open")
    ]  # not resolved/cleared
    assert (
        client.get(f"/api/v1/shipments/{desk_world['shipments']['c']}/tracking", headers=auth).status_code
        == 404
    )


# --- carrier performance ---------------------------------------------------------------------


def delivered(rt: Any, account: int, store: int, order: int, package: int, **fields: Any) -> int:
    return add_shipment(rt, account, store, order, package=package, delivery_state="delivered", **fields)


@pytest.fixture
def deliveries(rt: Any) -> dict[str, Any]:
    """USPS Priority domestic: on time in 2 days, 12 h late at 3.5 days, 1 day without an
    estimate; UPS Ground local: on time at 1.2 days; a parcel still moving, one delivered
    without a shipping time, and another account's delivery do not count."""
    account, store, auth = merchant(rt, "north")
    other, other_store, _ = merchant(rt, "south")
    order = add_order(rt, account, store, "3001", canonical("3001", [("MUG-12OZ", 1)]), stage="delivered")
    day = timedelta(days=1)
    delivered(rt, account, store, order, 1, delivered_at=T0 + 2 * day, est_delivery_at=T0 + 3 * day)
    delivered(rt, account, store, order, 2, delivered_at=T0 + 3.5 * day, est_delivery_at=T0 + 3 * day)
    delivered(rt, account, store, order, 3, delivered_at=T0 + day)
    ups = {"carrier": "UPS", "service": "Ground", "route_class": "local"}
    delivered(rt, account, store, order, 4, delivered_at=T0 + 1.2 * day, est_delivery_at=T0 + 2 * day, **ups)
    add_shipment(rt, account, store, order, package=5, delivery_state="in_transit", est_delivery_at=T0 + day)
    delivered(rt, account, store, order, 6, delivered_at=T0 + day, shipped_at=None)
    theirs = add_order(
        rt, other, other_store, "4001", canonical("4001", [("MUG-12OZ", 1)]), stage="delivered"
    )
    delivered(rt, other, other_store, theirs, 1, delivered_at=T0 + 9 * day)
    return {"account": account, "auth": auth}


USPS = {
    "carrier": "USPS",
    "service": "Priority",
    "route_class": "domestic",
    "shipments": 3,
    "estimated": 2,
    "on_time": 1,
    "on_time_rate": "0.5000",
    "transit_days_p50": "2.0",
    "transit_days_p90": "3.5",
}
UPS = {
    "carrier": "UPS",
    "service": "Ground",
    "route_class": "local",
    "shipments": 1,
    "estimated": 1,
    "on_time": 1,
    "on_time_rate": "1.0000",
    "transit_days_p50": "1.2",
    "transit_days_p90": "1.2",
}


def test_carrier_performance_from_delivered_parcels(client: Any, schema: Any, deliveries: dict) -> None:
    auth = deliveries["auth"]
    resp = client.get("/api/v1/carriers/performance", headers=auth)
    assert checked(schema, "/api/v1/carriers/performance", "GET", resp, 200) == {"performance": [UPS, USPS]}
    one = client.get("/api/v1/carriers/performance?carrier=usps", headers=auth).get_json()
    assert one == {"performance": [USPS]}
    local = client.get("/api/v1/carriers/performance?route_class=local", headers=auth).get_json()
    assert local == {"performance": [UPS]}
    none = client.get("/api/v1/carriers/performance?route_class=international", headers=auth).get_json()
    assert none == {"performance": []}
    bad = client.get("/api/v1/carriers/performance?route_class=galactic", headers=auth)
    assert "route_class must be one of: local, domestic, international" in bad.get_json()["error"]
    assert checked(schema, "/api/v1/carriers/performance", "GET", bad, 400)


def test_stats_for_keys_the_rate_policy_by_route(rt: Any, deliveries: dict) -> None:
    stats = performance.stats_for(rt, deliveries["account"])
    key = RouteKey("usps", "Priority", RouteClass.DOMESTIC)
    assert set(stats) == {key, RouteKey("UPS", "Ground", RouteClass.LOCAL)}
    assert (stats[key].shipments, stats[key].on_time_rate) == (3, Decimal("0.5000"))
    lenient = performance.stats_for(rt, deliveries["account"], grace=timedelta(hours=12))
    assert lenient[key].on_time_rate == Decimal("1.0000")


def test_cli_performance_table_and_json(app: Any, deliveries: dict) -> None:
    runner = app.test_cli_runner()
    table = runner.invoke(args=["tracking", "performance", "--account", "north"])
    assert table.exit_code == 0, table.output
    lines = [line.split() for line in table.output.splitlines()]
    assert lines[1] == ["UPS", "Ground", "local", "1", "100%", "1.2", "1.2"]
    assert lines[2] == ["USPS", "Priority", "domestic", "3", "50%", "2.0", "3.5"]
    import json

    as_json = runner.invoke(
        args=["tracking", "performance", "--account", "north", "--json", "--carrier", "ups"]
    )
    assert json.loads(as_json.output) == [UPS]
    empty = runner.invoke(args=["tracking", "performance", "--account", "south", "--route-class", "local"])
    assert empty.output == "no delivered parcels to measure yet\n"


# --- the public page ---------------------------------------------------------------------------

PERSONAL = ("Ada", "ada@example.com", "12 Analytical St", "11201")


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["tracking"] = {
        "merchants": {
            "north": {"name": "North Wind Outfitters", "logo_url": "https://cdn.example.com/logo.png"}
        }
    }
    return config


def page_world(rt: Any) -> dict[str, Any]:
    account, store, _ = merchant(rt, "north")
    lines = [("MUG-12OZ", 2), ("<b>TEE</b>", 1)]
    order = add_order(rt, account, store, "5001", canonical("5001", lines), stage="fulfilled")
    moving = add_shipment(
        rt, account, store, order, delivery_state="in_transit", est_delivery_at=T0 + timedelta(days=4)
    )
    add_scan(rt, moving, T0 + timedelta(hours=1), "pre_transit", "Shipping label created")
    add_scan(rt, moving, T0 + timedelta(hours=20), "in_transit", "Arrived at USPS Regional Facility", MEMPHIS)
    return {"account": account, "store": store, "order": order, "moving": moving}


def test_the_page_shows_the_parcel_and_nothing_personal(rt: Any, client: Any) -> None:
    world = page_world(rt)
    resp = client.get(f"/t/{token_for(rt, world['moving'])}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "North Wind Outfitters" in html and 'src="https://cdn.example.com/logo.png"' in html
    assert "Order #5001" in html and "On its way" in html
    assert "Estimated delivery: Friday 6 March 2026" in html
    newest = html.index("Arrived at USPS Regional Facility")
    assert newest < html.index("Shipping label created")  # newest first
    assert "3 Mar 2026, 05:00 UTC" in html and "Memphis, TN, US" in html
    assert "2 &times;</span> Mug-12Oz" in html
    assert "1 &times;</span> &lt;B&gt;Tee&lt;/B&gt;" in html and "<B>" not in html  # titles are escaped
    assert "Going to Brooklyn" in html
    for word in PERSONAL:
        assert word not in html, word
    assert 'class="notice"' not in html
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Robots-Tag"].startswith("noindex")
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    csp = resp.headers["Content-Security-Policy"]
    assert "img-src 'self' https://cdn.example.com;" in csp and "style-src 'self';" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    css = client.get("/t/static/tracking.css")
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_the_page_shows_an_open_exception_and_a_delivery(rt: Any, client: Any) -> None:
    world = page_world(rt)
    add_exception(rt, world["moving"], "stalled", reason="no scan for 50 h (threshold 36 h)")
    html = client.get(f"/t/{token_for(rt, world['moving'])}").get_data(as_text=True)
    assert "This parcel has not moved for a while. We are looking into it." in html
    assert "threshold" not in html  # the merchant's reason stays off the customer's page

    done = add_shipment(
        rt,
        world["account"],
        world["store"],
        world["order"],
        package=2,
        delivery_state="delivered",
        delivered_at=T0 + timedelta(days=2, hours=5),
        est_delivery_at=T0 + timedelta(days=3),
    )
    add_scan(rt, done, T0 + timedelta(days=2, hours=5), "delivered", "Delivered, Front Door/Porch", BROOKLYN)
    add_exception(rt, done, "late", state="cleared")
    html = client.get(f"/t/{token_for(rt, done)}").get_data(as_text=True)
    assert "Delivered on 4 Mar 2026, 14:00 UTC" in html and "Estimated delivery" not in html
    assert "looking into it" not in html and "running late" not in html  # cleared: no notice
    assert "Brooklyn, NY, US" in html and "11201" not in html


def test_the_page_links_to_the_returns_portal(rt: Any, client: Any) -> None:
    world = page_world(rt)
    html = client.get(f"/t/{token_for(rt, world['moving'])}").get_data(as_text=True)
    assert f'href="/returns?token={token_for(rt, world["moving"])}">Start a return' in html


def test_a_wrong_altered_foreign_or_dead_token_is_the_same_plain_404(rt: Any, client: Any) -> None:
    world = page_world(rt)
    good = token_for(rt, world["moving"])
    payload, signature = good.rsplit(".", 1)
    foreign = URLSafeSerializer("another-secret-key", salt=SALT).dumps(world["moving"])
    other_id = URLSafeSerializer("another-secret-key", salt=SALT).dumps(1)
    altered = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    bodies = set()
    for token in ("nonsense", altered, foreign, other_id, "x" * 300):
        resp = client.get(f"/t/{token}")
        assert resp.status_code == 404, token
        assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Robots-Tag"].startswith(
            "noindex"
        )
        bodies.add(resp.get_data(as_text=True))
    with rt.session() as s:
        s.execute(delete(Shipment).where(Shipment.id == world["moving"]))
    gone = client.get(f"/t/{good}")
    assert gone.status_code == 404
    bodies.add(gone.get_data(as_text=True))
    [body] = bodies  # one page, whatever the reason
    assert "Page not found" in body and "#5001" not in body and "signature" not in body.lower()


@pytest.mark.parametrize(
    ("logo", "shown"),
    [
        ("https://cdn.example.com/logo.png", "https://cdn.example.com/logo.png"),
        ("https://cdn.example.com:8443/a.svg", "https://cdn.example.com:8443/a.svg"),
        ("http://cdn.example.com/logo.png", None),  # not https
        ("https://user@cdn.example.com/logo.png", None),  # credentials in the URL
        ("https://cdn.example.com/a.png; script-src *", None),  # would extend the policy
        ("javascript:alert(1)", None),
        ("/logo.png", None),
    ],
)
def test_only_a_plain_https_logo_is_shown(rt: Any, logo: str, shown: str | None) -> None:
    from settings import MerchantTracking
    from web.tracking_page import brand_for

    rt.settings.tracking.merchants["north"] = MerchantTracking(logo_url=logo)
    assert brand_for(rt, "north") == Brand("north", shown)
    assert brand_for(rt, "south") == Brand("south", None)  # no settings: the account's name


def test_the_parcel_lists_only_its_own_units_and_a_redacted_order_no_city(
    rt: Any, client: Any, schema: Any
) -> None:
    account, store, auth = merchant(rt, "north")
    order = add_order(rt, account, store, "6001", canonical("6001", [("MUG-12OZ", 3), ("TEE-BLK-M", 1)]))
    units = [{"sku": "MUG-12OZ", "line_id": "0", "grams": 200}] * 2
    first = add_shipment(rt, account, store, order, parcel={"box": "S", "items": units})
    second = add_shipment(
        rt,
        account,
        store,
        order,
        package=2,
        parcel={
            "box": "S",
            "items": [
                {"sku": "MUG-12OZ", "line_id": "0", "grams": 200},
                {"sku": "TEE-BLK-M", "line_id": "1", "grams": 200},
            ],
        },
    )
    body = client.get(f"/api/v1/shipments/{first}/tracking", headers=auth).get_json()
    assert body["items"] == [{"title": "Mug-12Oz", "quantity": 2}]
    assert (body["state"], body["state_words"], body["scans"]) == (None, "Preparing your parcel", [])
    with rt.session() as s:
        row = s.get(OrderRow, order)
        row.redacted_at = NOW
    resp = client.get(f"/api/v1/shipments/{second}/tracking", headers=auth)
    body = checked(schema, "/api/v1/shipments/{shipment_id}/tracking", "GET", resp, 200)
    assert body["items"] == [{"title": "Mug-12Oz", "quantity": 1}, {"title": "Tee-Blk-M", "quantity": 1}]
    assert body["destination_city"] is None

"""Products, variations, listing parameters, batches and their limits."""

from __future__ import annotations

import time

import requests

from sandbox.harness import FakeClock, serve
from sandbox.woocommerce import WooCommerceSimulator

from .conftest import Store

TOO_LARGE = {
    "code": "woocommerce_rest_request_entity_too_large",
    "message": "Unable to accept more than 100 items for this request.",
    "data": {"status": 413},
}


def test_create_read_update_simple_product(store: Store) -> None:
    api = store.api()
    created = api.post(
        "products",
        {"name": "Mug", "sku": "MUG-1", "regular_price": "7.5", "manage_stock": True, "stock_quantity": 3},
    )
    assert created.status_code == 201
    product = created.json()
    assert (product["type"], product["price"], product["regular_price"], product["sale_price"]) == (
        "simple",
        "7.50",
        "7.50",
        "",
    )
    assert (product["stock_quantity"], product["stock_status"]) == (3, "instock")
    updated = api.put(f"products/{product['id']}", {"stock_quantity": 0}).json()
    assert (updated["stock_quantity"], updated["stock_status"]) == (0, "outofstock")
    assert api.get(f"products/{product['id']}").json()["stock_status"] == "outofstock"


def test_unknown_product_and_duplicate_sku(store: Store) -> None:
    api = store.api()
    missing = api.get("products/999999")
    assert (missing.status_code, missing.json()) == (
        404,
        {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.", "data": {"status": 404}},
    )
    store.sim.add_product("A", sku="DUP")
    dup = api.post("products", {"name": "B", "sku": "DUP"})
    assert dup.status_code == 400
    assert (dup.json()["code"], dup.json()["message"]) == (
        "product_invalid_sku",
        "Invalid or duplicated SKU.",
    )


def test_variable_product_stock_and_price_come_from_variations(store: Store) -> None:
    api = store.api()
    parent = api.post("products", {"name": "Tee", "type": "variable"}).json()
    small = api.post(
        f"products/{parent['id']}/variations",
        {"sku": "TEE-S", "regular_price": "20", "manage_stock": True, "stock_quantity": 0},
    ).json()
    api.post(
        f"products/{parent['id']}/variations",
        {"sku": "TEE-M", "regular_price": "18", "manage_stock": True, "stock_quantity": 4},
    )
    got = api.get(f"products/{parent['id']}").json()
    assert (got["type"], got["price"], got["stock_status"]) == ("variable", "18.00", "instock")
    assert len(got["variations"]) == 2
    assert small["stock_status"] == "outofstock"
    variation = api.get(f"products/{parent['id']}/variations/{small['id']}").json()
    assert (variation["sku"], variation["stock_quantity"]) == ("TEE-S", 0)
    wrong_parent = api.get(f"products/{small['id']}/variations/{small['id']}")
    assert wrong_parent.json()["code"] == "woocommerce_rest_product_variation_invalid_id"


def test_pagination_headers_and_per_page_limit(store: Store) -> None:
    for n in range(25):
        store.sim.add_product(f"P{n}", sku=f"SKU-{n:02d}")
    api = store.api()
    last = api.get("products", params={"per_page": 10, "page": 3, "orderby": "id", "order": "asc"})
    assert (last.headers["X-WP-Total"], last.headers["X-WP-TotalPages"]) == ("25", "3")
    assert [p["sku"] for p in last.json()] == [f"SKU-{n}" for n in range(20, 25)]
    assert 'rel="prev"' in last.headers["Link"] and 'rel="next"' not in last.headers["Link"]
    too_many = api.get("products", params={"per_page": 101})
    message = "per_page must be between 1 (inclusive) and 100 (inclusive)"
    assert too_many.status_code == 400
    assert too_many.json() == {
        "code": "rest_invalid_param",
        "message": "Invalid parameter(s): per_page",
        "data": {
            "status": 400,
            "params": {"per_page": message},
            "details": {"per_page": {"code": "rest_out_of_bounds", "message": message, "data": None}},
        },
    }


def test_sku_filter(store: Store) -> None:
    store.sim.add_product("A", sku="A-1")
    store.sim.add_product("B", sku="B-1")
    store.sim.add_product("C", sku="C-1")
    got = store.api().get("products", params={"sku": "A-1,C-1", "orderby": "id", "order": "asc"}).json()
    assert [p["sku"] for p in got] == ["A-1", "C-1"]


def test_modified_after_is_exclusive_and_in_site_time() -> None:
    clock = FakeClock(start=time.time())
    sim = WooCommerceSimulator(clock=clock, utc_offset_hours=-3)
    with serve(sim) as server:
        sim.bind(server.url)
        ck, cs = sim.create_key()
        old = sim.add_product("Old", sku="OLD")
        clock.advance(60)
        new = sim.add_product("New", sku="NEW")
        since = sim.product(old)["date_modified"]  # local time, as WooCommerce reads a zone-less date
        url = f"{server.url}/wp-json/wc/v3/products"
        resp = requests.get(
            url,
            params={"modified_after": since},
            auth=(ck, cs),
            headers={"X-Forwarded-Proto": "https"},
            timeout=5,
        )
        gmt = requests.get(
            url,
            params={"modified_after": sim.product(old)["date_modified_gmt"], "dates_are_gmt": "true"},
            auth=(ck, cs),
            headers={"X-Forwarded-Proto": "https"},
            timeout=5,
        )
        bad = requests.get(
            url,
            params={"modified_after": "yesterday"},
            auth=(ck, cs),
            headers={"X-Forwarded-Proto": "https"},
            timeout=5,
        )
    assert [p["id"] for p in resp.json()] == [new]
    assert [p["id"] for p in gmt.json()] == [new]
    assert sim.product(old)["date_modified"] != sim.product(old)["date_modified_gmt"]
    assert (bad.status_code, bad.json()["data"]["details"]["modified_after"]["code"]) == (
        400,
        "rest_invalid_date",
    )


def test_batch_of_100_is_accepted_and_101_refused(store: Store) -> None:
    api = store.api()
    keep = store.sim.add_product("Keep", sku="KEEP")
    gone = store.sim.add_product("Gone", sku="GONE")
    creates = [{"name": f"N{n}", "sku": f"N-{n}"} for n in range(98)]
    ok = api.post(
        "products/batch",
        {"create": creates, "update": [{"id": keep, "regular_price": "5"}], "delete": [gone]},
    )
    assert ok.status_code == 200
    body = ok.json()
    assert (len(body["create"]), body["update"][0]["price"], body["delete"][0]["id"]) == (98, "5.00", gone)
    assert api.get(f"products/{gone}").status_code == 404
    refused = api.post(
        "products/batch", {"create": creates, "update": [{"id": keep}], "delete": [keep, keep]}
    )
    assert (refused.status_code, refused.json()) == (413, TOO_LARGE)


def test_batch_reports_item_errors_in_place(store: Store) -> None:
    store.sim.add_product("A", sku="TAKEN")
    body = (
        store.api()
        .post(
            "products/batch",
            {
                "create": [{"name": "X", "sku": "TAKEN"}, {"name": "Y"}],
                "update": [{"id": 424242, "name": "Z"}],
            },
        )
        .json()
    )
    assert body["create"][0] == {
        "id": 0,
        "error": {
            "code": "product_invalid_sku",
            "message": "Invalid or duplicated SKU.",
            "data": {
                "status": 400,
                "resource_id": body["create"][0]["error"]["data"]["resource_id"],
                "unique_sku": "TAKEN",
            },
        },
    }
    assert body["create"][1]["name"] == "Y"
    assert body["update"][0]["error"]["code"] == "woocommerce_rest_product_invalid_id"


def test_variation_batch_limit(store: Store) -> None:
    parent = store.sim.add_product("Tee", type="variable")
    creates = [{"sku": f"V-{n}", "regular_price": "1"} for n in range(101)]
    resp = store.api().post(f"products/{parent}/variations/batch", {"create": creates})
    assert (resp.status_code, resp.json()) == (413, TOO_LARGE)


def test_product_trash_then_force_delete(store: Store) -> None:
    pid = store.sim.add_product("Old", sku="OLD")
    api = store.api()
    trashed = api.delete(f"products/{pid}")
    assert (trashed.status_code, trashed.json()["status"]) == (200, "trash")
    assert api.get("products").json() == []
    again = api.delete(f"products/{pid}")
    assert (again.status_code, again.json()["code"]) == (410, "woocommerce_rest_already_trashed")
    assert api.delete(f"products/{pid}", params={"force": "true"}).status_code == 200
    assert api.get(f"products/{pid}").status_code == 404


def test_weight_and_dimensions_are_strings_and_a_variation_shows_its_parents_when_it_has_none(
    store: Store,
) -> None:
    api = store.api()
    parent = api.post(
        "products",
        {"name": "Pan", "type": "variable", "weight": 4, "dimensions": {"length": "12", "width": "9"}},
    ).json()
    assert (parent["weight"], parent["dimensions"]) == ("4", {"length": "12", "width": "9", "height": ""})
    own = api.post(f"products/{parent['id']}/variations", {"sku": "PAN-12", "weight": "5.5"}).json()
    bare = api.post(f"products/{parent['id']}/variations", {"sku": "PAN-10"}).json()
    assert (own["weight"], own["dimensions"]) == ("5.5", {"length": "12", "width": "9", "height": ""})
    assert (bare["weight"], bare["dimensions"]) == ("4", {"length": "12", "width": "9", "height": ""})
    api.put(f"products/{parent['id']}", {"dimensions": {"height": "3"}})
    listed = api.get(f"products/{parent['id']}/variations").json()
    assert {v["sku"]: v["dimensions"]["height"] for v in listed} == {"PAN-12": "3", "PAN-10": "3"}


def test_the_measuring_units_are_settings_as_the_real_store_serves_them(store: Store) -> None:
    api = store.api()
    weight = api.get("settings/products/woocommerce_weight_unit")
    assert weight.status_code == 200
    base = f"{store.url}/wp-json/wc/v3/settings/products"
    assert weight.json() == {
        "id": "woocommerce_weight_unit",
        "label": "Weight unit",
        "description": "This controls what unit you will define weights in.",
        "type": "select",
        "default": "kg",
        "options": {"kg": "kg", "g": "g", "lbs": "lbs", "oz": "oz"},
        "tip": "This controls what unit you will define weights in.",
        "value": "kg",
        "_links": {
            "self": [{"href": f"{base}/woocommerce_weight_unit"}],
            "collection": [{"href": base}],
        },
    }
    store.sim.set_units(weight="lbs", dimensions="in")
    dims = api.get("settings/products/woocommerce_dimension_unit").json()
    assert (dims["value"], dims["default"], list(dims["options"])) == (
        "in",
        "cm",
        ["m", "cm", "mm", "in", "yd"],
    )
    assert [s["value"] for s in api.get("settings/products").json()] == ["lbs", "in"]
    assert api.put("settings/products/woocommerce_weight_unit", {"value": "g"}).json()["value"] == "g"
    refused = api.put("settings/products/woocommerce_weight_unit", {"value": "stone"})
    assert (refused.status_code, refused.json()["code"]) == (400, "rest_setting_value_invalid")
    missing = api.get("settings/products/woocommerce_nothing")
    assert (missing.status_code, missing.json()["code"]) == (404, "rest_setting_setting_invalid")
    assert api.get("settings/nowhere").json()["code"] == "rest_setting_setting_group_invalid"

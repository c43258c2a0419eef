"""The GraphQL endpoint: plain HTTP calls, auth, shop routing, validation errors, ids."""

from __future__ import annotations

import json

import requests

from sandbox.harness import RunningServer
from sandbox.shopify import ShopifySimulator
from sandbox.shopify.store import Order
from tests.sandbox.shopify.support import ENDPOINT, SHOP, TOKEN, GraphQL, document


def test_plain_requests_call_reads_shop_and_locations(served: RunningServer) -> None:
    resp = requests.post(
        served.url + ENDPOINT,
        json={"query": document("shop_and_locations"), "variables": {"first": 5}},
        headers={"X-Shopify-Access-Token": TOKEN},
        timeout=5,
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["data"]["shop"]["myshopifyDomain"] == SHOP
    assert [loc["name"] for loc in body["data"]["locations"]["nodes"]] == ["Main Warehouse"]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 1 + 2 + 5 * 2
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000.0


def test_wrong_token_is_401_with_shopifys_body(gql: GraphQL) -> None:
    status, body = gql("{ shop { name } }", token="shpat_wrong")
    assert status == 401
    assert body == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def test_unknown_version_is_404(sim: ShopifySimulator) -> None:
    from werkzeug.test import Client

    resp = Client(sim).post(
        "/admin/api/2019-01/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": TOKEN},
    )
    assert resp.status_code == 404
    assert json.loads(resp.get_data()) == {"errors": "Not Found"}


def test_shop_is_found_by_host_then_by_token(sim: ShopifySimulator, served: RunningServer) -> None:
    sim.add_shop("second.myshopify.com", token="shpat_second")
    by_token = requests.post(
        served.url + ENDPOINT,
        json={"query": "{ shop { myshopifyDomain } }"},
        headers={"X-Shopify-Access-Token": "shpat_second"},
        timeout=5,
    )
    assert by_token.json()["data"]["shop"]["myshopifyDomain"] == "second.myshopify.com"
    wrong_shop = requests.post(
        served.url + ENDPOINT,
        json={"query": "{ shop { myshopifyDomain } }"},
        headers={"X-Shopify-Access-Token": "shpat_second", "Host": SHOP},
        timeout=5,
    )
    assert wrong_shop.status_code == 401


def test_unknown_field_is_rejected_in_shopifys_shape(gql: GraphQL) -> None:
    status, body = gql("query Probe {\n  shop {\n    name\n    bogus\n  }\n}")
    assert status == 200
    assert "data" not in body
    assert body["errors"] == [
        {
            "message": "Field 'bogus' doesn't exist on type 'Shop'",
            "locations": [{"line": 4, "column": 5}],
            "path": ["query Probe", "shop", "bogus"],
            "extensions": {"code": "undefinedField", "typeName": "Shop", "fieldName": "bogus"},
        }
    ]


def test_missing_required_argument_is_rejected_in_shopifys_shape(gql: GraphQL) -> None:
    status, body = gql("{ order { id } }")
    assert status == 200
    assert body["errors"] == [
        {
            "message": "Field 'order' is missing required arguments: id",
            "locations": [{"line": 1, "column": 3}],
            "path": ["query", "order"],
            "extensions": {
                "code": "missingRequiredArguments",
                "className": "Field",
                "name": "order",
                "arguments": "id",
            },
        }
    ]


def test_ids_are_64_bit_above_2_pow_53(gql: GraphQL, order: Order) -> None:
    _, body = gql(document("order"), {"id": f"gid://shopify/Order/{order.id}"})
    found = body["data"]["order"]
    assert found["id"] == f"gid://shopify/Order/{order.id}"
    assert int(found["legacyResourceId"]) == order.id > 2**53
    assert [li["quantity"] for li in found["lineItems"]["nodes"]] == [2, 1]
    assert found["totalPriceSet"]["shopMoney"] == {"amount": "67.50", "currencyCode": "USD"}


def test_orders_search_by_updated_at_pages_with_cursors(
    sim: ShopifySimulator, gql: GraphQL, clock: object
) -> None:
    first = sim.place_order(SHOP, [("TOTE-RED", 1)])
    clock.advance(60)  # type: ignore[attr-defined]
    later = [sim.place_order(SHOP, [("TOTE-RED", 1)]) for _ in range(3)]
    query = "updated_at:>'2027-01-15T08:00:30Z'"
    seen: list[str] = []
    after = None
    for _ in range(3):
        _, body = gql(document("orders_updated_since"), {"query": query, "first": 2, "after": after})
        page = body["data"]["orders"]
        seen += [node["id"] for node in page["nodes"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert seen == [f"gid://shopify/Order/{o.id}" for o in later]
    assert f"gid://shopify/Order/{first.id}" not in seen


def test_connection_without_first_or_last_is_an_error(gql: GraphQL) -> None:
    _, body = gql("{ orders { nodes { id } } }")
    assert body["errors"][0]["message"] == "you must provide one of first or last"
    assert body["errors"][0]["path"] == ["orders"]


def test_calls_are_counted_per_root_field(sim: ShopifySimulator, gql: GraphQL) -> None:
    gql("{ shop { name } }")
    gql("{ shop { name } locations(first: 1) { nodes { id } } }")
    assert sim.calls["shop"] == 2
    assert sim.calls["locations"] == 1


def test_a_variants_weight_is_its_inventory_items_measurement_and_its_lines_grams(
    sim: ShopifySimulator, gql: GraphQL
) -> None:
    sim.add_product(SHOP, "Kettlebell", [{"sku": "KB-5LB", "price": "30.00", "weight": ("2.5", "POUNDS")}])
    status, body = gql(document("catalog_variants"), {"first": 10, "levelsFirst": 1})
    assert status == 200 and "errors" not in body, body
    weights = {
        n["sku"]: n["inventoryItem"]["measurement"]["weight"]
        for n in body["data"]["productVariants"]["nodes"]
    }
    assert weights["KB-5LB"] == {"value": 2.5, "unit": "POUNDS"}
    assert weights["TOTE-RED"] == {"value": 0.0, "unit": "GRAMS"}  # never weighed
    placed = sim.place_order(SHOP, [("KB-5LB", 2)])
    (line,) = placed.line_items
    assert line.grams == 1134  # 1133.980925 g, as the order line's whole grams
    _, found = gql(document("order"), {"id": f"gid://shopify/Order/{placed.id}"})
    (node,) = found["data"]["order"]["lineItems"]["nodes"]
    assert node["weight"] == {"unit": "GRAMS", "value": 1134.0}

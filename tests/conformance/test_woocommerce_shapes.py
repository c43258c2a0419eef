"""The WooCommerce simulator's documents against the REST API v3 docs examples in ``reference/woocommerce``.

For every field an example shows, the simulator's document has the key and the same JSON
type (int and float are one type, "number": PHP prints whole floats either way). Empty
arrays on either side are not compared item by item. A null in the example means the
field may be null; a null from the simulator is accepted only where listed below.

Deliberate exceptions, where the docs examples (written for WooCommerce 3.0) differ
from what current stores return:
- variation ``status`` is a post status string (``"publish"``) in current stores; the
  example shows a boolean from the 3.0 ``visible`` era;
- variation ``image`` is null for a variation without its own image (the simulator has
  no media library);
- an order's ``refunds[]`` entries show ``refund`` in the examples, a docs typo: the REST
  controller writes ``reason`` (``WC_REST_Orders_V2_Controller::get_formatted_item_data``,
  ``'reason' => $refund->get_reason()``); the code wins.

The examples predate fields every current store sends, so those are listed here as well
(``CURRENT_FIELDS``, as seen on a WooCommerce 10.0 store) and must be present with their
types; these checks need no reference data and always run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from sandbox.woocommerce import WooCommerceSimulator

EXCEPTIONS = {("variation", "status"), ("variation", "image")}
# (resource, path with list indices as [], the examples' key) -> the key the store really sends.
DOCS_TYPOS = {("order", "$.refunds[]", "refund"): "reason"}
# path -> the JSON types allowed; "[]" walks every item of a list ("integer" is a whole number).
CURRENT_FIELDS: dict[str, dict[str, set[str]]] = {
    "order": {
        "is_editable": {"boolean"},
        "needs_payment": {"boolean"},
        "needs_processing": {"boolean"},
        "payment_url": {"string"},
        "shipping.phone": {"string"},
        "line_items[].parent_name": {"string", "null"},  # null for a simple product
        "line_items[].image": {"object"},
        "line_items[].image.id": {"integer"},
        "line_items[].image.src": {"string"},
        "line_items[].meta_data": {"array"},
        "line_items[].meta_data[].display_key": {"string"},
        "line_items[].meta_data[].display_value": {"string"},
        "line_items[].price": {"integer", "float"},
        "shipping_lines[].instance_id": {"string"},
        "shipping_lines[].tax_status": {"string"},
    },
    "product": {
        "brands": {"array"},
        "categories": {"array"},
        "global_unique_id": {"string"},
        "has_options": {"boolean"},
        "low_stock_amount": {"integer", "null"},
        "post_password": {"string"},
        "related_ids": {"array"},
        "related_ids[]": {"integer"},
    },
    "variation": {"global_unique_id": {"string"}, "low_stock_amount": {"integer", "null"}},
}
BASE = "/wp-json/wc/v3/"
AUTH = {"X-Forwarded-Proto": "https"}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {dict: "object", list: "array", str: "string"}[type(value)]


def mismatches(reference: Any, actual: Any, path: str, resource: str) -> Iterator[str]:
    """Where ``actual`` lacks a key of ``reference`` or holds another JSON type."""
    if isinstance(reference, dict) and isinstance(actual, dict):
        for key, ref_value in reference.items():
            real = DOCS_TYPOS.get((resource, re.sub(r"\[\d+\]", "[]", path), key), key)
            if real not in actual:
                yield f"{path}.{key}: missing"
                continue
            if real != key:
                yield from mismatches(ref_value, actual[real], f"{path}.{real}", resource)
                continue
            if path == "$" and (resource, key) in EXCEPTIONS:
                continue
            yield from mismatches(ref_value, actual[key], f"{path}.{key}", resource)
        return
    if isinstance(reference, list) and isinstance(actual, list):
        if reference and actual:
            for n, item in enumerate(actual):
                yield from mismatches(reference[0], item, f"{path}[{n}]", resource)
        return
    if reference is not None and json_type(reference) != json_type(actual):
        yield f"{path}: {json_type(actual)} where the example has {json_type(reference)}"


def exact_type(value: Any) -> str:
    if isinstance(value, float):
        return "float"
    return "integer" if isinstance(value, int) and not isinstance(value, bool) else json_type(value)


def lookup(document: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every (concrete path, value) that ``path`` names; a missing key yields ``(path, KeyError)``."""
    found: list[tuple[str, Any]] = [("$", document)]
    for part in path.split("."):
        name, each = part.removesuffix("[]"), part.endswith("[]")
        step: list[tuple[str, Any]] = []
        for where, value in found:
            if value is KeyError:  # already missing higher up: reported there, once
                step.append((where, value))
                continue
            if name and (not isinstance(value, dict) or name not in value):
                step.append((f"{where}.{name}", KeyError))
                continue
            value = value[name] if name else value
            where = f"{where}.{name}" if name else where
            if each and isinstance(value, list):
                step.extend((f"{where}[{n}]", item) for n, item in enumerate(value))
            else:
                step.append((where, value))
        found = step
    return iter(found)


def current_field_problems(resource: str, document: Any) -> list[str]:
    problems = []
    for path, types in CURRENT_FIELDS[resource].items():
        for where, value in lookup(document, path):
            if value is KeyError:
                problems.append(f"{where}: missing")
            elif exact_type(value) not in types:
                problems.append(f"{where}: {exact_type(value)}, not {' or '.join(sorted(types))}")
    return list(dict.fromkeys(problems))  # a missing object is reported once, not once per field


def examples(reference_dir: Path, prefix: str) -> list[dict[str, Any]]:
    """Every example object in ``<prefix>__NN.json`` (single, list, or batch {create, update, delete})."""
    found: list[dict[str, Any]] = []
    for file in sorted((reference_dir / "woocommerce").glob(f"{prefix}__*.json")):
        data = json.loads(file.read_text())
        if isinstance(data, dict) and set(data) <= {"create", "update", "delete"}:
            data = [item for part in data.values() for item in part]
        found.extend(data if isinstance(data, list) else [data])
    assert found, f"no {prefix} examples in {reference_dir}"
    return found


class Fixture:
    """A store with one of everything, reached through the REST app in-process."""

    def __init__(self) -> None:
        self.sim = WooCommerceSimulator()
        self.sim.bind("https://shop.example")
        ck, cs = self.sim.create_key()
        self.client = Client(self.sim)
        self.auth = {"consumer_key": ck, "consumer_secret": cs}
        parent = self.sim.add_product(
            "Tee",
            type="variable",
            sku="TEE",
            attributes=[
                {
                    "id": 1,
                    "name": "Size",
                    "position": 0,
                    "visible": True,
                    "variation": True,
                    "options": ["S", "M"],
                }
            ],
        )
        self.variation = self.sim.add_variation(
            parent, "TEE-M", "20.00", stock=5, attributes=[{"id": 1, "name": "Size", "option": "M"}]
        )
        self.parent = parent
        self.product = self.sim.add_product(
            "Mug",
            sku="MUG",
            price="4.00",
            stock=9,
            categories=[{"id": 9, "name": "Kitchen", "slug": "kitchen"}],
        )
        self.sim.hub.create(
            {"topic": "order.created", "delivery_url": "http://127.0.0.1:9/hook", "secret": "s"}
        )
        order = self.call(
            "POST",
            "orders",
            {
                "customer_id": 26,
                "payment_method": "stripe",
                "payment_method_title": "Card",
                "set_paid": True,
                "billing": {"first_name": "João", "email": "j@example.com"},
                "shipping": {"first_name": "João"},
                "line_items": [
                    {"sku": "MUG", "quantity": 2},
                    {"variation_id": self.variation, "quantity": 1},
                ],
                "shipping_lines": [{"method_id": "flat_rate", "method_title": "Flat rate", "total": "5.00"}],
                "meta_data": [{"key": "_tracking", "value": "9400"}],
            },
        )
        self.order = order["id"]
        self.call("PUT", f"orders/{self.order}", {"status": "completed"})
        item = order["line_items"][0]["id"]
        self.refund = self.call(
            "POST",
            f"orders/{self.order}/refunds",
            {"amount": "4.00", "line_items": [{"id": item, "quantity": 1}]},
        )["id"]
        self.note = self.call(
            "POST", f"orders/{self.order}/notes", {"note": "Shipped", "customer_note": True}
        )["id"]

    def call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.client.open(BASE + path, method=method, json=body, query_string=self.auth, headers=AUTH)
        assert resp.status_code in (200, 201), resp.get_data(as_text=True)
        return resp.get_json()


@pytest.fixture(scope="module")
def store() -> Fixture:
    return Fixture()


def check(reference_dir: Path, prefix: str, resource: str, document: Any) -> None:
    problems = [p for ex in examples(reference_dir, prefix) for p in mismatches(ex, document, "$", resource)]
    assert problems == []


def test_order_matches_examples(reference_dir: Path, store: Fixture) -> None:
    check(reference_dir, "orders", "order", store.call("GET", f"orders/{store.order}"))


def test_order_list_items_match_examples(reference_dir: Path, store: Fixture) -> None:
    for order in store.call("GET", "orders"):
        check(reference_dir, "orders", "order", order)


def test_product_matches_examples(reference_dir: Path, store: Fixture) -> None:
    check(reference_dir, "products", "product", store.call("GET", f"products/{store.product}"))
    check(reference_dir, "products", "product", store.call("GET", f"products/{store.parent}"))


def test_variation_matches_examples(reference_dir: Path, store: Fixture) -> None:
    path = f"products/{store.parent}/variations/{store.variation}"
    check(reference_dir, "product-variations", "variation", store.call("GET", path))


def test_refund_matches_examples(reference_dir: Path, store: Fixture) -> None:
    path = f"orders/{store.order}/refunds/{store.refund}"
    check(reference_dir, "order-refunds", "refund", store.call("GET", path))


def test_note_matches_examples(reference_dir: Path, store: Fixture) -> None:
    check(reference_dir, "order-notes", "note", store.call("GET", f"orders/{store.order}/notes/{store.note}"))


def test_webhook_resource_matches_examples(reference_dir: Path, store: Fixture) -> None:
    check(reference_dir, "webhooks", "webhook", store.call("GET", "webhooks/1"))


def test_webhook_order_body_matches_order_examples(reference_dir: Path, store: Fixture) -> None:
    deliveries = [d for d in store.sim.deliver_webhooks() if d.topic == "order.created"]
    assert len(deliveries) == 1
    check(reference_dir, "orders", "order", json.loads(deliveries[0].body))


def test_checker_reports_missing_keys_and_wrong_types() -> None:
    reference = {"a": "1.00", "b": [{"c": 1}], "d": None}
    assert list(mismatches(reference, {"a": 1, "b": [{"c": "x"}], "d": 3}, "$", "order")) == [
        "$.a: number where the example has string",
        "$.b[0].c: string where the example has number",
    ]
    assert list(mismatches(reference, {"b": []}, "$", "order")) == ["$.a: missing", "$.d: missing"]


def test_order_carries_the_fields_of_a_current_store(store: Fixture) -> None:
    order = store.call("GET", f"orders/{store.order}")
    assert current_field_problems("order", order) == []
    # Paths with "[]" must have reached items: the fixture's lines are not empty.
    assert order["line_items"] and order["shipping_lines"]
    # The variation's attribute, then the units the paid order took (wc_reduce_stock_levels).
    assert [m["key"] for m in order["line_items"][1]["meta_data"]] == ["pa_size", "_reduced_stock"]


def test_webhook_order_body_carries_the_fields_of_a_current_store(store: Fixture) -> None:
    deliveries = [d for d in store.sim.webhooks.log if d.topic == "order.created"]
    assert deliveries
    assert current_field_problems("order", json.loads(deliveries[0].body)) == []


def test_products_carry_the_fields_of_a_current_store(store: Fixture) -> None:
    for product in (store.product, store.parent):
        assert current_field_problems("product", store.call("GET", f"products/{product}")) == []
    variation = store.call("GET", f"products/{store.parent}/variations/{store.variation}")
    assert current_field_problems("variation", variation) == []


def test_current_field_check_reports_missing_fields_and_wrong_types() -> None:
    order = {
        "is_editable": 1,
        "needs_payment": False,
        "needs_processing": True,
        "shipping": {},
        "line_items": [{"parent_name": None, "image": {"id": "", "src": ""}, "meta_data": [], "price": "45"}],
        "shipping_lines": [{"instance_id": 1, "tax_status": "taxable"}],
    }
    order["line_items"].append({"parent_name": "Tee", "meta_data": [], "price": 45})
    assert current_field_problems("order", order) == [
        "$.is_editable: integer, not boolean",
        "$.payment_url: missing",
        "$.shipping.phone: missing",
        "$.line_items[1].image: missing",
        "$.line_items[0].image.id: string, not integer",
        "$.line_items[0].price: string, not float or integer",
        "$.shipping_lines[0].instance_id: integer, not string",
    ]

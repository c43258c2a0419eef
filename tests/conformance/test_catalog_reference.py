"""The catalog mappers against the platforms' own examples in ``reference/`` (skip when it is absent).

WooCommerce: every product and variation document of the REST API v3 docs maps to
entries with exact int ids and UTC times. Shopify: the ``products/update`` sample's
``gid://`` ids parse to the exact 64-bit ids (its plain ``id`` numbers were rounded by
JavaScript, the reason ids are read from the strings).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.readers.ids import id_number as exact_id
from connectors.shopify.catalog import entries_from_page
from connectors.woocommerce.catalog import entries_from_products, entries_from_variations, is_variable


def documents(reference_dir: Path, prefix: str) -> Iterator[dict[str, Any]]:
    """Every resource document in the docs examples named ``prefix__NN.json`` (batch answers unrolled)."""
    for path in sorted((reference_dir / "woocommerce").glob(f"{prefix}__*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, list):
            yield from data
        elif "id" in data:
            yield data
        else:  # a batch answer: {"create": [...], "update": [...], "delete": [...]}
            for items in data.values():
                yield from (item for item in items if isinstance(item, dict) and "id" in item)


def test_woocommerce_products_map(reference_dir: Path) -> None:
    products = list(documents(reference_dir, "products"))
    assert products, "no product examples found"
    entries = entries_from_products(products)
    simple = [p for p in products if p["type"] == "simple"]
    assert len(entries) == len(simple)  # the examples' variable product keeps no stock of its own
    assert any(is_variable(p) for p in products)
    for entry, doc in zip(entries, simple, strict=True):
        assert entry.product_id == doc["id"] and entry.variant_id is None
        assert entry.title == doc["name"]
        assert entry.tracked is (doc["manage_stock"] is True)
        assert entry.level_at is not None and entry.level_at.utcoffset() is not None
        assert entry.level_at.replace(tzinfo=None).isoformat() == doc["date_modified_gmt"]


def test_woocommerce_variations_map(reference_dir: Path) -> None:
    parents = [p for p in documents(reference_dir, "products") if is_variable(p)]
    variations = list(documents(reference_dir, "product-variations"))
    assert parents and variations
    entries = entries_from_variations(parents[0], variations)
    for entry, doc in zip(entries, variations, strict=True):
        assert (entry.product_id, entry.variant_id, entry.entry_id) == (
            parents[0]["id"],
            doc["id"],
            doc["id"],
        )
        options = [a["option"] for a in doc["attributes"]]
        assert entry.title == f"{parents[0]['name']} - {', '.join(options)}"
        assert entry.clean_sku == doc["sku"].strip()
        assert entry.level_at is not None and entry.level_at.utcoffset() is not None


def test_shopify_gid_ids_are_exact(reference_dir: Path) -> None:
    sample = json.loads(
        (reference_dir / "shopify/webhooks/products__update.json").read_text(encoding="utf-8")
    )
    product = sample["response"]
    gid = product["admin_graphql_api_id"]
    exact = exact_id(gid)
    assert str(exact) == gid.rsplit("/", 1)[-1]
    nodes = [
        {
            "id": v["admin_graphql_api_id"],
            "sku": v.get("sku"),
            "title": v.get("title"),
            "product": {"id": gid, "title": product["title"]},
            "inventoryItem": {
                "id": "gid://shopify/InventoryItem/1",
                "tracked": True,
                "inventoryLevels": {"nodes": []},
            },
        }
        for v in product["variants"]
    ]
    entries = entries_from_page({"productVariants": {"nodes": nodes}}, location_id=1)
    assert [e.variant_id for e in entries] == [
        exact_id(v["admin_graphql_api_id"]) for v in product["variants"]
    ]
    assert all(e.product_id == exact for e in entries)
    assert [str(e.variant_id) for e in entries] == [
        v["admin_graphql_api_id"].rsplit("/", 1)[-1] for v in product["variants"]
    ]

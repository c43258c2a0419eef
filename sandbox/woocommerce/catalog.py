"""Products and variations: records, the fields a client may set, and their REST shape."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sandbox.woocommerce.errors import WooError
from sandbox.woocommerce.phpjson import money, to_decimal
from sandbox.woocommerce.store import Record, Store

PRODUCT_TYPES = ("simple", "variable", "grouped", "external")
STOCK_STATUSES = ("instock", "outofstock", "onbackorder")


def slugify(name: str) -> str:
    """Roughly ``sanitize_title``: lower-case words joined by hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "product"


def new_product(store: Store, data: dict[str, Any], parent: Record | None = None) -> Record:
    """Create a product (or, with ``parent``, a variation of it) from a REST body."""
    now = store.now()
    record: Record = {
        "id": store.next_post_id(),
        "type": "variation" if parent else "simple",
        "name": parent["name"] if parent else "",
        "slug": "",
        "status": "publish",
        "sku": "",
        "regular_price": None,
        "sale_price": None,
        "manage_stock": False,
        "stock_quantity": None,
        "stock_status": "instock",
        "backorders": "no",
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "description": "",
        "short_description": "",
        "parent_id": parent["id"] if parent else 0,
        "variations": [],
        "attributes": [],
        "categories": [],
        "images": [],
        "global_unique_id": "",
        "low_stock_amount": None,
        "post_password": "",
        "meta_data": [],
        "total_sales": 0,
        "menu_order": 0,
        "created": now,
        "modified": now,
    }
    apply_product(store, record, data)
    if not record["slug"]:
        record["slug"] = slugify(record["name"])
    store.products[record["id"]] = record
    if parent is not None:
        parent["variations"].append(record["id"])
    return record


def _set_sku(store: Store, record: Record, sku: Any) -> None:
    sku = str(sku or "").strip()
    other = store.find_by_sku(sku)
    if other is not None and other["id"] != record["id"]:
        raise WooError(
            "product_invalid_sku", "Invalid or duplicated SKU.", 400, resource_id=other["id"], unique_sku=sku
        )
    record["sku"] = sku


def _set_price(record: Record, field: str, value: Any) -> None:
    record[field] = to_decimal(value)


def _set_stock_quantity(record: Record, value: Any) -> None:
    record["stock_quantity"] = None if value is None else int(value)


def _set_type(record: Record, value: Any) -> None:
    if record["type"] != "variation" and value in PRODUCT_TYPES:
        record["type"] = value


def _set_dimensions(record: Record, value: Any) -> None:
    """``dimensions`` sets the sides it names (``length``, ``width``, ``height``), as strings."""
    if not isinstance(value, dict):
        return
    for side in ("length", "width", "height"):
        if side in value:
            record["dimensions"][side] = "" if value[side] is None else str(value[side])


def _set_stock_status(record: Record, value: Any) -> None:
    if value in STOCK_STATUSES:
        record["stock_status"] = value


_SETTERS: dict[str, Any] = {
    "regular_price": lambda s, r, v: _set_price(r, "regular_price", v),
    "sale_price": lambda s, r, v: _set_price(r, "sale_price", v),
    "stock_quantity": lambda s, r, v: _set_stock_quantity(r, v),
    "manage_stock": lambda s, r, v: r.__setitem__("manage_stock", bool(v) and v != "parent"),
    "sku": _set_sku,
    "type": lambda s, r, v: _set_type(r, v),
    "stock_status": lambda s, r, v: _set_stock_status(r, v),
    "dimensions": lambda s, r, v: _set_dimensions(r, v),
    "weight": lambda s, r, v: r.__setitem__("weight", "" if v is None else str(v)),
    "meta_data": lambda s, r, v: s.apply_meta(r, v),
    "low_stock_amount": lambda s, r, v: r.__setitem__(
        "low_stock_amount", None if v in (None, "") else int(v)
    ),
}
_PLAIN_FIELDS = (
    "name",
    "slug",
    "status",
    "backorders",
    "description",
    "short_description",
    "attributes",
    "categories",
    "images",
    "global_unique_id",
    "post_password",
    "menu_order",
)


def apply_product(store: Store, record: Record, data: dict[str, Any]) -> None:
    """Set the fields of a REST body on a product or variation record."""
    for name in _PLAIN_FIELDS:
        if name in data:
            record[name] = data[name]
    for name, setter in _SETTERS.items():
        if name in data:
            setter(store, record, data[name])
    if record["type"] == "variation" and "attributes" in data:
        record["attributes"] = [
            {"id": a.get("id", 0), "name": a.get("name", ""), "option": a.get("option", "")}
            for a in data["attributes"]
            if isinstance(a, dict)
        ]


def price(store: Store, record: Record) -> Decimal | None:
    """The active price; for a variable product, its cheapest variation."""
    if record["type"] == "variable":
        prices = [price(store, store.products[v]) for v in record["variations"] if v in store.products]
        known = [p for p in prices if p is not None]
        return min(known) if known else None
    sale: Decimal | None = record["sale_price"]
    regular: Decimal | None = record["regular_price"]
    return sale if sale is not None and (regular is None or sale < regular) else regular


def stock_status(store: Store, record: Record) -> str:
    """Derived as WooCommerce does: from the quantity when managed, from the children when variable."""
    if record["manage_stock"] and record["stock_quantity"] is not None:
        if record["stock_quantity"] > 0:
            return "instock"
        return "onbackorder" if record["backorders"] != "no" else "outofstock"
    if record["type"] == "variable" and record["variations"]:
        children = {
            stock_status(store, store.products[v]) for v in record["variations"] if v in store.products
        }
        return next((s for s in STOCK_STATUSES if s in children), record["stock_status"])
    return str(record["stock_status"])


def adjust_stock(store: Store, record: Record, delta: int) -> None:
    """Change a managed stock level (orders, refunds); WooCommerce saves the product, so it is 'updated'."""
    if not record["manage_stock"] or record["stock_quantity"] is None:
        return
    record["stock_quantity"] += delta
    store.touch(record)
    store.on_event("product.updated", record["id"])


def measures(store: Store, record: Record) -> tuple[str, dict[str, str]]:
    """``weight`` and ``dimensions`` as REST shows them: a variation's empty ones are its parent's
    (``WC_Product_Variation::get_weight`` / ``get_length`` ... in view context)."""
    weight, dims = record["weight"], dict(record["dimensions"])
    parent = store.products.get(record["parent_id"]) if record["type"] == "variation" else None
    if parent is not None:
        weight = weight or parent["weight"]
        dims = {side: dims[side] or parent["dimensions"][side] for side in ("length", "width", "height")}
    return weight, dims


def _money_or_empty(value: Decimal | None) -> str:
    return "" if value is None else money(value)


def _common(store: Store, record: Record) -> dict[str, Any]:
    current = price(store, record)
    status = stock_status(store, record)
    on_sale = record["sale_price"] is not None and current == record["sale_price"]
    weight, dimensions = measures(store, record)
    return {
        "sku": record["sku"],
        "price": _money_or_empty(current),
        "regular_price": _money_or_empty(record["regular_price"]),
        "sale_price": _money_or_empty(record["sale_price"]),
        "date_on_sale_from": None,
        "date_on_sale_from_gmt": None,
        "date_on_sale_to": None,
        "date_on_sale_to_gmt": None,
        "on_sale": on_sale,
        "purchasable": current is not None and record["status"] in ("publish", "private", True),
        "virtual": False,
        "downloadable": False,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": record["manage_stock"],
        "stock_quantity": record["stock_quantity"] if record["manage_stock"] else None,
        "stock_status": status,
        "backorders": record["backorders"],
        "backorders_allowed": record["backorders"] != "no",
        "backordered": status == "onbackorder",
        "weight": weight,
        "dimensions": dimensions,
        "shipping_class": "",
        "shipping_class_id": 0,
        "menu_order": record["menu_order"],
        "meta_data": [dict(m) for m in record["meta_data"]],
    }


def product_json(store: Store, record: Record) -> dict[str, Any]:
    """The ``wc/v3/products/<id>`` document (a variation read there keeps type ``variation``)."""
    current = price(store, record)
    permalink = f"{store.home_url.rstrip('/')}/product/{record['slug']}/"
    body: dict[str, Any] = {
        "id": record["id"],
        "name": record["name"],
        "slug": record["slug"],
        "permalink": permalink,
        **store.dates("date_created", record["created"]),
        **store.dates("date_modified", record["modified"]),
        "type": record["type"],
        "status": record["status"],
        "featured": False,
        "catalog_visibility": "visible",
        "description": record["description"],
        "short_description": record["short_description"],
    }
    body.update(_common(store, record))
    body.update(
        {
            "price_html": "" if current is None else f'<span class="amount">{money(current)}</span>',
            "total_sales": record["total_sales"],
            "external_url": "",
            "button_text": "",
            "sold_individually": False,
            "shipping_required": True,
            "shipping_taxable": True,
            "reviews_allowed": True,
            "average_rating": "0.00",
            "rating_count": 0,
            "related_ids": related_ids(store, record),
            "upsell_ids": [],
            "cross_sell_ids": [],
            "parent_id": record["parent_id"],
            "purchase_note": "",
            "categories": list(record["categories"]),
            "brands": [],
            "tags": [],
            "images": list(record["images"]),
            "attributes": list(record["attributes"]),
            "default_attributes": [],
            "variations": list(record["variations"]),
            "grouped_products": [],
            "global_unique_id": record["global_unique_id"],
            "has_options": record["type"] == "variable",
            "low_stock_amount": record["low_stock_amount"],
            "post_password": record["post_password"],
            "_links": store.links(f"products/{record['id']}", "products"),
        }
    )
    return body


def related_ids(store: Store, record: Record, limit: int = 5) -> list[int]:
    """``wc_get_related_products``: other published products sharing a category (WooCommerce
    shuffles them; the simulator lists them by id, so tests can compare)."""
    mine = {c.get("id") for c in record["categories"] if isinstance(c, dict)}
    if not mine:
        return []
    found = [
        other["id"]
        for other in store.products.values()
        if other["id"] != record["id"]
        and other["type"] != "variation"
        and other["status"] == "publish"
        and mine & {c.get("id") for c in other["categories"] if isinstance(c, dict)}
    ]
    return sorted(found)[:limit]


def variation_json(store: Store, record: Record) -> dict[str, Any]:
    """The ``wc/v3/products/<parent>/variations/<id>`` document."""
    parent_id = record["parent_id"]
    parent = store.products.get(parent_id)
    slug = parent["slug"] if parent else record["slug"]
    body: dict[str, Any] = {
        "id": record["id"],
        **store.dates("date_created", record["created"]),
        **store.dates("date_modified", record["modified"]),
        "description": record["description"],
        "permalink": f"{store.home_url.rstrip('/')}/product/{slug}/?variation_id={record['id']}",
    }
    body.update(_common(store, record))
    body.update(
        {
            "status": record["status"],
            "image": None,
            "global_unique_id": record["global_unique_id"],
            "low_stock_amount": record["low_stock_amount"],
            "attributes": list(record["attributes"]),
            "_links": store.links(
                f"products/{parent_id}/variations/{record['id']}",
                f"products/{parent_id}/variations",
                f"products/{parent_id}",
            ),
        }
    )
    return body

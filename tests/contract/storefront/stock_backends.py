"""Tiny stock backends behind ``responses``, one per storefront, all serving one shop state.

Each backend answers its platform's stock requests (shapes from ``../shared/reference``
and PLATFORMS.md) from the same :class:`Item` list, applies writes to it (compare-and-set
where the platform has one) and refuses the writes the test asks it to; so the contract
tests state every expectation once, in canonical terms, for every storefront.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from requests import PreparedRequest

from connectors.shopify.orders import order_from_webhook
from connectors.storefront import StoreAccess
from connectors.woocommerce.orders import order_from_rest
from core.orders import Order

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
WRITTEN_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
Reply = tuple[int, dict[str, str], str]


@dataclass
class Item:
    """One listing of the shop: ``variant`` set for a variation of ``product``."""

    sku: str
    stock: int
    updated: datetime
    product: int
    variant: int | None = None
    item: int = 0  # the stock item's id, where the platform has one
    refuse: str | None = None  # a write of it is refused with this code


@dataclass
class Backend:
    platform: str
    items: list[Item] = field(default_factory=list)
    batch: int = 0  # the most writes one call may carry
    posts: list[Any] = field(default_factory=list)  # write requests received
    down: bool = False  # writes answer 503

    def access(self) -> StoreAccess:
        raise NotImplementedError

    def install(self, mocked: responses.RequestsMock) -> None:
        raise NotImplementedError

    def event(self, item: Item) -> dict[str, Any]:
        raise NotImplementedError

    def paid_order(self) -> tuple[dict[str, Any], Order, datetime | None]:
        """An order payload, the order, and when the shop took its units."""
        raise NotImplementedError

    def levelless_event(self, item: Item) -> dict[str, Any]:
        """A stock event of ``item`` that reports no managed level."""
        raise NotImplementedError

    def find(self, **ids: int | None) -> Item:
        return next(i for i in self.items if all(getattr(i, k) == v for k, v in ids.items()))


def ok(body: Any, headers: dict[str, str] | None = None) -> Reply:
    return 200, headers or {}, json.dumps(body)


def fixture(platform: str, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / platform / f"{name}.json").read_text())
    return loaded


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Shopify ---------------------------------------------------------------------------

SHOP = "stock.myshopify.com"
LOCATION = 7


class ShopifyBackend(Backend):
    def __init__(self) -> None:
        super().__init__("shopify", batch=250)

    def access(self) -> StoreAccess:
        return StoreAccess(
            1, "shopify", SHOP, {"access_token": "shpat_stock_contract"}, api_version="2026-10"
        )

    def install(self, mocked: responses.RequestsMock) -> None:
        mocked.add_callback("POST", f"https://{SHOP}/admin/api/2026-10/graphql.json", callback=self._serve)

    def _serve(self, request: PreparedRequest) -> Reply:
        sent = json.loads(request.body or b"{}")
        text, variables = sent["query"], sent["variables"]
        if "inventorySetQuantities" in text:
            return self._set(variables["input"])
        if "inventoryItem(" in text:
            item = self.find(item=int(variables["id"].rsplit("/", 1)[-1]))
            return ok(
                {"data": {"inventoryItem": {"id": variables["id"], "inventoryLevels": self._levels([item])}}}
            )
        if "location(id" in text:
            since = datetime.fromisoformat(re.findall(r"'(.*)'", variables["query"])[0])
            nodes = [self._level(i) for i in self.items if i.updated > since]
            page = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": nodes}
            return ok({"data": {"location": {"inventoryLevels": page}}})
        if "locations(" in text:
            node = {
                "id": f"gid://shopify/Location/{LOCATION}",
                "legacyResourceId": str(LOCATION),
                "name": "Main",
            }
            nodes = [{**node, "isActive": True, "fulfillsOnlineOrders": True}]
            locations = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": nodes}
            return ok({"data": {"shop": {"id": "gid://shopify/Shop/1"}, "locations": locations}})
        assert "productVariants(" in text, text
        page = {
            "pageInfo": {"hasNextPage": False, "endCursor": None},
            "nodes": [self._variant(i) for i in self.items],
        }
        return ok({"data": {"productVariants": page}})

    def _level(self, item: Item) -> dict[str, Any]:
        return {
            "updatedAt": iso(item.updated),
            "item": {"id": f"gid://shopify/InventoryItem/{item.item}"},
            "location": {"id": f"gid://shopify/Location/{LOCATION}", "legacyResourceId": str(LOCATION)},
            "quantities": [{"name": "available", "quantity": item.stock}],
        }

    def _levels(self, items: list[Item]) -> dict[str, Any]:
        return {"nodes": [self._level(i) for i in items]}

    def _variant(self, item: Item) -> dict[str, Any]:
        return {
            "id": f"gid://shopify/ProductVariant/{item.variant}",
            "legacyResourceId": str(item.variant),
            "sku": item.sku,
            "title": "Default Title",
            "product": {"id": f"gid://shopify/Product/{item.product}", "title": f"Product {item.sku}"},
            "inventoryItem": {
                "id": f"gid://shopify/InventoryItem/{item.item}",
                "tracked": True,
                "inventoryLevels": self._levels([item]),
            },
        }

    def _set(self, given: Mapping[str, Any]) -> Reply:
        if self.down:
            return 503, {}, "{}"
        self.posts.append(given)
        errors = []
        for n, q in enumerate(given["quantities"]):
            item = self.find(item=int(q["inventoryItemId"].rsplit("/", 1)[-1]))
            field_ = ["input", "quantities", n, "changeFromQuantity"]
            if item.refuse:
                errors.append({"code": item.refuse, "field": field_[:3], "message": "refused"})
            elif q["changeFromQuantity"] is not None and q["changeFromQuantity"] != item.stock:
                errors.append({"code": "CHANGE_FROM_QUANTITY_STALE", "field": field_, "message": "stale"})
        if errors:  # Shopify refuses the whole call
            return ok(
                {"data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": None, "userErrors": errors}}}
            )
        for q in given["quantities"]:
            item = self.find(item=int(q["inventoryItemId"].rsplit("/", 1)[-1]))
            item.stock, item.updated = q["quantity"], WRITTEN_AT
        group = {"id": "gid://shopify/InventoryAdjustmentGroup/1", "createdAt": iso(WRITTEN_AT)}
        return ok({"data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": group, "userErrors": []}}})

    def event(self, item: Item) -> dict[str, Any]:
        return {
            "inventory_item_id": item.item,
            "location_id": LOCATION,
            "available": item.stock,
            "updated_at": item.updated.isoformat(),
        }

    def paid_order(self) -> tuple[dict[str, Any], Order, datetime | None]:
        body = fixture("shopify", "orders_create__basic")
        order = order_from_webhook(body)
        return body, order, order.created_at  # Shopify takes the units at creation

    def levelless_event(self, item: Item) -> dict[str, Any]:
        return {**self.event(item), "available": None}  # not stocked there (reference payload)


# --- WooCommerce -----------------------------------------------------------------------

STORE = "https://woo-stock.example"
API = f"{STORE}/wp-json/wc/v3/"


class WooBackend(Backend):
    def __init__(self) -> None:
        super().__init__("woocommerce", batch=100)

    def access(self) -> StoreAccess:
        return StoreAccess(
            2, "woocommerce", STORE, {"consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40}
        )

    def install(self, mocked: responses.RequestsMock) -> None:
        any_path = re.compile(re.escape(API) + r".*")
        mocked.add_callback("GET", any_path, callback=self._get)
        mocked.add_callback("POST", any_path, callback=self._post)

    @staticmethod
    def _route(request: PreparedRequest) -> tuple[str, dict[str, str]]:
        url = urlsplit(str(request.url))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        return url.path.split("/wc/v3/", 1)[1], query

    def _document(self, item: Item) -> dict[str, Any]:
        return {
            "id": item.variant if item.variant is not None else item.product,
            "parent_id": item.product if item.variant is not None else 0,
            "type": "variation" if item.variant is not None else "simple",
            "name": f"Product {item.sku}",
            "sku": item.sku,
            "manage_stock": True,
            "stock_quantity": item.stock,
            "date_modified_gmt": item.updated.strftime("%Y-%m-%dT%H:%M:%S"),
        }

    def _get(self, request: PreparedRequest) -> Reply:
        path, query = self._route(request)
        if path.startswith("settings/"):
            return ok({"id": path.rsplit("/", 1)[-1], "value": "kg"})
        parent = int(path.split("/")[1]) if path.endswith("/variations") else None
        rows = [i for i in self.items if (i.product if i.variant is not None else None) == parent]
        docs = [self._document(i) for i in rows]
        if parent is None:  # the variable parents, as the catalog lists them
            parents = sorted({i.product for i in self.items if i.variant is not None})
            docs += [
                {"id": p, "type": "variable", "name": f"Parent {p}", "manage_stock": False} for p in parents
            ]
        if "include" in query:
            wanted = {int(x) for x in query["include"].split(",")}
            docs = [d for d in docs if d["id"] in wanted]
        if "modified_after" in query:
            docs = [d for d in docs if d.get("date_modified_gmt", "") > query["modified_after"]]
        return ok(docs, {"X-WP-Total": str(len(docs)), "X-WP-TotalPages": "1"})

    def _post(self, request: PreparedRequest) -> Reply:
        if self.down:
            return 503, {}, "{}"
        path, _ = self._route(request)
        body = json.loads(request.body or b"{}")
        self.posts.append(body)
        parent = int(path.split("/")[1]) if "/variations/" in path else None
        answers = []
        for row in body["update"]:
            item = (
                self.find(variant=row["id"])
                if parent is not None
                else self.find(product=row["id"], variant=None)
            )
            if item.refuse:
                answers.append({"id": row["id"], "error": {"code": item.refuse, "message": "refused"}})
                continue
            item.stock, item.updated = row["stock_quantity"], WRITTEN_AT
            answers.append(self._document(item))
        return ok({"update": answers})

    def event(self, item: Item) -> dict[str, Any]:
        return self._document(item)

    def levelless_event(self, item: Item) -> dict[str, Any]:
        return {**self._document(item), "manage_stock": False, "stock_quantity": None}

    def paid_order(self) -> tuple[dict[str, Any], Order, datetime | None]:
        body = fixture("woocommerce", "order_created__processing")
        body.update(date_paid_gmt="2024-06-01T15:04:08")
        for line in body["line_items"]:
            line["meta_data"] = [{"id": 9, "key": "_reduced_stock", "value": "1"}]
        return body, order_from_rest(body), datetime(2024, 6, 1, 15, 4, 8, tzinfo=UTC)


# --- the test shop -----------------------------------------------------------------------

TESTSHOP = "testshop.example"


class TestShopBackend(Backend):
    __test__ = False

    def __init__(self) -> None:
        super().__init__("testshop", batch=3)

    def access(self) -> StoreAccess:
        return StoreAccess(3, "testshop", TESTSHOP, {})

    def install(self, mocked: responses.RequestsMock) -> None:
        base = f"https://{TESTSHOP}/api/"
        mocked.add_callback("GET", re.compile(re.escape(base) + r"items(\?.*)?$"), callback=self._items)
        mocked.add_callback("GET", re.compile(re.escape(base) + r"items/\d+/stock"), callback=self._level)
        mocked.add_callback("GET", re.compile(re.escape(base) + r"stock\?.*"), callback=self._changed)
        mocked.add_callback("POST", base + "stock", callback=self._set)

    def _row(self, item: Item) -> dict[str, Any]:
        return {
            "id": item.product,
            "sku": item.sku,
            "managed": True,
            "stock": item.stock,
            "updated": iso(item.updated),
        }

    def _items(self, request: PreparedRequest) -> Reply:
        return ok([self._row(i) for i in self.items])

    def _level(self, request: PreparedRequest) -> Reply:
        wanted = int(str(request.url).rsplit("/", 2)[-2])
        found = [i for i in self.items if i.product == wanted]
        return ok(self._row(found[0])) if found else (404, {}, "{}")

    def _changed(self, request: PreparedRequest) -> Reply:
        since = datetime.fromisoformat(parse_qs(urlsplit(str(request.url)).query)["since"][0])
        return ok([self._row(i) for i in self.items if i.updated > since])

    def _set(self, request: PreparedRequest) -> Reply:
        if self.down:
            return 503, {}, "{}"
        body = json.loads(request.body or b"{}")
        self.posts.append(body)
        results = []
        for row in body["set"]:
            item = self.find(product=row["id"])
            if item.refuse:
                results.append({"id": item.product, "status": "error", "error": item.refuse})
            elif row["expect"] is not None and row["expect"] != item.stock:
                results.append({**self._row(item), "status": "conflict"})
            else:
                item.stock, item.updated = row["stock"], WRITTEN_AT
                results.append({**self._row(item), "status": "ok"})
        return ok({"results": results})

    def event(self, item: Item) -> dict[str, Any]:
        return {"item": item.product, "stock": item.stock, "updated": iso(item.updated)}

    def levelless_event(self, item: Item) -> dict[str, Any]:
        return {"item": item.product, "stock": None, "updated": iso(item.updated)}

    def paid_order(self) -> tuple[dict[str, Any], Order, datetime | None]:
        body = fixture("shopify", "orders_create__basic")
        order = order_from_webhook(body)
        return {"stock_taken_at": iso(WRITTEN_AT)}, order, WRITTEN_AT


BACKENDS = {"shopify": ShopifyBackend, "woocommerce": WooBackend, "testshop": TestShopBackend}

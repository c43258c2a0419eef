"""bench/inventory's world: a Shopify and a WooCommerce simulator on loopback, one merchant
with both connected to an embedded (or PostgreSQL) Waybill, catalogs imported.

Both simulators run in processes of their own (``bench._shopify_process``,
``bench._woo_process``), as the platforms run on their own servers: sharing Waybill's
interpreter, the Shopify simulator and Waybill slowed each other, and the WooCommerce
store's 10,000 products made every full garbage collection in Waybill's process walk
them too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select

from bench._shopify_process import RemoteShopify
from bench._woo_process import RemoteWoo
from db.models import Platform, StockItem
from db.stock import mark_dirty, move
from sandbox.harness import RunningServer, serve
from sync import catalog
from sync.runtime import Runtime
from sync.stores import ensure_webhooks, save_store

SHOP = "bench-north.myshopify.com"
API_KEY, API_SECRET = "bench-app-key", "bench-app-secret"
ACCOUNT = "Bench Trading"
LOCATION = "default"
START_QTY = 20


@dataclass
class World:
    rt: Runtime
    app: Flask
    shopify: RemoteShopify  # in its own process
    woo: RemoteWoo  # in its own process
    shopify_store_id: int
    woo_store_id: int
    shopify_skus: list[str]
    woo_simple: list[str]
    woo_variations: dict[int, list[str]]  # parent product id -> variation SKUs


def seed_shopify(sim: RemoteShopify, count: int) -> tuple[list[str], str]:
    """The shop's catalog; returns the SKUs and the shop's access token."""
    # Imported at Enterprise limits to keep the setup short; the push runs on Standard (standard_plan).
    skus = [f"SKU-{i:05d}" for i in range(count)]
    products = [
        (
            f"Product {start // 100}",
            [
                {"sku": s, "title": s, "price": "5.00", "available": START_QTY}
                for s in skus[start : start + 100]
            ],
        )
        for start in range(0, count, 100)  # 100 variants a product, Shopify's classic limit
    ]
    return skus, sim.call("seed", SHOP, "enterprise", products)


def seed_woo(
    sim: RemoteWoo, skus: list[str], simple: int, per_parent: int
) -> tuple[list[str], dict[int, list[str]]]:
    """``simple`` simple products, then variable products of ``per_parent`` variations for the rest."""
    simple_skus, parents = sim.call("seed", skus, simple, per_parent, START_QTY)
    return list(simple_skus), {int(pid): list(group) for pid, group in parents.items()}


@contextmanager
def world(
    tmp: str,
    shopify_skus: int,
    woo_simple: int,
    woo_per_parent: int,
    database_url: str | None = None,
    settle_s: float = 2.0,
) -> Iterator[World]:
    """Both simulators and Waybill served on loopback, both stores connected and imported."""
    from app import create_app

    shopify = RemoteShopify(API_KEY, API_SECRET)
    woo = RemoteWoo()
    mount: dict[str, Flask] = {}

    def waybill(environ: dict[str, Any], start_response: Any) -> Any:
        return mount["app"](environ, start_response)

    app_server: RunningServer = serve(waybill)
    try:
        skus, token = seed_shopify(shopify, shopify_skus)
        simple, parents = seed_woo(woo, skus, woo_simple, woo_per_parent)
        config: dict[str, Any] = {
            "var_dir": f"{tmp}/var",
            "database_url": database_url or f"sqlite:///{tmp}/waybill.db",
            "sandbox": True,
            "public_url": app_server.url,
            "log_level": "WARNING",
            "shopify": {"api_key": API_KEY, "api_secret": API_SECRET, "base_url": shopify.url},
            "inventory": {"settle_s": settle_s},
            "shipping": {"auto_ship": False},  # the sales of the propagation runs are not shipped
            "schedules": {},
        }
        app = create_app(config)
        mount["app"] = app
        rt: Runtime = app.extensions["waybill"]
        shop_id = save_store(
            rt,
            Platform.shopify,
            SHOP,
            {"access_token": token},
            "read_inventory,write_inventory",
            account_name=ACCOUNT,
        )
        key, secret = woo.call("create_key")
        woo_id = save_store(
            rt,
            Platform.woocommerce,
            woo.url,
            {"consumer_key": key, "consumer_secret": secret},
            "read_write",
            account_name=ACCOUNT,
        )
        for store_id in (shop_id, woo_id):
            catalog.import_catalog(rt, store_id=store_id)
            ensure_webhooks(rt, store_id, actor="bench")
        yield World(rt, app, shopify, woo, shop_id, woo_id, skus, simple, parents)
    finally:
        if "app" in mount:
            mount["app"].extensions["waybill"].close()
        app_server.stop()
        shopify.stop()
        woo.stop()


def recount(rt: Runtime, account_id: int, skus: list[str], delta: int, tag: str) -> set[int]:
    """A stock count moving every SKU by ``delta`` (one movement each); marks them on every channel."""
    with rt.session() as s:
        items = {
            i.sku: i.id
            for i in s.scalars(
                select(StockItem).where(StockItem.account_id == account_id, StockItem.location == LOCATION)
            )
        }
        for sku in skus:
            move(
                s,
                items[sku],
                account_id=account_id,
                key=f"bench:{tag}:{sku}",
                reason="count_correction",
                source="bench",
                on_hand=delta,
            )
        return mark_dirty(s, account_id, skus)


def standard_plan(sim: RemoteShopify, shopify_base_url: str) -> None:
    """Move the shop to the Standard plan with a fresh (full) bucket; the client forgets its estimate."""
    from connectors.shopify.throttle import REGISTRY

    sim.call("set_plan", SHOP, "standard")
    REGISTRY.forget(f"{shopify_base_url.rstrip('/')}|{SHOP}")


def wait_for_full_bucket(sim: RemoteShopify, timeout_s: float = 60.0) -> float:
    """Wait until the shop's bucket has refilled (the catalog import drained it); returns the wait."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        status = sim.call("bucket", SHOP)
        if status["currentlyAvailable"] >= status["maximumAvailable"]:
            break
        time.sleep(0.2)
    return time.perf_counter() - started

"""Weights and sizes from the channels' catalogs reach the parcel and the customs declaration.

WooCommerce order lines carry no weight: the product or variation has ``weight`` and
``dimensions`` in the store's units (``woocommerce_weight_unit``,
``woocommerce_dimension_unit``). Shopify keeps a variant's weight on its inventory item
(``measurement.weight``) and its order lines carry it as grams. Orders travel through
the real receivers, inbox, queue and database; EasyPost is the simulator, and what it
was sent (parcel, customs items) is read back from it.

EasyPost measures in ounces and inches: grams / 28.349523125 and cm / 2.54, each
rounded up to a tenth.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import select

from db.models import CatalogLink, Platform, Store
from sandbox.easypost import EasyPostSimulator
from sandbox.woocommerce import WooCommerceSimulator
from tests.e2e.conftest import SHOP, ShopifySandbox, install_shopify, install_woocommerce, sign_in, stores
from tests.e2e.test_shipping import flush, order_for, shipments, timeline

MERCHANT = "Heavy Goods Ltd"
TORONTO_WOO = {
    "first_name": "Mary",
    "last_name": "Jackson",
    "address_1": "100 Queen Street West",
    "city": "Toronto",
    "state": "ON",
    "postcode": "M5H 2N2",
    "country": "CA",
}
TORONTO_SHOPIFY = {
    "name": "Mary Jackson",
    "address1": "100 Queen Street West",
    "city": "Toronto",
    "provinceCode": "ON",
    "countryCode": "CA",
    "zip": "M5H 2N2",
}


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    # Shipping is under test: every order is approved, addresses are not verified, and the
    # boxes are config.yaml's (small 20x15x10 cm, tare 100 g; medium 35x25x15, tare 250 g;
    # large 50x40x30, tare 500 g). No item_dimensions: sizes come from the catalogs.
    config["risk"] = {"verify_addresses": False, "approve_below": 1000, "reject_at": 1001}
    config["inventory"] = {"settle_s": 0}
    return config


def connect(
    rt: Any,
    browser: requests.Session,
    public_url: str,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
) -> tuple[Store, Store]:
    """Install both storefronts (which imports their catalogs) and settle what followed."""
    sign_in(browser, public_url, rt, MERCHANT)
    assert install_shopify(browser, public_url).status_code == 200
    assert install_woocommerce(browser, public_url, woo_url).status_code == 200
    shop_store, woo_store = stores(rt)
    assert shop_store.platform is Platform.shopify and woo_store.platform is Platform.woocommerce
    flush(shopify, woo, rt)
    return shop_store, woo_store


def sent_to_easypost(easypost: EasyPostSimulator, easypost_id: str | None) -> dict[str, Any]:
    shipment: dict[str, Any] = easypost.shipping.shipments[easypost_id or ""]
    return shipment


def customs_weights(shipment: dict[str, Any]) -> dict[str, float]:
    return {item["code"]: item["weight"] for item in shipment["customs_info"]["customs_items"]}


def test_a_lbs_and_inches_store_ships_its_variations_at_their_own_weight_and_size(
    rt: Any,
    browser: requests.Session,
    public_url: str,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    easypost: EasyPostSimulator,
) -> None:
    woo.set_units(weight="lbs", dimensions="in")
    pan = woo.add_product(
        "Cast-iron pan",
        type="variable",
        weight="4",
        dimensions={"length": "12", "width": "9", "height": "3"},
    )
    # Its own weight; the parent's size. The other variation is the parent's in both.
    woo.add_variation(pan, "PAN-12", price="60.00", stock=10, weight="5.5")
    woo.add_variation(pan, "PAN-10", price="45.00", stock=10)
    _, woo_store = connect(rt, browser, public_url, shopify, woo, woo_url)

    placed = woo.place_order([("PAN-12", 1), ("PAN-10", 1)], shipping=TORONTO_WOO)
    flush(shopify, woo, rt)
    order = order_for(rt, woo_store, placed)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    # 5.5 lb = 2494.758035 g -> 2495 g; 4 lb = 1814.36948 g -> 1815 g. 12 x 9 x 3 in is
    # 30.48 x 22.86 x 7.62 cm: not the small box (20 cm), the medium one (tare 250 g).
    assert sh.parcel["box"] == "medium"
    assert sh.parcel["weight_g"] == 250 + 2495 + 1815
    assert {i["sku"]: i["grams"] for i in sh.parcel["items"]} == {"PAN-12": 2495, "PAN-10": 1815}
    assert {i["sku"]: i["dims_cm"] for i in sh.parcel["items"]}["PAN-12"] == ["30.48", "22.86", "7.62"]
    sent = sent_to_easypost(easypost, sh.easypost_id)
    assert sent["parcel"]["weight"] == 160.9  # 4560 g = 160.849... oz
    assert (sent["parcel"]["length"], sent["parcel"]["width"], sent["parcel"]["height"]) == (13.8, 9.9, 6.0)
    # An international order: customs items carry each line's weight, in ounces.
    assert customs_weights(sent) == {"PAN-12": 88.1, "PAN-10": 64.1}  # 88.0085..., 64.0222...
    assert "shipment.default_weight" not in [a for a, _ in timeline(rt, order.id)]


def test_a_grams_and_millimetres_store_ships_at_its_catalog_weight_and_size(
    rt: Any,
    browser: requests.Session,
    public_url: str,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    easypost: EasyPostSimulator,
) -> None:
    woo.set_units(weight="g", dimensions="mm")
    woo.add_product(
        "Tea tin",
        sku="TIN-250",
        price="18.00",
        stock=30,
        weight="350",
        dimensions={"length": "250", "width": "120", "height": "90"},
    )
    _, woo_store = connect(rt, browser, public_url, shopify, woo, woo_url)

    placed = woo.place_order([("TIN-250", 2)], shipping=TORONTO_WOO)
    flush(shopify, woo, rt)
    order = order_for(rt, woo_store, placed)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    # 25 x 12 x 9 cm: too long for the small box (20 cm).
    assert sh.parcel["box"] == "medium"
    assert sh.parcel["weight_g"] == 250 + 2 * 350
    sent = sent_to_easypost(easypost, sh.easypost_id)
    assert sent["parcel"]["weight"] == 33.6  # 950 g = 33.5102... oz
    assert customs_weights(sent) == {"TIN-250": 24.7}  # 700 g = 24.6918... oz


def test_a_shopify_variant_weight_reaches_the_parcel_and_customs(
    rt: Any,
    browser: requests.Session,
    public_url: str,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    easypost: EasyPostSimulator,
) -> None:
    shopify.add_product(
        SHOP, "Kettlebell", [{"sku": "KB-5LB", "price": "30.00", "available": 9, "weight": ("2.5", "POUNDS")}]
    )
    shop_store, _ = connect(rt, browser, public_url, shopify, woo, woo_url)
    with rt.session() as s:
        link = s.scalar(
            select(CatalogLink).where(CatalogLink.store_id == shop_store.id, CatalogLink.sku == "KB-5LB")
        )
        assert link is not None and link.grams == 1134  # 1133.98 g, rounded up

    placed = shopify.place_order(SHOP, [("KB-5LB", 1)], shipping_address=TORONTO_SHOPIFY)
    flush(shopify, woo, rt)
    order = order_for(rt, shop_store, placed.id)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    assert sh.parcel["box"] == "small" and sh.parcel["weight_g"] == 100 + 1134
    sent = sent_to_easypost(easypost, sh.easypost_id)
    assert sent["parcel"]["weight"] == 43.6  # 1234 g = 43.5279... oz
    assert customs_weights(sent) == {"KB-5LB": 40.1}  # 1134 g = 40.0006... oz


def test_a_product_nobody_weighed_ships_at_the_default_and_the_timeline_says_so(
    rt: Any,
    browser: requests.Session,
    public_url: str,
    shopify: ShopifySandbox,
    woo: WooCommerceSimulator,
    woo_url: str,
    easypost: EasyPostSimulator,
) -> None:
    woo.add_product("Gift card sleeve", sku="SLEEVE", price="5.00", stock=40)
    woo.add_product("Mug", sku="MUG-W", price="9.00", stock=40, weight="0.4")  # kg, the default unit
    _, woo_store = connect(rt, browser, public_url, shopify, woo, woo_url)

    placed = woo.place_order([("SLEEVE", 1), ("MUG-W", 1)], shipping=TORONTO_WOO)
    flush(shopify, woo, rt)
    order = order_for(rt, woo_store, placed)
    assert order.stage == "fulfilled", timeline(rt, order.id)
    (sh,) = shipments(rt, order.id)
    assert {i["sku"]: i["grams"] for i in sh.parcel["items"]} == {"SLEEVE": 500, "MUG-W": 400}
    notes = [reason for action, reason in timeline(rt, order.id) if action == "shipment.default_weight"]
    assert notes == ["no weight known for SLEEVE: 500 g a unit assumed"]

"""`make demo`: Waybill beside sandbox Shopify, WooCommerce and EasyPost, on loopback.

Starts the three simulators, starts Waybill in embedded mode (its own database
under ``var/demo``), installs a demo Shopify shop and a demo WooCommerce store
through the real install flows (OAuth, key exchange, webhook registration), then
places a stream of orders on both storefronts and says where to look.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import requests

from sandbox.easypost import EasyPostSimulator
from sandbox.harness import RunningServer, serve
from sandbox.shopify import ShopifySimulator
from sandbox.woocommerce import WooCommerceSimulator

ROOT = Path(__file__).resolve().parents[1]
SHOP = "demo-outfitters.myshopify.com"
APP_KEY, APP_SECRET = "demo-app-key", "demo-app-secret"
EP_KEY, EP_WEBHOOK_SECRET = "EZTK-sandbox-demo-key", "demo-easypost-secret"
CATALOG = [
    ("TEE-BLK-M", "Black tee, M", "19.00", 40),
    ("TEE-WHT-M", "White tee, M", "19.00", 35),
    ("MUG-12OZ", "Enamel mug", "14.50", 60),
    ("CAP-NAVY", "Navy cap", "24.00", 25),
]
CUSTOMERS = ["ada@example.com", "grace@example.com", "linus@example.com", "margaret@example.com"]


def start_platforms() -> tuple[dict[str, RunningServer], ShopifySimulator, WooCommerceSimulator]:
    shopify = ShopifySimulator(api_key=APP_KEY, api_secret=APP_SECRET)
    shopify.add_shop(SHOP, plan="standard", name="Demo Outfitters")
    for sku, title, price, stock in CATALOG:
        shopify.add_product(SHOP, title, [{"sku": sku, "price": price, "available": stock, "grams": 250}])
    woo = WooCommerceSimulator(allow_http_callback=True)
    for sku, title, price, stock in CATALOG:
        woo.add_product(title, sku=sku, price=price, stock=stock)
    easypost = EasyPostSimulator(api_keys=[EP_KEY], webhook_secret=EP_WEBHOOK_SECRET)
    servers = {"shopify": serve(shopify), "woocommerce": serve(woo), "easypost": serve(easypost)}
    woo.bind(servers["woocommerce"].url)
    for server in servers.values():
        server.app.webhooks.start()
    return servers, shopify, woo


def start_waybill(port: int, servers: dict[str, RunningServer]) -> Any:
    from waitress.server import create_server

    from app import create_app
    from sync.schedule import Scheduler

    public = f"http://127.0.0.1:{port}"
    app = create_app(
        {
            "sandbox": True,
            "public_url": public,
            "port": port,
            "var_dir": str(ROOT / "var" / "demo"),
            "shopify": {"api_key": APP_KEY, "api_secret": APP_SECRET, "base_url": servers["shopify"].url},
            "easypost": {
                "api_key": EP_KEY,
                "webhook_secret": EP_WEBHOOK_SECRET,
                "base_url": servers["easypost"].url,
            },
            "schedules": {"sweep_inbox": 30, "requeue_dead_letters": 15, "reconcile_all": 60},
        }
    )
    rt = app.extensions["waybill"]
    rt.queue.start()
    Scheduler(rt).start()
    server = create_server(app, host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, name="waybill-http", daemon=True).start()
    return app


def install_stores(public: str, shopify: ShopifySimulator, woo_url: str) -> None:
    """Both installs as a merchant's browser would run them: sign in, then connect each store
    from the console with the form's CSRF token (one session, so both join one account)."""
    browser = requests.Session()
    login = browser.get(f"{public}/login", timeout=10)
    signed = browser.post(
        f"{public}/login", data={"token": _demo_token(), "csrf_token": _csrf(login.text)}, timeout=10
    )
    if signed.status_code != 200:
        raise SystemExit(f"sign-in failed ({signed.status_code}): {signed.text[:300]}")
    shopify.set_compliance_uri(f"{public}/webhooks/shopify")
    pages = [
        browser.post(
            f"{public}/install/shopify", data={"shop": SHOP, "csrf_token": _csrf(signed.text)}, timeout=30
        )
    ]
    confirm = browser.get(f"{public}/install/woocommerce", params={"store_url": woo_url}, timeout=30)
    if confirm.status_code == 200:
        form = {"store_url": woo_url, "csrf_token": _csrf(confirm.text)}
        pages.append(browser.post(f"{public}/install/woocommerce", data=form, timeout=30))
    else:
        pages.append(confirm)
    for page in pages:
        if page.status_code != 200 or "connected" not in page.text:
            raise SystemExit(f"install failed ({page.status_code}): {page.text[:300]}")


def _csrf(html: str) -> str:
    """The CSRF token of the form on a console page."""
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise SystemExit("install failed: no form on the console page")
    return found.group(1)


def _demo_token() -> str:
    from flask import current_app

    from db.accounts import get_or_create_account, issue_token

    with current_app.extensions["waybill"].session() as s:
        return issue_token(s, get_or_create_account(s, "demo"))


def place_orders(shopify: ShopifySimulator, woo: WooCommerceSimulator, every_s: float, count: int) -> None:
    rng = random.Random(7)
    for n in itertools.count():
        if count and n >= count:
            return
        sku = rng.choice(CATALOG)[0]
        email = rng.choice(CUSTOMERS)
        if n % 2 == 0:
            shopify.place_order(SHOP, [(sku, rng.randint(1, 2))], email=email)
        else:
            woo.place_order(
                [(sku, rng.randint(1, 2))],
                billing={"email": email, "first_name": "Demo", "last_name": "Buyer", "country": "US"},
            )
        time.sleep(every_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--every", type=float, default=3.0, help="seconds between orders")
    parser.add_argument("--orders", type=int, default=0, help="stop after this many orders (0: forever)")
    args = parser.parse_args()
    servers, shopify, woo = start_platforms()
    app = start_waybill(args.port, servers)
    public = f"http://127.0.0.1:{args.port}"
    with app.app_context():
        install_stores(public, shopify, servers["woocommerce"].url)
        token = _demo_token()
    env = f"WAYBILL_VAR_DIR={ROOT / 'var' / 'demo'}"
    print(
        f"""
Waybill demo is running.
  console:     {public}/   (sign in with {token})
  API:         curl -H 'Authorization: Bearer {token}' {public}/api/v1/stores
  orders:      {env} .venv/bin/flask --app app orders list
  one order:   {env} .venv/bin/flask --app app orders show 1
  stores:      {env} .venv/bin/flask --app app shops list
  metrics:     {public}/metrics
  sandbox:     Shopify {servers["shopify"].url}  WooCommerce {servers["woocommerce"].url}  \
EasyPost {servers["easypost"].url}
Placing an order every {args.every:g}s on alternating storefronts; Ctrl-C stops.
""",
        flush=True,
    )
    try:
        place_orders(shopify, woo, args.every, args.orders)
        time.sleep(5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

"""`make demo`: Waybill beside sandbox Shopify, WooCommerce and EasyPost, on loopback.

Starts the three simulators, starts Waybill in embedded mode (its own database
under ``var/demo``, wiped at every start so each run begins clean), installs a demo
Shopify shop through the app install (OAuth) and connects a demo WooCommerce store
with REST API keys (``shops add-woocommerce``: a real store refuses the key exchange
to the demo's plain-http address), registers the webhooks, then places a stream of orders from distinct
customers on both storefronts (:mod:`sandbox.demo_orders`) and says where to look.
The EasyPost simulator's clock runs fast (``--tracking-speed``), so the parcels'
trackers move from label created to delivered within minutes.

``--minutes N`` stops placing orders after N minutes, waits for the orders in flight,
prints the figures as one ``key=value`` line and exits non-zero when fewer than 80 %
of the orders reached ``fulfilled`` or any stock level went below zero
(``--check`` alone means ``--minutes 5``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sandbox.demo_orders import CATALOG, DemoOrders, run_stream
from sandbox.easypost import EasyPostSimulator
from sandbox.harness import FakeClock, RunningServer, serve
from sandbox.shopify import ShopifySimulator
from sandbox.woocommerce import WooCommerceSimulator

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "var" / "demo"
MARKER = ".waybill-demo"  # a directory holding this file was made by the demo and may be wiped
# What an embedded Waybill keeps in its var directory (a demo directory from before the marker).
WAYBILL_FILES = frozenset(
    {"waybill.db", "waybill.db-wal", "waybill.db-shm", "waybill.db-journal", "secret.key"}
)
SHOP = "demo-outfitters.myshopify.com"
APP_KEY, APP_SECRET = "demo-app-key", "demo-app-secret"
EP_KEY, EP_WEBHOOK_SECRET = "EZTK-sandbox-demo-key", "demo-easypost-secret"
MIN_FULFILLED_RATIO = 0.8
CLI_CONFIG = "demo.yaml"  # under the demo's var directory: what CLI commands point WAYBILL_CONFIG at
IN_FLIGHT = frozenset({"received", "verifying", "approved", "ready_to_ship", "packed", "label_purchased"})


@dataclass
class Demo:
    """What a running demo is made of (the check and the tests read it)."""

    servers: dict[str, RunningServer]
    shopify: ShopifySimulator
    woo: WooCommerceSimulator
    easypost: EasyPostSimulator
    app: Any
    http: Any  # waitress server
    scheduler: Any
    public: str
    stop: threading.Event

    def close(self) -> None:
        self.stop.set()
        self.scheduler.stop()
        self.http.close()
        self.app.extensions["waybill"].close()
        for server in self.servers.values():
            server.app.webhooks.stop()
            server.stop()


def _running_demo(var_dir: Path) -> int | None:
    """The process id of a live demo using ``var_dir`` (written in its marker), if any."""
    try:
        pid = int((var_dir / MARKER).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def check_port(port: int) -> None:
    """Refuse a port already in use before anything is wiped or started."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise SystemExit(f"port {port} is not free ({exc.strerror}); choose another with --port") from exc


def reset_dir(var_dir: Path) -> None:
    """Start from a clean state: remove the demo's database and key (only a directory the demo made)."""
    other = _running_demo(var_dir)
    if other is not None:
        raise SystemExit(
            f"a demo (process {other}) is running on {var_dir}; stop it first or choose --var-dir"
        )
    if var_dir.exists():
        names = {p.name for p in var_dir.iterdir()}
        if MARKER not in names and not names <= WAYBILL_FILES:
            raise SystemExit(f"{var_dir} holds files the demo did not make; choose another --var-dir")
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True)
    (var_dir / MARKER).write_text(
        f"{os.getpid()}\nmade by `make demo` (the process above); wiped at every start\n"
    )


def start_platforms(
    opening_stock: int | None = None,
) -> tuple[dict[str, RunningServer], ShopifySimulator, WooCommerceSimulator, EasyPostSimulator]:
    """The three simulators, served; ``opening_stock`` replaces the catalog's stock of every SKU."""
    shopify = ShopifySimulator(api_key=APP_KEY, api_secret=APP_SECRET)
    shopify.add_shop(SHOP, plan="standard", name="Demo Outfitters")
    for sku, title, price, stock, grams in CATALOG:
        units = stock if opening_stock is None else opening_stock
        shopify.add_product(SHOP, title, [{"sku": sku, "price": price, "available": units, "grams": grams}])
    # The demo's Waybill listens on loopback at --port: a stock WordPress would not deliver there.
    woo = WooCommerceSimulator(allow_unsafe_delivery_urls=True)
    for sku, title, price, stock, _ in CATALOG:
        woo.add_product(title, sku=sku, price=price, stock=stock if opening_stock is None else opening_stock)
    # EasyPost's clock runs ``tracking_speed`` times faster than the wall clock (see `courier`).
    easypost = EasyPostSimulator(
        api_keys=[EP_KEY], webhook_secret=EP_WEBHOOK_SECRET, clock=FakeClock(start=time.time())
    )
    servers = {"shopify": serve(shopify), "woocommerce": serve(woo), "easypost": serve(easypost)}
    woo.bind(servers["woocommerce"].url)
    for server in servers.values():
        server.app.webhooks.start()
    return servers, shopify, woo, easypost


def courier(easypost: EasyPostSimulator, speed: float, stop: threading.Event, every_s: float = 0.5) -> None:
    """Move the EasyPost simulator's clock ``speed`` seconds per second: trackers advance."""
    while not stop.wait(every_s):
        easypost.advance(speed * every_s)


def write_cli_config(var_dir: Path, settings: dict[str, Any]) -> Path:
    """The demo's settings as a config file, so that CLI commands (``WAYBILL_CONFIG``) reach
    the same database, simulators and service port as the running demo."""
    import yaml

    path = var_dir / CLI_CONFIG
    header = (
        "# Written by `make demo` for CLI commands: WAYBILL_CONFIG=<this file> ./waybill ...\n"
        "# The keys are the local simulators' sandbox keys, not credentials of any real account.\n"
    )
    path.write_text(header + yaml.safe_dump(settings, sort_keys=False))
    return path


def start_waybill(
    port: int, servers: dict[str, RunningServer], var_dir: Path = DEMO_DIR
) -> tuple[Any, Any, Any]:
    """Waybill in embedded mode on ``port``: (the Flask app, the HTTP server, the scheduler)."""
    from waitress.server import create_server

    from app import create_app
    from sync.embedded_queue import EmbeddedJobQueue
    from sync.schedule import Scheduler

    public = f"http://127.0.0.1:{port}"
    settings = {
        "sandbox": True,
        "public_url": public,
        "port": port,
        "var_dir": str(var_dir),
        "log_level": os.environ.get("WAYBILL_LOG_LEVEL", "WARNING").upper(),
        "shopify": {"api_key": APP_KEY, "api_secret": APP_SECRET, "base_url": servers["shopify"].url},
        "easypost": {
            "api_key": EP_KEY,
            "webhook_secret": EP_WEBHOOK_SECRET,
            "base_url": servers["easypost"].url,
        },
        "schedules": {"sweep_inbox": 30, "requeue_dead_letters": 15, "reconcile_all": 60},
    }
    write_cli_config(var_dir, settings)
    app = create_app(settings)
    rt = app.extensions["waybill"]
    assert isinstance(rt.queue, EmbeddedJobQueue)
    rt.queue.start()
    scheduler = Scheduler(rt)
    scheduler.start()
    try:
        server = create_server(app, host="127.0.0.1", port=port, threads=8)
    except OSError as exc:
        rt.close()
        raise SystemExit(f"port {port} is not free ({exc.strerror}); choose another with --port") from exc
    threading.Thread(target=server.run, name="waybill-http", daemon=True).start()
    return app, server, scheduler


def install_stores(public: str, shopify: ShopifySimulator, woo: WooCommerceSimulator, woo_url: str) -> None:
    """Shopify as a merchant's browser installs it (sign in, connect from the console with the
    form's CSRF token); WooCommerce with REST API keys, as `shops add-woocommerce` connects them
    (WooCommerce's key exchange needs an https callback, and the demo serves plain http).
    Both join the demo account."""
    from flask import current_app

    browser = requests.Session()
    login = browser.get(f"{public}/login", timeout=10)
    signed = browser.post(
        f"{public}/login", data={"token": _demo_token(), "csrf_token": _csrf(login.text)}, timeout=10
    )
    if signed.status_code != 200:
        raise SystemExit(f"sign-in failed ({signed.status_code}): {signed.text[:300]}")
    shopify.set_compliance_uri(f"{public}/webhooks/shopify")
    page = browser.post(
        f"{public}/install/shopify", data={"shop": SHOP, "csrf_token": _csrf(signed.text)}, timeout=30
    )
    if page.status_code != 200 or "connected" not in page.text:
        raise SystemExit(f"install failed ({page.status_code}): {page.text[:300]}")
    ck, cs = woo.create_key("read_write")  # WooCommerce > Settings > Advanced > REST API
    args = ["shops", "add-woocommerce", "--url", woo_url, "--key", ck, "--secret", cs, "--account", "demo"]
    result = current_app.test_cli_runner().invoke(args=args)
    if result.exit_code != 0 or "webhooks registered" not in result.output:
        raise SystemExit(f"connecting the WooCommerce store failed: {result.output[:300]}")


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(
    port: int, var_dir: Path = DEMO_DIR, tracking_speed: float = 7200.0, opening_stock: int | None = None
) -> tuple[Demo, str]:
    """Everything but the order stream: platforms, Waybill, both stores installed; (demo, API token)."""
    check_port(port)
    reset_dir(var_dir)
    servers, shopify, woo, easypost = start_platforms(opening_stock)
    app, http, scheduler = start_waybill(port, servers, var_dir)
    stop = threading.Event()
    public = f"http://127.0.0.1:{port}"
    demo = Demo(servers, shopify, woo, easypost, app, http, scheduler, public, stop)
    threading.Thread(
        target=courier, args=(easypost, tracking_speed, stop), name="courier", daemon=True
    ).start()
    with app.app_context():
        install_stores(public, shopify, woo, servers["woocommerce"].url)
        token = _demo_token()
    return demo, token


def figures(demo: Demo, orders: DemoOrders) -> dict[str, Any]:
    """Where the placed orders stand, the lowest stock seen, and the parcels' tracking."""
    from sqlalchemy import select

    from db.models import Order, StockItem

    rt = demo.app.extensions["waybill"]
    wanted = {(p.platform, p.platform_order_id) for p in orders.placed}
    with rt.session() as s:
        rows = [o for o in s.scalars(select(Order)) if (str(o.platform), o.platform_order_id) in wanted]
        stages = Counter(str(o.stage) for o in rows)
        for item in s.scalars(select(StockItem)):
            orders.note_lowest(item.sku, item.on_hand - item.reserved)
            orders.note_lowest(item.sku, item.on_hand)
    for sku, shown in orders.channel_levels().items():
        for value in shown.values():
            orders.note_lowest(sku, value)
    tracking = Counter(str(t.get("status")) for t in demo.easypost.trackers.values())
    placed = len(orders.placed)
    fulfilled = stages.get("fulfilled", 0)
    return {
        "orders_placed": placed,
        "fulfilled": fulfilled,
        "fulfilled_ratio": round(fulfilled / placed, 3) if placed else 0.0,
        "held": stages.get("on_hold", 0),
        "in_flight": sum(n for stage, n in stages.items() if stage in IN_FLIGHT) + placed - len(rows),
        "other": sum(n for stage, n in stages.items() if stage not in IN_FLIGHT | {"fulfilled", "on_hold"}),
        "negative_stock_skus": sum(1 for value in orders.lowest_seen.values() if value < 0),
        "lowest_stock": min(orders.lowest_seen.values(), default=0),
        "restocks": len(orders.restocks),
        "parcels_delivered": tracking.get("delivered", 0),
        "parcels_moving": sum(
            n for status, n in tracking.items() if status in ("in_transit", "out_for_delivery")
        ),
    }


def held_orders(demo: Demo, orders: DemoOrders) -> list[str]:
    """One line per held order: why it waits for a reviewer."""
    from sqlalchemy import select

    from db.models import Order

    wanted = {(p.platform, p.platform_order_id) for p in orders.placed}
    with demo.app.extensions["waybill"].session() as s:
        rows = s.scalars(select(Order).where(Order.stage == "on_hold").order_by(Order.id))
        return [
            f"order {o.id} ({o.platform} {o.number}): {o.hold_reason}"
            for o in rows
            if (str(o.platform), o.platform_order_id) in wanted
        ]


def settle(demo: Demo, orders: DemoOrders, timeout_s: float) -> dict[str, Any]:
    """Wait (up to ``timeout_s``) until no placed order is still on its way to a final stage."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = figures(demo, orders)
        if not found["in_flight"] or time.monotonic() >= deadline:
            return found
        time.sleep(1)


def line(found: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in found.items())


def passed(found: dict[str, Any]) -> bool:
    return float(found["fulfilled_ratio"]) >= MIN_FULFILLED_RATIO and int(found["negative_stock_skus"]) == 0


def report(demo: Demo, orders: DemoOrders, stop: threading.Event, every_s: float = 30) -> None:
    """Print a status line now and then while the demo runs."""
    while not stop.wait(every_s):
        found = figures(demo, orders)
        print(
            f"[demo] {found['orders_placed']} orders: {found['fulfilled']} fulfilled, {found['held']} held, "
            f"{found['in_flight']} in progress; parcels delivered {found['parcels_delivered']}, "
            f"moving {found['parcels_moving']}; restocks {found['restocks']}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--every", type=float, default=3.0, help="seconds between orders (default 3)")
    parser.add_argument("--orders", type=int, default=0, help="stop after this many orders (0: no limit)")
    parser.add_argument("--minutes", type=float, default=0, help="run this long, print the figures and exit")
    parser.add_argument("--check", action="store_true", help="like --minutes 5 (unless --minutes is given)")
    parser.add_argument(
        "--settle", type=float, default=60, help="seconds to wait for orders in flight at the end"
    )
    parser.add_argument(
        "--tracking-speed",
        type=float,
        default=7200.0,
        help="EasyPost clock seconds per second (default 7200)",
    )
    parser.add_argument("--var-dir", type=Path, default=DEMO_DIR, help="the demo's files (wiped at start)")
    args = parser.parse_args(argv)
    if args.every <= 0 or args.minutes < 0 or args.orders < 0 or args.tracking_speed <= 0:
        parser.error("--every and --tracking-speed must be positive; --minutes and --orders not negative")
    minutes = args.minutes or (5.0 if args.check else 0.0)
    demo, token = start(args.port, args.var_dir.resolve(), args.tracking_speed)
    public = demo.public
    env = f"WAYBILL_CONFIG={args.var_dir.resolve() / CLI_CONFIG}"
    orders = DemoOrders(demo.shopify, demo.woo, SHOP, public, token)
    run_for = f"for {minutes:g} minute(s), then the figures" if minutes else "until Ctrl-C"
    print(
        f"""
Waybill demo is running (a clean start: {args.var_dir} was wiped).
  console:     {public}/   (sign in with {token})
  API:         curl -H 'Authorization: Bearer {token}' {public}/api/v1/stores
  orders:      {env} ./waybill orders list
  one order:   {env} ./waybill orders show 1
  approve:     {env} ./waybill orders approve ID --reviewer you --reason "checked"
  stock:       {env} ./waybill stock list
  ping:        {env} ./waybill jobs ping
  metrics:     {public}/metrics
  sandbox:     Shopify {demo.servers["shopify"].url}  WooCommerce {demo.servers["woocommerce"].url}  \
EasyPost {demo.servers["easypost"].url}
Placing an order every {args.every:g}s on alternating storefronts, {run_for}.
About one order in ten is built to be held for review (a wrong city, a missing house number,
a high-value first order with express shipping, a throwaway e-mail); the rest ship.
""",
        flush=True,
    )
    threading.Thread(target=report, args=(demo, orders, demo.stop), name="report", daemon=True).start()
    stream = threading.Event()
    try:
        if minutes:
            timer = threading.Timer(minutes * 60, stream.set)
            timer.daemon = True
            timer.start()
        run_stream(orders, args.every, args.orders, stream)
        if not minutes:
            while not demo.stop.wait(1):  # keep serving until Ctrl-C
                pass
    except KeyboardInterrupt:
        stream.set()
        if not minutes:
            demo.close()
            return 0
    found = settle(demo, orders, args.settle)
    for held in held_orders(demo, orders):
        print(f"held: {held}", flush=True)
    print(line(found), flush=True)
    demo.close()
    return 0 if passed(found) else 1


if __name__ == "__main__":
    sys.exit(main())

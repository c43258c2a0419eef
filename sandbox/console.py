"""Sandbox stores for the console's "Connect a sandbox store" button (sandbox mode only).

``make run`` with ``WAYBILL_SANDBOX=1`` has no platform to connect to. The button asks
this module for a store: it starts (once per process, in-process on loopback) a Shopify
simulator and points the app's Shopify settings at it when none is configured, or starts
a WooCommerce simulator (one per store, as WooCommerce has one site per store), seeds a
small catalog, and hands back where the store lives. The console then connects it
through the real install flow (Shopify OAuth, WooCommerce key exchange) for the
signed-in account, bound to the browser. Production code never imports this module: the
console imports it inside the sandbox route, which refuses outside sandbox mode.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from sandbox.demo_orders import CATALOG
from sandbox.harness import RunningServer, serve
from sandbox.shopify import ShopifySimulator
from sandbox.woocommerce import WooCommerceSimulator

SANDBOX_APP_KEY = "sandbox-app-key"


class SandboxUnavailable(Exception):
    """No sandbox store can be made here (the message says why)."""


@dataclass
class _Running:
    shopify: dict[str, ShopifySimulator] = field(default_factory=dict)  # base URL -> simulator
    servers: list[RunningServer] = field(default_factory=list)
    shops_made: int = 0


_running = _Running()
_lock = threading.Lock()


def adopt_shopify(sim: ShopifySimulator, url: str) -> None:
    """A Shopify simulator already served in this process (tests reuse theirs)."""
    with _lock:
        _running.shopify[url.rstrip("/")] = sim


def _slug(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part)[:30] or "merchant"


def _shopify(rt: Any) -> ShopifySimulator:
    """The Shopify simulator the app's settings point at, started (and pointed at) if no
    Shopify app is configured; a configured app is refused."""
    options = rt.settings.shopify
    base = (options.base_url or "").rstrip("/")
    if base:
        sim = _running.shopify.get(base)
        if sim is None:
            raise SandboxUnavailable(
                f"Shopify's sandbox address ({base}) is a simulator this process does not run; "
                "start Waybill without WAYBILL_SHOPIFY_BASE_URL to let the button start one."
            )
        return sim
    if options.api_key or options.api_secret is not None:
        # A real Shopify app is configured: its shops are never sent to a simulator.
        raise SandboxUnavailable(
            "A Shopify app is configured (SHOPIFY_API_KEY): the sandbox button starts a simulated "
            "Shopify only when none is."
        )
    key, secret = SANDBOX_APP_KEY, secrets.token_urlsafe(24)
    sim = ShopifySimulator(api_key=key, api_secret=secret)
    server = serve(sim)
    server.app.webhooks.start()
    _running.servers.append(server)
    url = server.url.rstrip("/")
    _running.shopify[url] = sim
    # This process's settings now name the simulator, as WAYBILL_SHOPIFY_BASE_URL would.
    options.api_key, options.api_secret, options.base_url = key, SecretStr(secret), url
    return sim


def shopify_shop(rt: Any, account_name: str) -> str:
    """A new shop on the sandbox Shopify, with a few products; its domain."""
    with _lock:
        sim = _shopify(rt)
        _running.shops_made += 1
        domain = f"{_slug(account_name)}-sandbox-{_running.shops_made}-{secrets.token_hex(2)}.myshopify.com"
    sim.set_compliance_uri(f"{rt.settings.public_url}/webhooks/shopify")
    sim.add_shop(domain, name=f"{account_name} (sandbox)")
    for sku, title, price, stock, grams in CATALOG[:6]:
        sim.add_product(domain, title, [{"sku": sku, "price": price, "available": stock, "grams": grams}])
    return domain


def woocommerce_store(rt: Any) -> str:
    """A new sandbox WooCommerce store (its own simulator), with a few products; its URL."""
    # Waybill listens on loopback on a plain-http port: the simulated site delivers there and
    # posts the keys to an http callback (a real store would need https for both).
    sim = WooCommerceSimulator(allow_http_callback=True, allow_unsafe_delivery_urls=True)
    for sku, title, price, stock, _ in CATALOG[:6]:
        sim.add_product(title, sku=sku, price=price, stock=stock)
    server = serve(sim)
    sim.bind(server.url)
    server.app.webhooks.start()
    with _lock:
        _running.servers.append(server)
    return str(server.url).rstrip("/")

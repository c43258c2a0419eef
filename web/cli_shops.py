"""`waybill shops ...`: connect stores by hand and see their health."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from connectors.netguard import UnsafeUrl, check_store_url
from connectors.shopify.oauth import valid_shop_domain
from connectors.woocommerce.webhooks import delivery_url_problem
from core.errors import Retryable
from db.models import Account, Platform, Store
from sync.stores import ensure_webhooks, import_catalog_soon, save_store
from web.cli import rt

shops_cli = AppGroup("shops", help="Connected stores.")


def _connect(
    platform: Platform, domain: str, creds: dict[str, str], scopes: str | None, account: str | None
) -> None:
    try:
        store_id = save_store(rt(), platform, domain, creds, scopes, account_name=account, actor="cli")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"store {store_id} {platform} {domain} connected")
    import_catalog_soon(rt(), store_id)
    try:
        repaired = ensure_webhooks(rt(), store_id, actor="cli")
        click.echo(f"webhooks registered: {', '.join(repaired) or 'all present'}")
    except Retryable as exc:
        click.echo(f"registering webhooks failed: {exc}; the next reconciliation retries", err=True)


@shops_cli.command("add-shopify")
@click.option("--shop", required=True, help="name.myshopify.com")
@click.option("--token", required=True, help="The custom app's Admin API access token.")
@click.option("--account", help="Merchant account (default: named after the shop).")
def add_shopify(shop: str, token: str, account: str | None) -> None:
    """Connect a Shopify shop with a custom-app token."""
    shop = shop.strip().lower()
    if not valid_shop_domain(shop):
        raise click.ClickException("--shop must be a name.myshopify.com domain")
    _connect(Platform.shopify, shop, {"access_token": token}, None, account)


@shops_cli.command("add-woocommerce")
@click.option("--url", required=True, help="The store's home URL (https).")
@click.option("--key", required=True, help="REST API consumer key (ck_...).")
@click.option("--secret", required=True, help="REST API consumer secret (cs_...).")
@click.option("--account", help="Merchant account (default: named after the store).")
def add_woocommerce(url: str, key: str, secret: str, account: str | None) -> None:
    """Connect a WooCommerce store with REST API keys."""
    try:
        url = check_store_url(url, allow_private=rt().settings.sandbox)
    except (UnsafeUrl, ValueError) as exc:  # ValueError: a URL urllib cannot even split (https://[::1)
        raise click.ClickException(f"--url: {exc}") from exc
    _connect(
        Platform.woocommerce, url, {"consumer_key": key, "consumer_secret": secret}, "read_write", account
    )
    problem = delivery_url_problem(rt().settings.public_url)
    if problem:
        click.echo(f"warning: webhooks to {rt().settings.public_url}: {problem}", err=True)


@shops_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_shops(as_json: bool) -> None:
    """Stores, their accounts and the health of their webhooks."""
    with rt().session() as s:
        rows = s.execute(
            select(Store, Account.name).join(Account, Account.id == Store.account_id).order_by(Store.id)
        )
        items: list[dict[str, Any]] = []
        for store, account in rows:
            hooks = (store.settings or {}).get("webhooks") or {}
            items.append(
                {
                    "id": store.id,
                    "account": account,
                    "platform": str(store.platform),
                    "domain": store.domain,
                    "state": str(store.state),
                    "webhooks_ok": hooks.get("ok"),
                    "webhooks_error": hooks.get("error"),
                    "webhooks_checked_at": hooks.get("checked_at"),
                }
            )
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no store connected yet (connect one from the console, or try `make demo`)")
    for i in items:
        health = {
            True: "webhooks ok",
            False: f"webhooks FAILING: {i['webhooks_error']}",
            None: "webhooks unchecked",
        }
        click.echo(
            f"{i['id']:>4}  {i['platform']:<12} {i['domain']:<40} {i['state']:<12} {i['account']:<20} "
            f"{health[i['webhooks_ok']]}"
        )

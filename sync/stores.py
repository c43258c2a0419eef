"""Connecting stores and keeping their webhook subscriptions healthy."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.netguard import AddressPolicy
from core.errors import Retryable
from db.accounts import get_or_create_account
from db.models import Platform, Store, StoreState, utcnow
from db.store_lookup import forget as forget_stores
from db.timeline import record
from sync.jobs import safe_job_id

if TYPE_CHECKING:
    from connectors.shopify.client import ShopifyClient
    from connectors.woocommerce.client import WooClient
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.stores")

SHOPIFY_TOPICS = (
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_CANCELLED",
    "REFUNDS_CREATE",
    "INVENTORY_LEVELS_UPDATE",
    "PRODUCTS_UPDATE",
    "RETURNS_REQUEST",
    "RETURNS_APPROVE",
    "RETURNS_DECLINE",
    "RETURNS_CLOSE",
    "APP_UNINSTALLED",
)
WOO_TOPICS = ("order.created", "order.updated", "order.deleted", "product.updated")


class StoreTaken(ValueError):
    """The store is connected to another account; it never moves between accounts by an install."""


def store_owner(s: Session, platform: Platform, domain: str) -> int | None:
    """The account a store (any state) belongs to, if it is known."""
    owner: int | None = s.scalar(
        select(Store.account_id).where(Store.platform == platform, Store.domain == domain)
    )
    return owner


def save_store(
    rt: Runtime,
    platform: Platform,
    domain: str,
    credentials: dict[str, Any],
    scopes: str | None,
    account_name: str | None = None,
    account_id: int | None = None,
    actor: str = "install",
) -> int:
    """Create or update a store; re-installing keeps its account and history.

    The account is, in order: the store's own (re-install), the given id (a signed-in
    merchant adding a second channel), the named one, or a new one named after the store.
    A store that belongs to another account than the given id or name raises
    :class:`StoreTaken` and changes nothing.
    """
    with rt.session() as s:
        store = s.scalar(select(Store).where(Store.platform == platform, Store.domain == domain))
        if store is None:
            owner = _account(s, account_id, account_name, domain)
            store = Store(account_id=owner, platform=platform, domain=domain)
            s.add(store)
        elif (account_id is not None or account_name) and _account(
            s, account_id, account_name, domain
        ) != store.account_id:
            raise StoreTaken(f"{domain} already belongs to another account")
        store.credentials = rt.vault.encrypt_json(credentials)
        if store.webhook_secret is None:
            store.webhook_secret = rt.vault.encrypt(secrets.token_urlsafe(32))
        store.scopes = scopes
        store.state = StoreState.active
        store.installed_at = utcnow()
        store.uninstalled_at = None
        s.flush()
        record(s, store.account_id, f"store:{store.id}", actor, "store.installed", f"{platform} {domain}")
        store_id = store.id
    forget_stores()
    return store_id


def _account(s: Session, account_id: int | None, name: str | None, domain: str) -> int:
    if account_id is not None:
        return account_id
    return get_or_create_account(s, name or domain).id


def shopify_client(rt: Runtime, store: Store) -> ShopifyClient:
    from connectors.shopify.client import ShopifyClient

    creds = rt.vault.decrypt_json(store.credentials or b"")
    base = rt.settings.shopify.base_url if rt.settings.sandbox else None
    return ShopifyClient(
        store.domain,
        creds["access_token"],
        rt.settings.shopify.api_version,
        base_url=base,
        policy=address_policy(rt),
    )


def woo_client(rt: Runtime, store: Store) -> WooClient:
    from connectors.woocommerce.client import WooClient

    creds = rt.vault.decrypt_json(store.credentials or b"")
    return WooClient(store.domain, creds["consumer_key"], creds["consumer_secret"], policy=address_policy(rt))


def address_policy(rt: Runtime) -> AddressPolicy:
    """Which addresses calls to stores may reach: public ones, and loopback in sandbox mode."""
    return AddressPolicy.for_settings(rt.settings.sandbox)


def import_catalog_soon(rt: Runtime, store_id: int) -> None:
    """A newly connected store's catalog is imported in the background (links SKUs, seeds the ledger)."""
    rt.enqueue("import_catalog", job_id=safe_job_id("import-catalog", store_id), store_id=store_id)


def ensure_webhooks(rt: Runtime, store_id: int, actor: str = "reconcile") -> list[str]:
    """Create the subscriptions the store lacks (or re-enable disabled ones); returns what was repaired.

    The outcome is kept on the store (``settings.webhooks``) for `shops list` and the console.
    """
    with rt.session() as s:
        store = s.get(Store, store_id)
        if store is None or store.state is not StoreState.active:
            return []
        s.expunge(store)
    try:
        if store.platform is Platform.shopify:
            repaired = _ensure_shopify(rt, store)
        else:
            repaired = _ensure_woo(rt, store, _secret(rt, store))
        health: dict[str, Any] = {"ok": True, "checked_at": utcnow().isoformat(), "error": None}
    except Exception as exc:
        repaired, health = (
            [],
            {"ok": False, "checked_at": utcnow().isoformat(), "error": f"{type(exc).__name__}: {exc}"},
        )
        log.warning("store.webhooks_failed", store_id=store_id, error=health["error"])
    with rt.session() as s:
        row = s.get(Store, store_id)
        if row is not None:
            row.settings = {**(row.settings or {}), "webhooks": health}
            if repaired:
                record(
                    s, row.account_id, f"store:{store_id}", actor, "webhooks.repaired", ", ".join(repaired)
                )
            if not health["ok"]:
                record(s, row.account_id, f"store:{store_id}", actor, "webhooks.failed", health["error"])
    if not health["ok"]:
        raise Retryable(str(health["error"]))
    return repaired


def _secret(rt: Runtime, store: Store) -> str:
    return rt.vault.decrypt(store.webhook_secret or b"")


def _ensure_shopify(rt: Runtime, store: Store) -> list[str]:
    client = shopify_client(rt, store)
    uri = f"{rt.settings.public_url}/webhooks/shopify"
    have: set[str] = set()
    after: str | None = None
    while True:
        data = client.execute("webhook_subscriptions", {"first": 100, "after": after})
        page = data["webhookSubscriptions"]
        have |= {n["topic"] for n in page["nodes"] if n["uri"] == uri}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    missing = [t for t in SHOPIFY_TOPICS if t not in have]
    for topic in missing:
        result = client.execute(
            "webhook_subscription_create",
            {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}},
        )["webhookSubscriptionCreate"]
        if result["userErrors"]:
            raise RuntimeError(f"{topic}: {result['userErrors'][0]['message']}")
    return missing


def _ensure_woo(rt: Runtime, store: Store, secret: str) -> list[str]:
    client = woo_client(rt, store)
    url = f"{rt.settings.public_url}/webhooks/woocommerce/{store.id}"
    ours = {w["topic"]: w for w in client.iterate("webhooks") if w.get("delivery_url") == url}
    repaired = []
    for topic in WOO_TOPICS:
        hook = ours.get(topic)
        if hook is None:
            client.post(
                "webhooks",
                {
                    "name": f"Waybill {topic}",
                    "topic": topic,
                    "delivery_url": url,
                    "secret": secret,
                    "status": "active",
                },
            )
            repaired.append(topic)
        elif hook.get("status") != "active":
            client.put(f"webhooks/{hook['id']}", {"status": "active"})
            repaired.append(f"{topic} (re-enabled)")
    return repaired

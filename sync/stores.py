"""Connecting stores (their rows and the account they belong to) and keeping their webhook
subscriptions healthy through the storefront."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Retryable
from db.accounts import get_or_create_account
from db.models import Platform, Store, StoreState, utcnow
from db.store_lookup import forget as forget_stores
from db.timeline import record
from sync.jobs import safe_job_id
from sync.storefronts import storefront

if TYPE_CHECKING:
    from sync.runtime import Runtime

log = structlog.get_logger("waybill.stores")


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
        repaired = storefront(rt, store).ensure_webhooks()
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


def webhook_health(s: Session, account_id: int, store_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per store of the account: when its last webhook arrived (events polled by a
    reconciliation are not webhooks) and how many of its inbound events failed."""
    from sqlalchemy import func

    from connectors.storefront.orders import POLLED_ORDER_TOPIC
    from db.models import InboxEvent, InboxState

    out: dict[int, dict[str, Any]] = {sid: {"last_webhook_at": None, "failed": 0} for sid in store_ids}
    for sid in store_ids:
        out[sid]["last_webhook_at"] = s.scalar(
            select(InboxEvent.received_at)
            .where(InboxEvent.store_id == sid, InboxEvent.topic != POLLED_ORDER_TOPIC)
            .order_by(InboxEvent.received_at.desc())
            .limit(1)
        )
    failed = s.execute(
        select(InboxEvent.store_id, func.count(InboxEvent.id))
        .where(InboxEvent.state == InboxState.failed, InboxEvent.account_id == account_id)
        .group_by(InboxEvent.store_id)
    )
    for owner, count in failed:
        if owner in out:
            out[owner]["failed"] = int(count)
    return out

"""The storefront of a store, for the flows: ``storefront(rt, store)``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from connectors.netguard import AddressPolicy
from connectors.storefront import StoreAccess, Storefront, storefront_for
from db.models import Store
from sync.account_settings import settings_for
from sync.runtime import Runtime


def address_policy(rt: Runtime) -> AddressPolicy:
    """Which addresses calls to stores may reach: public ones, and loopback in sandbox mode."""
    return AddressPolicy.for_settings(rt.settings.sandbox)


def access_for(
    rt: Runtime, store: Store, s: Session | None = None, notify_customer: bool | None = None
) -> StoreAccess:
    """What a connector needs to reach ``store``: its decrypted credentials and the settings
    (the account's read in ``s`` when given, else in a transaction of their own).
    ``notify_customer``: given by a caller whose calls tell no customer anything (stock
    levels), so the account's settings are not read for it."""
    platform = str(store.platform)
    options = getattr(rt.settings, platform, None)
    return StoreAccess(
        store_id=store.id,
        platform=platform,
        domain=store.domain,
        credentials=rt.vault.decrypt_json(store.credentials or b""),
        webhook_secret=rt.vault.decrypt(store.webhook_secret) if store.webhook_secret else None,
        public_url=rt.settings.public_url,
        policy=address_policy(rt),
        base_url=getattr(options, "base_url", None) if rt.settings.sandbox else None,
        api_version=getattr(options, "api_version", None),
        notify_customer=settings_for(rt, store.account_id, s).shipping.notify_customer
        if notify_customer is None
        else notify_customer,
    )


def storefront(
    rt: Runtime, store: Store, s: Session | None = None, notify_customer: bool | None = None
) -> Storefront:
    """The storefront ``store`` is on, ready to call (see ``access_for`` for ``s`` and
    ``notify_customer``)."""
    return storefront_for(access_for(rt, store, s, notify_customer))

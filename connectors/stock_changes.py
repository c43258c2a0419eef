"""Stock levels changed on a channel since a time: the reconciliation's verb for stock.

A level change whose webhook never arrived (Waybill down, a delivery that failed) is
found again by asking the channel what changed since the reconciliation's cursor. The
verb is the storefront's (``Storefront.levels_changed_since``); this module keeps the
older entry points, a client and a platform-named call, on top of the same connector code:

- WooCommerce: ``GET products?modified_after=`` and, per variable product,
  ``products/<id>/variations?modified_after=`` (``date_modified_gmt``, whole seconds,
  strictly after; a sale saves the product too, so sales are listed as well);
- Shopify: ``Location.inventoryLevels(query: "updated_at:>...")`` at the published location.

Callers name what they track (:class:`Listed`, one per catalog link) and get back the
changed levels of those, keyed by the caller's own key; the platform knowledge stays here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.netguard import AddressPolicy
from connectors.shopify.inventory import changed_listings as shopify_changes
from connectors.shopify.storefront_stock import shopify_client
from connectors.storefront.access import StoreAccess
from connectors.storefront.stock import Changed, Listed, oldest_first
from connectors.woocommerce.inventory import changed_listings as woo_changes
from connectors.woocommerce.storefront_stock import woo_client

if TYPE_CHECKING:
    from settings import Settings

__all__ = ["Changed", "Listed", "levels_changed_since", "open_client"]

CHANGES: dict[str, Callable[[Any, datetime, Sequence[Listed]], list[Changed]]] = {
    "shopify": shopify_changes,
    "woocommerce": woo_changes,
}


def open_client(
    settings: Settings, platform: str, domain: str, credentials: Mapping[str, Any], policy: AddressPolicy
) -> Any:
    """The platform's API client for one store."""
    name = str(platform)
    options = getattr(settings, name, None)
    access = StoreAccess(
        store_id=0,
        platform=name,
        domain=domain,
        credentials=credentials,
        policy=policy,
        base_url=getattr(options, "base_url", None) if settings.sandbox else None,
        api_version=getattr(options, "api_version", None),
    )
    return shopify_client(access) if name == "shopify" else woo_client(access)


def levels_changed_since(
    platform: str, client: Any, since: datetime, listed: Sequence[Listed]
) -> list[Changed]:
    """The levels of ``listed`` that changed on the channel after ``since`` (oldest first)."""
    return oldest_first(CHANGES[str(platform)](client, since, listed))

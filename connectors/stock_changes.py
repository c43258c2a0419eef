"""Stock levels changed on a channel since a time: the reconciliation's verb for stock.

A level change whose webhook never arrived (Waybill down, a delivery that failed) is
found again by asking the channel what changed since the reconciliation's cursor:

- WooCommerce: ``GET products?modified_after=`` and, per variable product,
  ``products/<id>/variations?modified_after=`` (``date_modified_gmt``, whole seconds,
  strictly after; a sale saves the product too, so sales are listed as well);
- Shopify: ``Location.inventoryLevels(query: "updated_at:>...")`` at the published location.

Callers name what they track (:class:`Listed`, one per catalog link) and get back the
changed levels of those, keyed by the caller's own key; the platform knowledge stays here.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.netguard import AddressPolicy
from db.models import Platform

if TYPE_CHECKING:
    from settings import Settings


@dataclass(frozen=True)
class Listed:
    """One tracked listing, as a catalog link names it on its channel."""

    key: Hashable
    product_id: int
    variant_id: int | None
    inventory_item_id: int | None
    location_id: int | None


@dataclass(frozen=True)
class Changed:
    """A listing's level as the channel shows it, with the channel's time of that level."""

    key: Hashable
    quantity: int
    at: datetime


def open_client(
    settings: Settings, platform: Platform, domain: str, credentials: Mapping[str, Any], policy: AddressPolicy
) -> Any:
    """The platform's API client for one store."""
    if platform is Platform.shopify:
        from connectors.shopify.client import ShopifyClient

        base = settings.shopify.base_url if settings.sandbox else None
        return ShopifyClient(
            domain, credentials["access_token"], settings.shopify.api_version, base_url=base, policy=policy
        )
    from connectors.woocommerce.client import WooClient

    return WooClient(domain, credentials["consumer_key"], credentials["consumer_secret"], policy=policy)


def levels_changed_since(
    platform: Platform, client: Any, since: datetime, listed: Sequence[Listed]
) -> list[Changed]:
    """The levels of ``listed`` that changed on the channel after ``since`` (oldest first)."""
    out: list[Changed] = []
    if platform is Platform.shopify:
        from connectors.shopify.inventory import levels_changed_since as shopify_changes

        by_item = {(x.inventory_item_id, x.location_id): x.key for x in listed if x.inventory_item_id}
        for location_id in sorted({x.location_id for x in listed if x.location_id is not None}):
            for level in shopify_changes(client, location_id, since):
                key = by_item.get((level.inventory_item_id, level.location_id))
                if key is not None:
                    out.append(Changed(key, level.quantity, level.at))
    else:
        from connectors.woocommerce.inventory import levels_changed_since as woo_changes

        by_id = {(x.product_id, x.variant_id): x.key for x in listed}
        parents = [x.product_id for x in listed if x.variant_id is not None]
        for changed in woo_changes(client, since, parents):
            key = by_id.get((changed.product_id, changed.variation_id))
            if key is not None:
                out.append(Changed(key, changed.quantity, changed.at))
    out.sort(key=lambda c: c.at)
    return out

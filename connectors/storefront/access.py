"""What a storefront needs to reach one store: who it is, its credentials, where Waybill lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.netguard import AddressPolicy


@dataclass(frozen=True)
class StoreAccess:
    """One store as a connector sees it. Built by the flows (``sync/storefronts.py``) from the
    store's row, its decrypted credentials and the settings; never logged (it holds secrets)."""

    store_id: int
    platform: str
    domain: str
    credentials: Mapping[str, str] = field(repr=False)
    webhook_secret: str | None = field(default=None, repr=False)
    public_url: str = ""  # where the store's webhooks reach Waybill
    policy: AddressPolicy | None = None  # which addresses calls may reach (loopback in sandbox)
    base_url: str | None = None  # sandbox only: where simulated shops live
    api_version: str | None = None
    notify_customer: bool = True
    options: Mapping[str, object] = field(default_factory=dict)  # per-platform settings

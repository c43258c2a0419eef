"""One merchant's returns settings: ``returns.merchants[<account name>]`` over the global keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.returns import ReturnPolicy
from db.models import Account
from sync.account_settings import settings_for

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from settings import Settings
    from sync.runtime import Runtime


@dataclass(frozen=True)
class MerchantReturns:
    """What returns do for one merchant (every key resolved).

    ``address``: where return parcels go (``returns.address``, else ``shipping.ship_from``);
    ``label``: ``prepaid`` (Waybill buys the return label) or ``none`` (the customer sends
    the parcel back their own way); ``order_status``: return state -> the store's order status."""

    policy: ReturnPolicy
    address: dict[str, Any]
    label: str = "prepaid"
    order_status: dict[str, str] = field(default_factory=dict)

    @property
    def prepaid(self) -> bool:
        return self.label == "prepaid"


def resolve(rt: Runtime, account_name: str, settings: Settings | None = None) -> MerchantReturns:
    """The settings of the merchant called ``account_name``: its overrides, else the global keys.

    ``settings``: the account's own (``sync.account_settings.settings_for``), whose returns
    already hold the merchant's config.yaml entry and its saved policy."""
    base = settings if settings is not None else rt.settings
    own = base.returns.for_merchant(account_name)
    return MerchantReturns(
        policy=ReturnPolicy.from_settings(own),
        address=dict(own.address) or dict(base.shipping.ship_from),
        label=own.label,
        order_status=dict(own.order_status),
    )


def for_account(rt: Runtime, s: Session, account_id: int) -> MerchantReturns:
    """The account's returns: config.yaml's keys, its ``returns.merchants`` entry, then the
    policy saved on the console's settings page."""
    account = s.get(Account, account_id)
    return resolve(rt, account.name if account is not None else "", settings_for(rt, account_id, s))

"""One merchant's returns settings: ``returns.merchants[<account name>]`` over the global keys."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from core.returns import ReturnPolicy
from db.models import Account

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sync.runtime import Runtime

LABEL_MODES = ("prepaid", "none")


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


def _value(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name, None)


def resolve(rt: Runtime, account_name: str) -> MerchantReturns:
    """The settings of the merchant called ``account_name``: its overrides, else the global keys."""
    base = rt.settings.returns
    own = _value(_value(base, "merchants") or {}, account_name)

    def pick(name: str) -> Any:
        value = _value(own, name)
        return _value(base, name) if value is None else value

    policy = ReturnPolicy.from_settings(
        SimpleNamespace(**{f.name: pick(f.name) for f in fields(ReturnPolicy)})
    )
    address = dict(pick("address") or {}) or dict(rt.settings.shipping.ship_from)
    label = str(pick("label") or "prepaid")
    return MerchantReturns(
        policy=policy, address=address, label=label, order_status=dict(pick("order_status") or {})
    )


def for_account(rt: Runtime, s: Session, account_id: int) -> MerchantReturns:
    account = s.get(Account, account_id)
    return resolve(rt, account.name if account is not None else "")

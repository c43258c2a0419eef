"""One merchant's tracking settings: ``tracking.merchants[<account name>]`` over the global keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.tracking import EXCEPTION_MILESTONES, Milestone
from settings import Settings, TrackingNotices
from sync.account_settings import account_name, settings_for

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sync.runtime import Runtime

# The word a merchant's ``customer_milestones`` uses for every exception milestone.
EXCEPTION_WORD = "exception"


@dataclass(frozen=True)
class MerchantTracking:
    """What tracking does for one merchant (every key resolved)."""

    name: str
    logo_url: str | None
    customer_milestones: frozenset[str]
    order_status: dict[str, str]
    notices: TrackingNotices
    templates: dict[str, dict[str, str]] = field(default_factory=dict)
    branded_page: bool = False

    def tells_customer(self, milestone: Milestone) -> bool:
        """Whether the storefront tells the buyer at this milestone (a customer note)."""
        if milestone.value in self.customer_milestones:
            return True
        return EXCEPTION_WORD in self.customer_milestones and milestone in EXCEPTION_MILESTONES


def resolve(rt: Runtime, account_name: str, settings: Settings | None = None) -> MerchantTracking:
    """The settings of the merchant called ``account_name``: its overrides, else the global keys.

    ``settings``: the account's own (``sync.account_settings.settings_for``), whose tracking
    already holds the merchant's config.yaml entry and the notices saved on the console."""
    base = (settings if settings is not None else rt.settings).tracking
    own = base.merchants.get(account_name)

    def pick(name: str) -> object:
        value = getattr(own, name, None) if own is not None else None
        return getattr(base, name) if value is None else value

    milestones = pick("customer_milestones")
    statuses = pick("order_status")
    notices = pick("notices")
    templates = pick("templates")
    assert isinstance(milestones, list) and isinstance(statuses, dict)
    assert isinstance(notices, TrackingNotices) and isinstance(templates, dict)
    return MerchantTracking(
        name=(own.name if own is not None and own.name else account_name),
        logo_url=own.logo_url if own is not None else None,
        customer_milestones=frozenset(milestones),
        order_status=dict(statuses),
        notices=notices,
        templates={**base.templates, **templates},
        branded_page=bool(pick("branded_page")),
    )


def for_account(rt: Runtime, s: Session, account_id: int) -> MerchantTracking:
    """The account's tracking settings (its name and settings read once per job)."""
    return resolve(rt, account_name(rt, account_id, s), settings_for(rt, account_id, s))

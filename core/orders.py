"""The canonical order: what Waybill knows about an order, whichever platform it came from.

Connectors map platform payloads into these types at the edge; nothing past a mapper
reads a raw payload. ``Order.to_dict`` / ``Order.from_dict`` are the stored JSON form.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from core.addresses import Address
from core.money import Money


class FinancialStatus(StrEnum):
    """Where the buyer's payment stands."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    UNKNOWN = "unknown"


class FulfillmentStatus(StrEnum):
    """How much of the order has shipped."""

    UNFULFILLED = "unfulfilled"
    PARTIAL = "partial"
    FULFILLED = "fulfilled"
    UNKNOWN = "unknown"


def email_key(email: str | None) -> str | None:
    """An e-mail address as Waybill matches it (trimmed, lower-cased); None when there is none."""
    return (email or "").strip().lower() or None


def require_utc(value: datetime, what: str) -> None:
    """Refuse naive or non-UTC times: every canonical time is timezone-aware UTC."""
    if value.tzinfo is None or value.utcoffset() != UTC.utcoffset(None):
        raise ValueError(f"{what} must be timezone-aware UTC, got {value!r}")


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no zone")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class LineItem:
    """One ordered product line. ``grams`` is the weight of one unit, when the platform says."""

    line_id: str
    sku: str | None
    product_id: str | None
    variant_id: str | None
    title: str
    quantity: int
    unit_price: Money
    grams: int | None
    requires_shipping: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "sku": self.sku,
            "product_id": self.product_id,
            "variant_id": self.variant_id,
            "title": self.title,
            "quantity": self.quantity,
            "unit_price": self.unit_price.to_dict(),
            "grams": self.grams,
            "requires_shipping": self.requires_shipping,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LineItem:
        return cls(
            line_id=data["line_id"],
            sku=data["sku"],
            product_id=data["product_id"],
            variant_id=data["variant_id"],
            title=data["title"],
            quantity=int(data["quantity"]),
            unit_price=Money.from_dict(data["unit_price"]),
            grams=data["grams"],
            requires_shipping=bool(data["requires_shipping"]),
        )


@dataclass(frozen=True)
class ShippingMethod:
    """The shipping option the buyer chose at checkout."""

    code: str | None
    title: str
    price: Money

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "price": self.price.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShippingMethod:
        return cls(code=data["code"], title=data["title"], price=Money.from_dict(data["price"]))


_MONEY_FIELDS = ("subtotal", "total", "total_tax", "total_shipping", "total_discounts")
_PLAIN_FIELDS = ("platform", "order_id", "gid", "number", "currency", "email", "customer_id", "browser_ip")
_TEXT_TAIL = ("cancel_reason", "note")


@dataclass(frozen=True)
class Order:
    """A platform order in Waybill's terms.

    ``order_id`` is the platform's exact id as a decimal string; ``cancelled_at`` set
    means the order is cancelled. ``subtotal`` is the line items after discounts,
    before shipping and tax.
    """

    platform: str
    order_id: str
    gid: str | None
    number: str
    currency: str
    email: str | None
    customer_id: str | None
    browser_ip: str | None
    billing_address: Address | None
    shipping_address: Address | None
    line_items: tuple[LineItem, ...]
    subtotal: Money
    total: Money
    total_tax: Money
    total_shipping: Money
    total_discounts: Money
    shipping_method: ShippingMethod | None
    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    cancelled_at: datetime | None
    cancel_reason: str | None
    tags: tuple[str, ...]
    note: str | None
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        require_utc(self.created_at, "created_at")
        require_utc(self.updated_at, "updated_at")
        if self.cancelled_at is not None:
            require_utc(self.cancelled_at, "cancelled_at")

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: amounts as decimal strings, times as ISO 8601 with ``+00:00``."""
        data: dict[str, Any] = {name: getattr(self, name) for name in _PLAIN_FIELDS}
        data["billing_address"] = self.billing_address.to_dict() if self.billing_address else None
        data["shipping_address"] = self.shipping_address.to_dict() if self.shipping_address else None
        data["line_items"] = [item.to_dict() for item in self.line_items]
        data.update({name: getattr(self, name).to_dict() for name in _MONEY_FIELDS})
        data["shipping_method"] = self.shipping_method.to_dict() if self.shipping_method else None
        data["financial_status"] = self.financial_status.value
        data["fulfillment_status"] = self.fulfillment_status.value
        data["cancelled_at"] = format_time(self.cancelled_at) if self.cancelled_at else None
        data.update({name: getattr(self, name) for name in _TEXT_TAIL})
        data["tags"] = list(self.tags)
        data["created_at"] = format_time(self.created_at)
        data["updated_at"] = format_time(self.updated_at)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Order:
        """The order ``to_dict`` produced (raises ``KeyError``/``ValueError`` on anything else)."""
        billing, shipping, method = data["billing_address"], data["shipping_address"], data["shipping_method"]
        plain: dict[str, Any] = {name: data[name] for name in _PLAIN_FIELDS + _TEXT_TAIL}
        amounts: dict[str, Any] = {name: Money.from_dict(data[name]) for name in _MONEY_FIELDS}
        return cls(
            **plain,
            **amounts,
            billing_address=Address.from_dict(billing) if billing is not None else None,
            shipping_address=Address.from_dict(shipping) if shipping is not None else None,
            line_items=tuple(LineItem.from_dict(item) for item in data["line_items"]),
            shipping_method=ShippingMethod.from_dict(method) if method is not None else None,
            financial_status=FinancialStatus(data["financial_status"]),
            fulfillment_status=FulfillmentStatus(data["fulfillment_status"]),
            cancelled_at=parse_time(data["cancelled_at"]) if data["cancelled_at"] else None,
            tags=tuple(data["tags"]),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
        )


_FULFILLMENT_RANK = {
    FulfillmentStatus.UNKNOWN: 0,
    FulfillmentStatus.UNFULFILLED: 1,
    FulfillmentStatus.PARTIAL: 2,
    FulfillmentStatus.FULFILLED: 3,
}
_FINANCIAL_RANK = {
    FinancialStatus.UNKNOWN: 0,
    FinancialStatus.PENDING: 1,
    FinancialStatus.AUTHORIZED: 2,
    FinancialStatus.PARTIALLY_PAID: 3,
    FinancialStatus.PAID: 4,
    FinancialStatus.PARTIALLY_REFUNDED: 5,
    FinancialStatus.REFUNDED: 6,
    FinancialStatus.VOIDED: 6,
}


def progress(order: Order) -> tuple[int, int, int]:
    """How far an order has moved: cancelled, then fulfilment, then payment (each only goes forward)."""
    return (
        int(order.cancelled_at is not None),
        _FULFILLMENT_RANK[order.fulfillment_status],
        _FINANCIAL_RANK[order.financial_status],
    )


@dataclass(frozen=True)
class Version:
    """One version of an order as Waybill came to hold it.

    ``fetched_at`` is when Waybill read it from the platform itself (polling); None
    means the platform pushed it (a webhook body, built at some moment before it
    arrived, unknown to us).
    """

    order: Order
    fetched_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.fetched_at is not None:
            require_utc(self.fetched_at, "fetched_at")


def fingerprint(order: Order) -> str:
    """A digest of the order's whole content: equal digests, equal orders."""
    canonical = json.dumps(order.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_NEVER = datetime.min.replace(tzinfo=UTC)


def _same_second_rank(version: Version) -> tuple[bool, datetime, tuple[int, int, int], str]:
    fetched = version.fetched_at is not None
    return fetched, version.fetched_at or _NEVER, progress(version.order), fingerprint(version.order)


def supersedes(incoming: Version, held: Version) -> bool:
    """Whether ``incoming`` replaces ``held``: the rule that makes deliveries converge.

    Platforms deliver webhooks late, twice and out of order; a later modification time
    wins. Their times have whole seconds, so two different versions can carry the same
    time. Within one second the versions are ranked, so the winner never depends on the
    order they arrive in:

    1. what Waybill read from the platform beats what was pushed to it, and a later
       read beats an earlier one (the platform's answer to a read is what it holds
       then; a webhook body may have been built before the last change of the second);
    2. between pushed versions, the one that has moved further (cancelled, fulfilled,
       paid) wins: an order cancelled in the second it was created stays cancelled;
    3. then the content digest decides, arbitrary but the same everywhere.

    Rule 3 may keep the earlier of two pushed versions, so a second seen with two
    contents is settled by reading the order again (see ``sync.orders``). An identical
    version supersedes only when it was read later (the held one is then known from
    that later read); a duplicate changes nothing.
    """
    a, b = incoming.order.updated_at, held.order.updated_at
    if a != b:
        return a > b
    return _same_second_rank(incoming) > _same_second_rank(held)

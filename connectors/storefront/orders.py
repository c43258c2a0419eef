"""Events and orders in: the order verbs of a storefront (see the package docstring).

A platform's webhook topics become canonical :class:`EventKind` values (the flows dispatch
on kinds, never on topics); its payloads become core types and the small values below.
The payload verbs (:class:`EventReader`) do no I/O and need no credentials: they are static
methods of the storefront's class, reached through ``connectors.storefront.reader_for``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from core.money import Money
from core.orders import Order

if TYPE_CHECKING:
    from connectors.storefront.stock import StockEvent

# The topic of the inbox rows Waybill writes itself for an order version it read from the
# store (reconciliation): the same on every platform, and kind ``order_polled``.
POLLED_ORDER_TOPIC = "reconcile/order"


class EventKind(enum.StrEnum):
    """What an inbound event means, whatever the platform called it."""

    order_changed = "order_changed"  # placed, updated or cancelled: the body is the order
    order_polled = "order_polled"  # an order version Waybill read from the store itself
    order_deleted = "order_deleted"  # deleted (or trashed) on the storefront: taken as cancelled
    stock_level_changed = "stock_level_changed"  # one item's level at one location
    product_changed = "product_changed"  # a product (and the stock it shows) changed
    app_uninstalled = "app_uninstalled"  # the merchant removed Waybill: credentials are void
    customer_data_request = "customer_data_request"  # hand over what is held about a customer
    customer_redact = "customer_redact"  # erase a customer
    shop_redact = "shop_redact"  # erase everything of the store
    tracker_changed = "tracker_changed"  # a carrier's tracker of a parcel moved (carrier Events)
    return_changed = "return_changed"  # a storefront return was requested, approved, declined, closed...


class StoreReturnStatus(enum.StrEnum):
    """Where a return stands on the storefront."""

    requested = "requested"  # the customer asked; the merchant approves or declines
    open = "open"  # approved (or opened by the merchant): the goods may come back
    declined = "declined"
    canceled = "canceled"
    closed = "closed"
    refunded = "refunded"  # a refund made in the store's admin, with no return object


class StoreReturnLine(NamedTuple):
    """One returned line: the order's line id (platform's, exact), units, reason, customer's note."""

    line_id: str
    quantity: int
    reason: str
    note: str


@dataclass(frozen=True)
class StoreReturn:
    """A return as the storefront holds it. ``lines`` may be empty when the event body does not
    list them (Shopify's bodies do not always): ``fetch_return`` reads them from the store.
    ``waybill_key``: the ledger key of Waybill's own write when the return (or refund) carries
    its marker, None when someone else made it."""

    platform_return_id: str
    order_id: str
    status: StoreReturnStatus
    lines: tuple[StoreReturnLine, ...] = ()
    refund_total: Money | None = None
    decline_reason: str | None = None
    waybill_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (money as its string amount and currency), for timelines and tests."""
        return {
            "platform_return_id": self.platform_return_id,
            "order_id": self.order_id,
            "status": str(self.status),
            "lines": [line._asdict() for line in self.lines],
            "refund_total": self.refund_total.to_dict() if self.refund_total is not None else None,
            "decline_reason": self.decline_reason,
            "waybill_key": self.waybill_key,
        }


@dataclass(frozen=True)
class PrivacyRequest:
    """The customer a privacy request names: e-mail (lower-cased), the orders it lists by
    platform id, the platform's id of the request, and the customer as the request describes
    them (``customer``: handed over verbatim in an export)."""

    email: str | None = None
    order_ids: frozenset[str] = frozenset()
    request_id: str | None = None
    name: str | None = None
    phone: str | None = None
    customer: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PolledOrder:
    """One order changed since a cursor: its platform id, when it changed, and the body to feed
    through the inbox (``None``: the read may have cut it, e.g. its lines past a page's
    limit; a partial order must never replace a complete one)."""

    order_id: str
    updated_at: datetime
    body: bytes | None


class EventReader(Protocol):
    """The payload verbs: no I/O, no credentials."""

    @staticmethod
    def kind_of(topic: str) -> EventKind | None:
        """The canonical kind of a platform topic; None for a topic Waybill does not act on."""
        ...

    @staticmethod
    def parse_order(kind: EventKind, body: Mapping[str, Any]) -> Order:
        """The order an ``order_changed`` or ``order_polled`` body holds (``MappingError``)."""
        ...

    @staticmethod
    def deleted_order_id(body: Mapping[str, Any]) -> str | None:
        """The platform id of the order an ``order_deleted`` body names; None when it names none."""
        ...

    @staticmethod
    def privacy_request(kind: EventKind, body: Mapping[str, Any]) -> PrivacyRequest:
        """The customer a ``customer_data_request`` or ``customer_redact`` body names."""
        ...

    @staticmethod
    def read_return(body: Mapping[str, Any]) -> StoreReturn | None:
        """The return a ``return_changed`` body describes; None when it describes none
        (``MappingError`` when it is malformed)."""
        ...

    @staticmethod
    def returns_in_order(body: Mapping[str, Any]) -> tuple[StoreReturn, ...]:
        """The refunds made in the store's admin that an ``order_changed`` body shows (no
        Waybill marker), each as a ``refunded`` return; empty where returns are native."""
        ...

    @staticmethod
    def stock_event(body: Mapping[str, Any]) -> StockEvent | None:
        """The level a stock event's payload reports (None: it reports no managed level)."""
        ...

    @staticmethod
    def orders_named(body: Mapping[str, Any]) -> frozenset[str]:
        """The platform ids of the orders any event body may be about (its own id, an order
        id field); empty when it names none."""
        ...


class OrderVerbs(EventReader, Protocol):
    """Which canonical event a platform topic is, the order a payload holds, orders changed
    since a cursor (paged), and the webhook subscriptions Waybill needs on the store."""

    def orders_since(self, since: datetime) -> Iterator[PolledOrder]:
        """Every order changed after ``since`` (oldest pages first), read page by page."""
        ...

    def order_now(self, order_id: str) -> PolledOrder | None:
        """The order as the store holds it now, read as :meth:`orders_since` reads it (one
        call); None when the store has no such order."""
        ...

    def fetch_return(self, order_id: str, return_ref: str) -> StoreReturn | None:
        """The return ``return_ref`` of the order as the store holds it now, with its lines;
        None when the store has no such return."""
        ...

    def ensure_webhooks(self) -> list[str]:
        """Create the subscriptions the store lacks and re-enable disabled ones; returns what
        was repaired (platform errors as ``core.errors`` types)."""
        ...
